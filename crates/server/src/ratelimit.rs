//! Rate limiting: per signed-in user (quota by role), per peer IP for requests without a valid token, and a
//! stricter limit on `POST /api/v1/auth/login` keyed by peer IP *and* by username, against password
//! guessing. Over a limit the answer is `429` with `Retry-After` (whole seconds, at least 1) and an
//! `ApiError` body `{"code": "rate_limited", ...}`. `/healthz` is never limited.
//!
//! The limiters are GCRA buckets (`governor`, keyed, in memory, per server process): a [`Limit`] allows a
//! burst of `burst` requests and refills one request every `period`. Idle keys are dropped by
//! [`RateLimiter::retain_recent`], which [`spawn_sweeper`] runs every minute while the server serves, so
//! memory stays bounded by the keys active in the last few periods.
//!
//! The middleware verifies a bearer token once (HMAC, no database read) to find the user id and role, and
//! leaves the verified [`Claims`] in the request's extensions for handlers that want them. A token that
//! does not verify is treated as no token (limited by IP); the handler then refuses it as usual.
//!
//! The client IP is the TCP peer (`ConnectInfo<SocketAddr>`), unless the peer is a configured trusted
//! proxy (`LEADLINE_TRUSTED_PROXIES`, e.g. `127.0.0.1/32,10.0.0.0/8`): then it is the right-most address
//! of `X-Forwarded-For` that is not itself a trusted proxy ([`client_ip`]). A client can prepend anything
//! to that header, which is why only addresses appended by trusted proxies count; from an untrusted peer
//! the header is ignored.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use leadline_model::auth::ApiError;
use leadline_model::{Id, Role};

use crate::AppState;
use crate::auth::Claims;

/// The path of the sign-in endpoint, which has its own limits.
pub const LOGIN_PATH: &str = "/api/v1/auth/login";
/// Paths never limited.
pub const UNLIMITED_PATHS: &[&str] = &["/healthz"];
/// Largest sign-in body read by the limiter (to find the username); larger bodies get `413`.
pub const MAX_LOGIN_BODY: usize = 64 * 1024;
/// How often idle limiter keys are dropped.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// One quota: up to `burst` requests at once, refilled at one request per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub burst: u32,
    pub period: Duration,
}

impl Limit {
    /// `per_second` requests a second sustained, bursts of `burst`.
    pub fn per_second(per_second: u32, burst: u32) -> Self {
        Self {
            burst,
            period: Duration::from_secs(1) / per_second.max(1),
        }
    }

    /// `per_minute` requests a minute sustained, bursts of `burst`.
    pub fn per_minute(per_minute: u32, burst: u32) -> Self {
        Self {
            burst,
            period: Duration::from_secs(60) / per_minute.max(1),
        }
    }

    fn quota(self) -> Quota {
        let burst = NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN);
        // A zero period would be an unlimited quota; refill at least once a nanosecond instead.
        Quota::with_period(self.period.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst)
    }
}

/// All the limits of a server. [`RateLimits::default`] are the production numbers (see the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Per telecaller (by user id): the desktop's sync traffic plus the UI.
    pub telecaller: Limit,
    /// Per supervisor: dashboards, analytics, bulk assignment.
    pub supervisor: Limit,
    /// Per admin: user management, imports.
    pub admin: Limit,
    /// Per peer IP, requests without a valid token (sign-in excepted; webhooks, refresh, 401s).
    pub anonymous_per_ip: Limit,
    /// `POST /api/v1/auth/login` per peer IP, whatever the username.
    pub login_per_ip: Limit,
    /// `POST /api/v1/auth/login` per username (trimmed, lower-cased), whatever the IP.
    pub login_per_username: Limit,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            telecaller: Limit::per_second(20, 300),
            supervisor: Limit::per_second(50, 600),
            admin: Limit::per_second(50, 600),
            anonymous_per_ip: Limit::per_second(20, 100),
            login_per_ip: Limit::per_minute(30, 30),
            login_per_username: Limit::per_minute(5, 10),
        }
    }
}

