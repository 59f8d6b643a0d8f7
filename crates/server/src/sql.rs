//! One small SQL layer over the server's two databases: SQLite (rusqlite) and PostgreSQL (the `postgres`
//! client).
//!
//! Storage code ([`crate::db`]) is written once against [`Conn`]: statements use PostgreSQL's `$1, $2, …`
//! placeholders (rewritten to SQLite's `?1, ?2, …` on the way in) and a portable subset of SQL that both
//! databases run the same way (`ON CONFLICT`, `RETURNING`, row values, `CAST(… AS BIGINT)` around sums).
//! Parameters are [`Value`]s and rows come back as [`Row`]s of values, so no code outside this module sees
//! either driver. Ids and timestamps are text in both databases (see `db::ts`), integers are 64-bit, and
//! flags are integers 0/1, so every value has one form in both.
//!
//! Everything here is synchronous: a transaction runs start to finish on one blocking thread (see
//! `db::Repo::read` and `db::Repo::write`), which keeps transactions plain Rust code on both backends.

use std::collections::HashMap;
use std::error::Error as StdError;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql as PgToSql, Type, to_sql_checked};
use rusqlite::types::{ToSqlOutput, ValueRef};

/// Which database a connection talks to, for the few statements that must differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What went wrong below the storage code.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {}", pg_message(.0))]
    Postgres(#[from] postgres::Error),
    #[error("column {index}: expected {expected}, found {found}")]
    Type {
        index: usize,
        expected: &'static str,
        found: &'static str,
    },
    #[error("column {index} out of range (the row has {len})")]
    Column { index: usize, len: usize },
    #[error("PostgreSQL column type {0} is not supported")]
    UnsupportedType(String),
    #[error("the query returned no row")]
    NoRow,
    #[error("database task failed: {0}")]
    Task(String),
}

impl SqlError {
    /// True when the statement broke a uniqueness constraint (a duplicate key).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            SqlError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            SqlError::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }

    /// True when the database was busy or the transaction lost a serialization race: worth retrying.
    pub fn is_retryable(&self) -> bool {
        match self {
            SqlError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            SqlError::Postgres(e) => {
                e.code() == Some(&postgres::error::SqlState::T_R_SERIALIZATION_FAILURE)
                    || e.code() == Some(&postgres::error::SqlState::T_R_DEADLOCK_DETECTED)
            }
            _ => false,
        }
    }
}

/// A PostgreSQL error with the server's message and code (the client's own Display says only "db error").
pub fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({}): {}", db.severity(), db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// A parameter or column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "integer",
            Value::Real(_) => "real",
            Value::Text(_) => "text",
            Value::Blob(_) => "blob",
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(v.into())
    }
}
impl From<u8> for Value {
    fn from(v: u8) -> Self {
        Value::Int(v.into())
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Builds a `Vec<Value>` of statement parameters: `params![id, name, 3]`.
#[macro_export]
macro_rules! params {
    () => { ::std::vec::Vec::<$crate::sql::Value>::new() };
    ($($v:expr),+ $(,)?) => { ::std::vec![$($crate::sql::Value::from($v)),+] };
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Value::Real(v) => ToSqlOutput::Borrowed(ValueRef::Real(*v)),
            Value::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Value::Blob(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
        })
    }
}

/// Binds a value as whatever type PostgreSQL inferred for the parameter, so the same `Value::Int` fills
/// a BIGINT, INTEGER, SMALLINT or BOOLEAN column, and text fills TEXT or VARCHAR.
impl PgToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                Type::FLOAT8 => (*v as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => v.to_string().to_sql(ty, out),
                _ => Err(format!("cannot bind an integer to a {ty} parameter").into()),
            },
            Value::Real(v) => match *ty {
                Type::FLOAT8 => v.to_sql(ty, out),
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                _ => Err(format!("cannot bind a real to a {ty} parameter").into()),
            },
            Value::Text(v) => v.as_str().to_sql(ty, out),
            Value::Blob(v) => v.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(Vec<Value>);

impl Row {
    pub fn new(values: Vec<Value>) -> Self {
        Row(values)
    }

