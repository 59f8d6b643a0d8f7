//! Opaque keyset cursors: the last row's sort keys and id, and a fingerprint of the query that made them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::types::Value;
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// Where a page ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PageCursor {
    /// [`fingerprint`] of the filters and order: a cursor only continues the list it came from.
    pub(crate) fingerprint: u64,
    /// Which part of a multi-part order (a queue tier, the NULL keys of a nullable order).
    pub(crate) phase: u32,
    /// The last row's sort keys, before its id.
    pub(crate) keys: Vec<Value>,
    pub(crate) id: String,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    f: String,
    p: u32,
    k: Vec<serde_json::Value>,
    i: String,
}

impl PageCursor {
    pub(crate) fn encode(&self) -> Result<String, StoreError> {
        let k = self
            .keys
            .iter()
            .map(|v| match v {
                Value::Null => Ok(serde_json::Value::Null),
                Value::Integer(i) => Ok((*i).into()),
                Value::Real(r) => Ok((*r).into()),
                Value::Text(t) => Ok(t.clone().into()),
                Value::Blob(_) => Err(StoreError::Invalid("a sort key is a blob".into())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let wire = Wire {
            f: format!("{:016x}", self.fingerprint),
            p: self.phase,
            k,
            i: self.id.clone(),
        };
        Ok(URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wire)?))
    }

    /// Reads a cursor made by [`PageCursor::encode`] for the query with `fingerprint`.
    pub(crate) fn decode(text: &str, fingerprint: u64) -> Result<Self, StoreError> {
        let damaged = || StoreError::BadCursor("it is damaged".into());
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| damaged())?;
        let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| damaged())?;
        if u64::from_str_radix(&wire.f, 16).map_err(|_| damaged())? != fingerprint {
            return Err(StoreError::BadCursor(
                "it belongs to another list: the filters or the order changed".into(),
            ));
        }
        let keys = wire
            .k
            .into_iter()
            .map(|v| match v {
                serde_json::Value::Null => Ok(Value::Null),
                serde_json::Value::String(s) => Ok(Value::Text(s)),
                serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                    (Some(i), _) => Ok(Value::Integer(i)),
                    (None, Some(f)) => Ok(Value::Real(f)),
                    _ => Err(damaged()),
                },
                _ => Err(damaged()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            fingerprint,
            phase: wire.p,
            keys,
            id: wire.i,
        })
    }
}

/// A stable 64-bit hash (FNV-1a) of a query's JSON form.
pub(crate) fn fingerprint(query: &impl Serialize) -> Result<u64, StoreError> {
    let bytes = serde_json::to_vec(query)?;
    Ok(bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_another_query_or_damage() {
        let c = PageCursor {
            fingerprint: 42,
            phase: 1,
            keys: vec![
                Value::Integer(3),
                Value::Text("2026-11-25T00:00:00.000000Z".into()),
                Value::Null,
            ],
            id: "x".into(),
        };
        let text = c.encode().expect("encode");
        assert_eq!(PageCursor::decode(&text, 42).expect("decode"), c);
        assert!(matches!(
            PageCursor::decode(&text, 43),
            Err(StoreError::BadCursor(_))
        ));
        assert!(matches!(
            PageCursor::decode("%%%", 42),
            Err(StoreError::BadCursor(_))
        ));
        assert!(matches!(
            PageCursor::decode("e30", 42),
            Err(StoreError::BadCursor(_))
        ));
    }

    #[test]
    fn fingerprints_differ_by_query() {
        let a = fingerprint(&("a", 1)).expect("hash");
        assert_eq!(a, fingerprint(&("a", 1)).expect("hash"));
        assert_ne!(a, fingerprint(&("a", 2)).expect("hash"));
    }
}