/// The keyed limiters of one server.
pub struct RateLimiter {
    limits: RateLimits,
    telecaller: DefaultKeyedRateLimiter<Id>,
    supervisor: DefaultKeyedRateLimiter<Id>,
    admin: DefaultKeyedRateLimiter<Id>,
    anonymous: DefaultKeyedRateLimiter<IpAddr>,
    login_ip: DefaultKeyedRateLimiter<IpAddr>,
    login_username: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    trusted_proxies: Vec<ipnet::IpNet>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limits", &self.limits)
            .field("tracked_keys", &self.tracked_keys())
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            telecaller: DefaultKeyedRateLimiter::keyed(limits.telecaller.quota()),
            supervisor: DefaultKeyedRateLimiter::keyed(limits.supervisor.quota()),
            admin: DefaultKeyedRateLimiter::keyed(limits.admin.quota()),
            anonymous: DefaultKeyedRateLimiter::keyed(limits.anonymous_per_ip.quota()),
            login_ip: DefaultKeyedRateLimiter::keyed(limits.login_per_ip.quota()),
            login_username: DefaultKeyedRateLimiter::keyed(limits.login_per_username.quota()),
            clock: DefaultClock::default(),
            trusted_proxies: Vec::new(),
        }
    }

    pub fn limits(&self) -> &RateLimits {
        &self.limits
    }

    /// The same limiter, taking client addresses from `X-Forwarded-For` when the peer is one of these
    /// proxies.
    pub fn with_trusted_proxies(mut self, proxies: Vec<ipnet::IpNet>) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    pub fn trusted_proxies(&self) -> &[ipnet::IpNet] {
        &self.trusted_proxies
    }

    /// Drops the state of keys whose buckets are full again (idle long enough to be forgotten).
    pub fn retain_recent(&self) {
        self.telecaller.retain_recent();
        self.supervisor.retain_recent();
        self.admin.retain_recent();
        self.anonymous.retain_recent();
        self.login_ip.retain_recent();
        self.login_username.retain_recent();
    }

    /// How many keys the limiters hold state for.
    pub fn tracked_keys(&self) -> usize {
        self.telecaller.len()
            + self.supervisor.len()
            + self.admin.len()
            + self.anonymous.len()
            + self.login_ip.len()
            + self.login_username.len()
    }

    fn check<K>(&self, limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<(), Duration>
    where
        K: std::hash::Hash + Eq + Clone,
    {
        limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Takes one request of `user`'s quota; `Err(wait)` when over it.
    pub fn check_user(&self, user: Id, role: Role) -> Result<(), Duration> {
        match role {
            Role::Telecaller => self.check(&self.telecaller, &user),
            Role::Supervisor => self.check(&self.supervisor, &user),
            Role::Admin => self.check(&self.admin, &user),
        }
    }

    /// Takes one request of an IP's quota for requests without a valid token.
    pub fn check_anonymous(&self, ip: IpAddr) -> Result<(), Duration> {
        self.check(&self.anonymous, &ip)
    }

    /// Takes one sign-in attempt from `ip` for `username` (when the body named one): the IP's quota first,
    /// then the username's.
    pub fn check_login(&self, ip: IpAddr, username: Option<&str>) -> Result<(), Duration> {
        self.check(&self.login_ip, &ip)?;
        match username.map(normalise_username) {
            Some(name) if !name.is_empty() => self.check(&self.login_username, &name),
            _ => Ok(()),
        }
    }
}

fn normalise_username(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Whole seconds to wait, rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

/// The `429` answer: `Retry-After` and an `ApiError` body.
pub fn too_many_requests(wait: Duration) -> Response {
    let secs = retry_after_secs(wait);
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(ApiError {
            code: "rate_limited".to_owned(),
            message: format!("too many requests; retry in {secs} s"),
        }),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}

fn peer_ip(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| addr.ip())
}

/// The client address of a request from `peer` with these `X-Forwarded-For` header values: `peer` itself
/// unless it is a trusted proxy; then the right-most forwarded address that is not a trusted proxy (the
/// first hop no proxy of ours vouches for). Malformed entries end the walk at the last good address.
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &[ipnet::IpNet],
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for.flat_map(|v| v.split(',')).collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let hop = hop.trim();
        // `for=` forms and ports are not part of X-Forwarded-For; a bare address or [v6]:port is.
        let parsed = hop
            .parse::<IpAddr>()
            .ok()
            .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()));
        match parsed {
            Some(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            None => break,
        }
    }
    client
}

fn request_ip(req: &Request, trusted: &[ipnet::IpNet]) -> IpAddr {
    let peer = peer_ip(req);
    if trusted.is_empty() {
        return peer;
    }
    let values = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    client_ip(peer, values, trusted)
}

fn bearer_claims(req: &Request, state: &AppState) -> Option<(Id, Claims)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    state.keys().verify(token.trim()).ok()
}

#[derive(serde::Deserialize)]
struct LoginName {
    #[serde(default)]
    username: Option<String>,
}

