//! Passwords (argon2id) and access tokens (JWT, HS256).

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, SaltString};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use leadline_model::{Id, Role, Timestamp, User};
use serde::{Deserialize, Serialize};

/// Why a password or token operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("hashing a password: {0}")]
    Hash(String),
    #[error("signing a token: {0}")]
    Sign(String),
    #[error("token refused: {0}")]
    Token(String),
    #[error("the JWT secret must be at least {min} bytes, got {got}")]
    WeakSecret { min: usize, got: usize },
}

/// Hashes a password with argon2id (default parameters) and the given 16 salt bytes; returns the PHC
/// string (`$argon2id$v=19$...`).
pub fn hash_password_with_salt(password: &str, salt: &[u8; 16]) -> Result<String, AuthError> {
    let fail = |e: &dyn std::fmt::Display| AuthError::Hash(e.to_string());
    let params = argon2::Params::default();
    let mut out = [0u8; argon2::Params::DEFAULT_OUTPUT_LEN];
    argon2_into(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params.clone(),
        password.as_bytes(),
        salt,
        &mut out,
    )
    .map_err(|e| fail(&e))?;
    let salt = SaltString::encode_b64(salt).map_err(|e| fail(&e))?;
    let phc = PasswordHash {
        algorithm: argon2::Algorithm::Argon2id.ident(),
        version: Some(argon2::Version::V0x13.into()),
        params: argon2::password_hash::ParamsString::try_from(&params).map_err(|e| fail(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(argon2::password_hash::Output::new(&out).map_err(|e| fail(&e))?),
    };
    Ok(phc.to_string())
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
    hash_password_with_salt(password, &salt)
}

/// An argon2id hash (default parameters) of a random password nobody knows, for signing in as an unknown
/// user: verifying against it costs the same as verifying a real user's password, so the answer time does
/// not tell which usernames exist. It never grants access: the caller refuses unknown users whatever the
/// result.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$yuXF0cUvVqXbfO5VSe/IhA$H5YFiag7IhjfVEDRVRrUm8matk5Ap3n75eyAYZDvdwU";

/// Whether `password` matches the PHC string `hash` (any argon2 variant, version and parameters the
/// string names). A malformed hash never matches.
pub fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        argon2::Algorithm::try_from(parsed.algorithm),
        argon2::Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    if argon2_into(algorithm, version, params, password.as_bytes(), salt, &mut out).is_err() {
        return false;
    }
    // `Output`'s equality is constant-time.
    argon2::password_hash::Output::new(&out).is_ok_and(|got| got == expected)
}

/// Argon2's working memory, kept for the next computation instead of being freed: one buffer per
/// permit (see [`ARGON2_PERMITS`]), 19 MiB each with the default parameters. Allocating and freeing
/// those blocks for every sign-in left the memory with the process anyway: once glibc saw the first
/// 19 MiB block freed it raised its mmap threshold, and later blocks came from arenas that never shrank
/// (`leadline-bench soak`: 736 MiB RSS after 200 desks signed in, 76 MiB with a fixed threshold). With
/// the buffers reused the server's memory for hashing is fixed at permits × 19 MiB, whatever the
/// allocator or its environment.
static ARGON2_MEMORY: std::sync::Mutex<Vec<Vec<argon2::Block>>> = std::sync::Mutex::new(Vec::new());

/// Hashes whose parameters ask for more than this many 1 KiB blocks (64 MiB) get memory of their own,
/// freed after: the pool keeps only what the server's own hashes need.
const ARGON2_POOLED_BLOCKS_MAX: usize = 64 * 1024;

/// How many buffers [`ARGON2_MEMORY`] holds now.
pub fn argon2_buffers_kept() -> usize {
    ARGON2_MEMORY.lock().map_or(0, |pool| pool.len())
}

/// One argon2 computation into `out`, on a buffer from [`ARGON2_MEMORY`].
fn argon2_into(
    algorithm: argon2::Algorithm,
    version: argon2::Version,
    params: argon2::Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let blocks = params.block_count();
    let hasher = Argon2::new(algorithm, version, params);
    if blocks > ARGON2_POOLED_BLOCKS_MAX {
        return hasher.hash_password_into(password, salt, out);
    }
    let taken = ARGON2_MEMORY.lock().ok().and_then(|mut pool| pool.pop());
    let mut memory = taken.unwrap_or_default();
    if memory.len() < blocks {
        memory.resize(blocks, argon2::Block::default());
    }
    let result = hasher.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks]);
    if let Ok(mut pool) = ARGON2_MEMORY.lock()
        && pool.len() < argon2_permits()
    {
        pool.push(memory);
    }
    result
}