    /// The value of column `index` (0-based), converted.
    pub fn get<T: FromValue>(&self, index: usize) -> Result<T, SqlError> {
        let value = self.0.get(index).ok_or(SqlError::Column {
            index,
            len: self.0.len(),
        })?;
        T::from_value(value).ok_or(SqlError::Type {
            index,
            expected: T::EXPECTED,
            found: value.kind(),
        })
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_values(self) -> Vec<Value> {
        self.0
    }
}

/// A Rust type a column converts to.
pub trait FromValue: Sized {
    const EXPECTED: &'static str;
    fn from_value(value: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    const EXPECTED: &'static str = "integer";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(v) => Some(*v),
            _ => None,
        }
    }
}
impl FromValue for u32 {
    const EXPECTED: &'static str = "integer in 0..2^32";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(v) => u32::try_from(*v).ok(),
            _ => None,
        }
    }
}
impl FromValue for bool {
    const EXPECTED: &'static str = "integer flag";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(v) => Some(*v != 0),
            _ => None,
        }
    }
}
impl FromValue for f64 {
    const EXPECTED: &'static str = "number";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Real(v) => Some(*v),
            Value::Int(v) => Some(*v as f64),
            _ => None,
        }
    }
}
impl FromValue for String {
    const EXPECTED: &'static str = "text";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Text(v) => Some(v.clone()),
            _ => None,
        }
    }
}
impl FromValue for Vec<u8> {
    const EXPECTED: &'static str = "blob";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Blob(v) => Some(v.clone()),
            _ => None,
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// A connection inside a transaction: what storage code runs statements on.
pub trait Conn {
    fn backend(&self) -> Backend;

    /// Runs a statement; returns the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError>;

    /// Runs a query and calls `each` with every row, in order, without collecting them.
    fn query_each(
        &mut self,
        sql: &str,
        params: &[Value],
        each: &mut dyn FnMut(Row) -> Result<(), SqlError>,
    ) -> Result<(), SqlError>;

    /// Runs several `;`-separated statements without parameters (schema scripts, wipes).
    fn batch(&mut self, sql: &str) -> Result<(), SqlError>;
}

impl dyn Conn + '_ {
    /// All rows of a query.
    pub fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        let mut rows = Vec::new();
        self.query_each(sql, params, &mut |row| {
            rows.push(row);
            Ok(())
        })?;
        Ok(rows)
    }

    /// The first row of a query, if any.
    pub fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, SqlError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The first row of a query; [`SqlError::NoRow`] when there is none.
    pub fn query_one(&mut self, sql: &str, params: &[Value]) -> Result<Row, SqlError> {
        self.query_opt(sql, params)?.ok_or(SqlError::NoRow)
    }

    /// The first column of the first row, converted.
    pub fn query_scalar<T: FromValue>(&mut self, sql: &str, params: &[Value]) -> Result<T, SqlError> {
        self.query_one(sql, params)?.get(0)
    }
}

/// Rewrites PostgreSQL placeholders `$N` to SQLite's `?N`, leaving string literals and quoted identifiers
/// alone.
pub fn to_sqlite_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(ch) = chars.next() {
        match quote {
            Some(q) => {
                out.push(ch);
                if ch == q {
                    quote = None;
                }
            }
            None => match ch {
                '\'' | '"' => {
                    quote = Some(ch);
                    out.push(ch);
                }
                '$' if chars.peek().is_some_and(char::is_ascii_digit) => out.push('?'),
                _ => out.push(ch),
            },
        }
    }
    out
}

/// A SQLite connection (or transaction, which derefs to one).
pub struct SqliteConn<'a>(pub &'a rusqlite::Connection);

fn sqlite_value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

impl Conn for SqliteConn<'_> {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        let mut stmt = self.0.prepare_cached(&to_sqlite_placeholders(sql))?;
        let n = stmt.execute(rusqlite::params_from_iter(params.iter()))?;
        Ok(n as u64)
    }

    fn query_each(
        &mut self,
        sql: &str,
        params: &[Value],
        each: &mut dyn FnMut(Row) -> Result<(), SqlError>,
    ) -> Result<(), SqlError> {
        let mut stmt = self.0.prepare_cached(&to_sqlite_placeholders(sql))?;
        let ncols = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(ncols);
            for i in 0..ncols {
                values.push(sqlite_value(row.get_ref(i)?));
            }
            each(Row(values))?;
        }
        Ok(())
    }

    fn batch(&mut self, sql: &str) -> Result<(), SqlError> {
        Ok(self.0.execute_batch(sql)?)
    }
}