/// The axum middleware (`axum::middleware::from_fn_with_state`).
pub async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if UNLIMITED_PATHS.contains(&path) {
        return next.run(req).await;
    }
    let limiter = state.rate_limiter();
    let ip = request_ip(&req, limiter.trusted_proxies());
    if path == LOGIN_PATH && req.method() == Method::POST {
        let (parts, body) = req.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_LOGIN_BODY).await else {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                Json(ApiError {
                    code: "payload_too_large".to_owned(),
                    message: format!("a sign-in body is at most {MAX_LOGIN_BODY} bytes"),
                }),
            )
                .into_response();
        };
        let username = serde_json::from_slice::<LoginName>(&bytes)
            .ok()
            .and_then(|l| l.username);
        if let Err(wait) = limiter.check_login(ip, username.as_deref()) {
            tracing::info!(%ip, "sign-in rate limited");
            return too_many_requests(wait);
        }
        return next.run(Request::from_parts(parts, Body::from(bytes))).await;
    }
    let mut req = req;
    let verdict = match bearer_claims(&req, &state) {
        Some((id, claims)) => {
            let verdict = limiter.check_user(id, claims.role);
            if verdict.is_err() {
                tracing::info!(user_id = %id, role = %claims.role, "rate limited");
            }
            req.extensions_mut().insert(claims);
            verdict
        }
        None => {
            let verdict = limiter.check_anonymous(ip);
            if verdict.is_err() {
                tracing::info!(%ip, "rate limited (no valid token)");
            }
            verdict
        }
    };
    match verdict {
        Ok(()) => next.run(req).await,
        Err(wait) => too_many_requests(wait),
    }
}

/// Aborts the sweeper task when dropped.
#[derive(Debug)]
pub struct SweeperGuard(tokio::task::JoinHandle<()>);

impl Drop for SweeperGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs [`RateLimiter::retain_recent`] every [`SWEEP_INTERVAL`] until the guard is dropped.
pub fn spawn_sweeper(limiter: Arc<RateLimiter>) -> SweeperGuard {
    SweeperGuard(tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            limiter.retain_recent();
        }
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_first_address_no_trusted_proxy_vouches_for() {
        let nets: Vec<ipnet::IpNet> = vec!["127.0.0.1/32".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let proxy = ip("10.1.2.3");
        // Untrusted peer: the header is ignored, whatever it says.
        assert_eq!(
            client_ip(ip("203.0.113.9"), ["1.2.3.4"].into_iter(), &nets),
            ip("203.0.113.9")
        );
        // Trusted peer: the right-most untrusted hop, skipping our own proxies.
        assert_eq!(
            client_ip(proxy, ["198.51.100.7, 10.0.0.5"].into_iter(), &nets),
            ip("198.51.100.7")
        );
        // A spoofed left part does not help: the proxy appended the real address on the right.
        assert_eq!(
            client_ip(proxy, ["6.6.6.6, 198.51.100.7"].into_iter(), &nets),
            ip("198.51.100.7")
        );
        // Several header lines count as one list; IPv6 and ports parse; garbage stops the walk.
        assert_eq!(
            client_ip(proxy, ["6.6.6.6", "[2001:db8::1]:4711"].into_iter(), &nets),
            ip("2001:db8::1")
        );
        assert_eq!(client_ip(proxy, ["not-an-ip"].into_iter(), &nets), proxy);
        assert_eq!(client_ip(proxy, std::iter::empty(), &nets), proxy);
        // Only trusted hops: the left-most one is as far as we can see.
        assert_eq!(client_ip(proxy, ["10.9.9.9"].into_iter(), &nets), ip("10.9.9.9"));
    }

    #[test]
    fn retry_after_rounds_up_and_is_at_least_one() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(12)), 12);
    }

    #[test]
    fn login_limits_by_username_across_case_and_by_ip() {
        let limiter = RateLimiter::new(RateLimits {
            login_per_ip: Limit::per_minute(1, 3),
            login_per_username: Limit::per_minute(1, 2),
            ..RateLimits::default()
        });
        let a = IpAddr::from([10, 0, 0, 1]);
        let b = IpAddr::from([10, 0, 0, 2]);
        assert!(limiter.check_login(a, Some("priya")).is_ok());
        assert!(limiter.check_login(b, Some(" PRIYA ")).is_ok());
        let wait = limiter.check_login(b, Some("Priya")).expect_err("username limit");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(60));
        // IP a has one attempt left, then none.
        assert!(limiter.check_login(a, Some("arjun")).is_ok());
        assert!(limiter.check_login(a, Some("kavya")).is_ok());
        assert!(limiter.check_login(a, Some("rohit")).is_err());
        assert_eq!(limiter.tracked_keys(), 2 + 3);
    }
}