/// Argon2id runs at most this many at a time in this process (one per core): each takes 19 MiB and a
/// core for tens of milliseconds, so a burst of sign-ins — a showroom's desks signing in at the start of
/// a shift, or a password-guessing flood — used to run one blocking thread each, and the memory of
/// dozens of hashes at once stayed with the process (the allocator keeps it): `leadline-bench soak` saw
/// 200 desks signing in lift the server to 1.2 GB RSS. Waiting for a permit costs no throughput, since
/// the work is CPU-bound.
static ARGON2_PERMITS: LazyLock<tokio::sync::Semaphore> =
    LazyLock::new(|| tokio::sync::Semaphore::new(argon2_permits()));
static ARGON2_RUNNING: AtomicUsize = AtomicUsize::new(0);
static ARGON2_MOST_AT_ONCE: AtomicUsize = AtomicUsize::new(0);

/// How many argon2id computations may run at once (see [`verify_password_gated`]).
pub fn argon2_permits() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The most argon2id computations that ran at once in this process so far.
pub fn argon2_most_at_once() -> usize {
    ARGON2_MOST_AT_ONCE.load(Ordering::SeqCst)
}

/// Runs one argon2id computation on the blocking pool once a permit is free.
async fn gated<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, AuthError> {
    let _permit = ARGON2_PERMITS
        .acquire()
        .await
        .map_err(|e| AuthError::Hash(e.to_string()))?;
    tokio::task::spawn_blocking(move || {
        let now = ARGON2_RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
        ARGON2_MOST_AT_ONCE.fetch_max(now, Ordering::SeqCst);
        let out = work();
        ARGON2_RUNNING.fetch_sub(1, Ordering::SeqCst);
        out
    })
    .await
    .map_err(|e| AuthError::Hash(e.to_string()))
}

/// [`verify_password`] from async code, at most [`argon2_permits`] at once.
pub async fn verify_password_gated(password: String, hash: String) -> Result<bool, AuthError> {
    gated(move || verify_password(&password, &hash)).await
}

/// [`hash_password`] from async code, at most [`argon2_permits`] at once.
pub async fn hash_password_gated(password: String) -> Result<String, AuthError> {
    gated(move || hash_password(&password)).await?
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    /// The device session the token belongs to (hyphenated id). Tokens from `auth/login` and
    /// `auth/refresh` always carry it, and a request whose session is revoked is refused. Tokens minted
    /// in-process without a session ([`TokenKeys::issue`], tests and benchmarks) have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// Refresh tokens live this long unless configured otherwise.
pub const DEFAULT_REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// A new refresh token: 256 random bits, base64url without padding (43 characters).
pub fn new_refresh_token() -> String {
    let mut raw = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut raw);
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, raw)
}