/// A pooled PostgreSQL client with its prepared statements.
pub struct PgClient {
    /// Always `Some` until dropped.
    client: Option<postgres::Client>,
    statements: HashMap<String, postgres::Statement>,
}

/// `postgres::Client` blocks on its own runtime when dropped (to close the connection), which panics on
/// a thread that drives async tasks — where a pool drops its idle clients. So the close happens on a
/// thread of its own.
impl Drop for PgClient {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let spawned = std::thread::Builder::new()
                .name("pg-close".to_owned())
                .spawn(move || drop(client));
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "could not close a PostgreSQL connection cleanly");
            }
        }
    }
}

impl PgClient {
    pub fn new(client: postgres::Client) -> Self {
        Self {
            client: Some(client),
            statements: HashMap::new(),
        }
    }

    /// The connection.
    pub fn client(&mut self) -> Result<&mut postgres::Client, SqlError> {
        self.client
            .as_mut()
            .ok_or(SqlError::Task("connection already closed".to_owned()))
    }

    pub fn is_closed(&self) -> bool {
        self.client.as_ref().is_none_or(postgres::Client::is_closed)
    }

    /// Starts a transaction: `read_only` ones are REPEATABLE READ (one snapshot for all their queries).
    pub fn transaction(&mut self, read_only: bool) -> Result<PgTx<'_>, SqlError> {
        let client = self
            .client
            .as_mut()
            .ok_or(SqlError::Task("connection already closed".to_owned()))?;
        let mut builder = client.build_transaction();
        if read_only {
            builder = builder
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true);
        }
        let tx = builder.start()?;
        Ok(PgTx {
            tx,
            statements: &mut self.statements,
        })
    }
}

/// A PostgreSQL transaction.
pub struct PgTx<'a> {
    tx: postgres::Transaction<'a>,
    statements: &'a mut HashMap<String, postgres::Statement>,
}

impl PgTx<'_> {
    pub fn commit(self) -> Result<(), SqlError> {
        Ok(self.tx.commit()?)
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, SqlError> {
        if let Some(stmt) = self.statements.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = self.tx.prepare(sql)?;
        // A bound on the cache: dynamic filter combinations must not grow it without limit.
        if self.statements.len() >= 512 {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }
}

fn pg_value(row: &postgres::Row, i: usize) -> Result<Value, SqlError> {
    let ty = row.columns()[i].type_().clone();
    Ok(match ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map_or(Value::Null, Value::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)?
            .map_or(Value::Null, |v| Value::Int(v.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)?
            .map_or(Value::Null, |v| Value::Int(v.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)?
            .map_or(Value::Null, |v| Value::Int(v.into())),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map_or(Value::Null, Value::Real),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(i)?
            .map_or(Value::Null, |v| Value::Real(v.into())),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => row
            .try_get::<_, Option<String>>(i)?
            .map_or(Value::Null, Value::Text),
        Type::BYTEA => row
            .try_get::<_, Option<Vec<u8>>>(i)?
            .map_or(Value::Null, Value::Blob),
        other => return Err(SqlError::UnsupportedType(other.to_string())),
    })
}

fn pg_params(params: &[Value]) -> Vec<&(dyn PgToSql + Sync)> {
    params.iter().map(|v| v as &(dyn PgToSql + Sync)).collect()
}

impl Conn for PgTx<'_> {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        let stmt = self.statement(sql)?;
        Ok(self.tx.execute(&stmt, &pg_params(params))?)
    }

    fn query_each(
        &mut self,
        sql: &str,
        params: &[Value],
        each: &mut dyn FnMut(Row) -> Result<(), SqlError>,
    ) -> Result<(), SqlError> {
        let stmt = self.statement(sql)?;
        let mut rows = self.tx.query_raw(&stmt, params.iter())?;
        while let Some(row) = postgres::fallible_iterator::FallibleIterator::next(&mut rows)? {
            let mut values = Vec::with_capacity(row.len());
            for i in 0..row.len() {
                values.push(pg_value(&row, i)?);
            }
            each(Row(values))?;
        }
        Ok(())
    }

    fn batch(&mut self, sql: &str) -> Result<(), SqlError> {
        Ok(self.tx.batch_execute(sql)?)
    }
}

/// Creates and checks pooled PostgreSQL clients. `postgres::Client` is synchronous (it runs its own small
/// runtime), so connecting happens on the blocking pool.
pub struct PgManager {
    pub config: postgres::Config,
}

impl std::fmt::Debug for PgManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgManager")
            .field("hosts", &self.config.get_hosts())
            .field("dbname", &self.config.get_dbname())
            .finish_non_exhaustive()
    }
}

impl deadpool::managed::Manager for PgManager {
    type Type = PgClient;
    type Error = SqlError;

    async fn create(&self) -> Result<PgClient, SqlError> {
        let config = self.config.clone();
        let client = tokio::task::spawn_blocking(move || config.connect(postgres::NoTls))
            .await
            .map_err(|e| SqlError::Task(e.to_string()))??;
        Ok(PgClient::new(client))
    }

    async fn recycle(
        &self,
        client: &mut PgClient,
        _: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<SqlError> {
        if client.is_closed() {
            return Err(deadpool::managed::RecycleError::message("connection closed"));
        }
        Ok(())
    }
}

/// The pool of PostgreSQL clients.
pub type PgPool = deadpool::managed::Pool<PgManager>;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rewritten_outside_quotes() {
        assert_eq!(
            to_sqlite_placeholders("SELECT '$1', \"$2\" FROM t WHERE a = $1 AND b = $12"),
            "SELECT '$1', \"$2\" FROM t WHERE a = ?1 AND b = ?12"
        );
        assert_eq!(to_sqlite_placeholders("SELECT $ FROM t"), "SELECT $ FROM t");
    }

    #[test]
    fn sqlite_roundtrip_and_typed_errors() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let mut c = SqliteConn(&conn);
        let c: &mut dyn Conn = &mut c;
        c.batch("CREATE TABLE t (a INTEGER, b TEXT, c REAL, d BLOB)")
            .unwrap();
        assert_eq!(
            c.execute(
                "INSERT INTO t VALUES ($1, $2, $3, $4)",
                &params![7i64, "x", 1.5f64, vec![1u8, 2]]
            )
            .unwrap(),
            1
        );
        c.execute(
            "INSERT INTO t VALUES ($2, $1, NULL, NULL)",
            &params![Option::<String>::None, 8i64],
        )
        .unwrap();
        let rows = c.query("SELECT a, b, c, d FROM t ORDER BY a", &[]).unwrap();
        assert_eq!(rows[0].get::<i64>(0).unwrap(), 7);
        assert_eq!(rows[0].get::<String>(1).unwrap(), "x");
        assert_eq!(rows[0].get::<f64>(2).unwrap(), 1.5);
        assert_eq!(rows[0].get::<Vec<u8>>(3).unwrap(), vec![1, 2]);
        assert_eq!(rows[1].get::<i64>(0).unwrap(), 8);
        assert_eq!(rows[1].get::<Option<String>>(1).unwrap(), None);
        assert!(matches!(
            rows[0].get::<i64>(1),
            Err(SqlError::Type { index: 1, .. })
        ));
        assert!(matches!(
            rows[0].get::<i64>(9),
            Err(SqlError::Column { index: 9, len: 4 })
        ));
        assert_eq!(c.query_scalar::<i64>("SELECT count(*) FROM t", &[]).unwrap(), 2);
        assert!(matches!(
            c.query_one("SELECT a FROM t WHERE a = 99", &[]),
            Err(SqlError::NoRow)
        ));
    }

    #[test]
    fn unique_violations_are_recognised() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let mut c = SqliteConn(&conn);
        let c: &mut dyn Conn = &mut c;
        c.batch("CREATE TABLE t (a TEXT PRIMARY KEY)").unwrap();
        c.execute("INSERT INTO t VALUES ($1)", &params!["k"]).unwrap();
        let err = c.execute("INSERT INTO t VALUES ($1)", &params!["k"]).unwrap_err();
        assert!(err.is_unique_violation(), "{err}");
    }
}