/// What the database keeps of a refresh token: its SHA-256, hex.
pub fn refresh_token_hash(token: &str) -> String {
    use sha2::Digest;
    use std::fmt::Write;
    let digest = sha2::Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Shortest accepted HS256 secret.
pub const MIN_SECRET_LEN: usize = 32;

/// Issues and checks access tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    refresh_ttl: Duration,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("ttl", &self.ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    pub fn new(secret: &[u8], ttl: Duration) -> Result<Self, AuthError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(AuthError::WeakSecret {
                min: MIN_SECRET_LEN,
                got: secret.len(),
            });
        }
        // Pick the RustCrypto backend explicitly, so enabling another backend elsewhere in a build cannot
        // leave jsonwebtoken without a provider. Already installed (e.g. a second server in-process) is fine.
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER,
        );
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
            refresh_ttl: DEFAULT_REFRESH_TTL,
        })
    }

    /// The same keys with another refresh-token lifetime.
    pub fn with_refresh_ttl(mut self, refresh_ttl: Duration) -> Self {
        self.refresh_ttl = refresh_ttl;
        self
    }

    /// How long a refresh token lives (each refresh starts a new period).
    pub fn refresh_ttl(&self) -> Duration {
        self.refresh_ttl
    }

    /// How long an access token lives.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A signed access token for `user`, valid from `now` for the TTL, bound to no session (it cannot be
    /// revoked before it expires): for tests, benchmarks and tools. Sign-in uses [`TokenKeys::issue_for`].
    pub fn issue(&self, user: &User, now: Timestamp) -> Result<String, AuthError> {
        self.sign(user, None, now)
    }

    /// A signed access token for `user` in device session `session_id`, valid from `now` for the TTL.
    pub fn issue_for(&self, user: &User, session_id: Id, now: Timestamp) -> Result<String, AuthError> {
        self.sign(user, Some(session_id), now)
    }

    fn sign(&self, user: &User, session_id: Option<Id>, now: Timestamp) -> Result<String, AuthError> {
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        let claims = Claims {
            sub: user.id.hyphenated().to_string(),
            role: user.role,
            iat: now.timestamp(),
            exp: now.timestamp().saturating_add(ttl),
            sid: session_id.map(|s| s.hyphenated().to_string()),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AuthError::Sign(e.to_string()))
    }

    /// Checks a token's signature, algorithm and expiry; returns the user id it was issued to.
    pub fn verify(&self, token: &str) -> Result<(Id, Claims), AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| AuthError::Token(e.to_string()))?;
        let id = Id::parse_str(&data.claims.sub).map_err(|e| AuthError::Token(e.to_string()))?;
        Ok((id, data.claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            id: leadline_model::new_id(),
            username: "priya".into(),
            name: "Priya Sharma".into(),
            role: Role::Telecaller,
            team: None,
        }
    }

    #[test]
    fn tokens_verify_only_with_their_secret_and_before_expiry() {
        let keys = TokenKeys::new(&[7u8; 32], Duration::from_secs(900)).expect("keys");
        let other = TokenKeys::new(&[8u8; 32], Duration::from_secs(900)).expect("keys");
        let u = user();
        let token = keys.issue(&u, chrono::Utc::now()).expect("issue");
        assert_eq!(keys.verify(&token).expect("valid").0, u.id);
        assert!(other.verify(&token).is_err());
        let old = keys
            .issue(&u, chrono::Utc::now() - chrono::Duration::seconds(3600))
            .expect("issue");
        assert!(keys.verify(&old).is_err());
        assert!(keys.verify("not.a.token").is_err());
        assert!(matches!(
            TokenKeys::new(b"short", Duration::from_secs(1)),
            Err(AuthError::WeakSecret { .. })
        ));
    }

    /// Regression (found by `leadline-bench soak`): 200 desks signing in at once ran one argon2id per
    /// blocking thread, 19 MiB each, and the server kept over 1 GB. Now never more than one per core.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_burst_of_sign_ins_runs_no_more_argon2_at_once_than_cores() {
        let hash = hash_password("correct horse battery").expect("hash");
        let n = 4 * argon2_permits() + 4;
        let checks: Vec<_> = (0..n)
            .map(|i| {
                let password = if i % 2 == 0 {
                    "correct horse battery"
                } else {
                    "wrong horse"
                };
                tokio::spawn(verify_password_gated(password.to_owned(), hash.clone()))
            })
            .collect();
        for (i, check) in checks.into_iter().enumerate() {
            assert_eq!(
                check.await.expect("task").expect("verify"),
                i % 2 == 0,
                "verification {i}"
            );
        }
        let most = argon2_most_at_once();
        assert!(
            (1..=argon2_permits()).contains(&most),
            "{most} argon2id ran at once, the limit is {}",
            argon2_permits()
        );
        let made = hash_password_gated("another password".to_owned())
            .await
            .expect("hash");
        assert!(verify_password("another password", &made));
        // The working memory stays for the next burst: at most one buffer per permit, never one per
        // sign-in.
        let kept = argon2_buffers_kept();
        assert!(
            (1..=argon2_permits()).contains(&kept),
            "{kept} argon2 buffers kept, the limit is {}",
            argon2_permits()
        );
    }

    #[test]
    fn passwords_verify() {
        let hash = hash_password_with_salt("leadline-demo", &[1u8; 16]).expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("leadline-demo", &hash));
        assert!(!verify_password("leadline-demo ", &hash));
        assert!(!verify_password("leadline-demo", "not a hash"));
    }

    /// The hashes made on pooled memory are the argon2 crate's own, byte for byte, and hashes with other
    /// parameters (an older server's, another tool's) still verify.
    #[test]
    fn pooled_hashing_matches_the_argon2_crate_and_reads_other_parameters() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let salt = [7u8; 16];
        let ours = hash_password_with_salt("shift starts at ten", &salt).expect("hash");
        let salt_string = SaltString::encode_b64(&salt).expect("salt");
        let theirs = Argon2::default()
            .hash_password(b"shift starts at ten", &salt_string)
            .expect("crate hash")
            .to_string();
        assert_eq!(ours, theirs);
        let parsed = PasswordHash::new(&ours).expect("phc");
        assert!(
            Argon2::default()
                .verify_password(b"shift starts at ten", &parsed)
                .is_ok()
        );

        for (algorithm, m, t, p) in [
            (argon2::Algorithm::Argon2id, 8 * 1024, 1, 2),
            (argon2::Algorithm::Argon2i, 4 * 1024, 3, 1),
            (argon2::Algorithm::Argon2d, 20 * 1024, 2, 1),
        ] {
            let params = argon2::Params::new(m, t, p, Some(24)).expect("params");
            let other = Argon2::new(algorithm, argon2::Version::V0x13, params)
                .hash_password(b"older server", &salt_string)
                .expect("crate hash")
                .to_string();
            assert!(verify_password("older server", &other), "{other}");
            assert!(!verify_password("older server!", &other), "{other}");
        }
        // Version 0x10 hashes (argon2 1.0) and ones without a version field.
        let v10 = Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x10,
            argon2::Params::default(),
        )
        .hash_password(b"old version", &salt_string)
        .expect("crate hash")
        .to_string();
        assert!(v10.contains("$v=16$"), "{v10}");
        assert!(verify_password("old version", &v10));
        assert!(!verify_password("old version", &v10.replace("$v=16$", "$v=19$")));
        // Damaged strings never match and never panic.
        for bad in [
            ours.replace("$argon2id$", "$scrypt$"),
            ours.replace("m=19456", "m=0"),
            ours.replace("$v=19$", "$v=99$"),
            ours[..ours.rfind('$').expect("hash part")].to_owned(),
            format!("{ours}AA"),
            String::new(),
        ] {
            assert!(!verify_password("shift starts at ten", &bad), "{bad}");
        }
        assert!(argon2_buffers_kept() <= argon2_permits());
    }

    #[test]
    fn dummy_hash_costs_what_a_real_hash_costs() {
        let real = hash_password_with_salt("x", &[2u8; 16]).expect("hash");
        let params = |h: &str| {
            let parsed = PasswordHash::new(h).expect("phc");
            (
                parsed.algorithm.to_string(),
                parsed.version,
                parsed.params.to_string(),
            )
        };
        assert_eq!(params(DUMMY_HASH), params(&real));
    }
}
