//! Behind a trusted reverse proxy the anonymous and sign-in quotas key on the client named in
//! `X-Forwarded-For`; from anyone else that header changes nothing.

use leadline_server::ratelimit::{Limit, RateLimits};

use crate::common::{TestDb, client};

async fn pull_as(base: &str, forwarded: &str) -> u16 {
    client()
        .get(format!("{base}/api/v1/sync/pull"))
        .header("x-forwarded-for", forwarded)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn forwarded_clients_get_their_own_quota_only_behind_a_trusted_proxy() {
    let db = TestDb::seeded();
    let limits = RateLimits {
        anonymous_per_ip: Limit::per_minute(1, 2),
        ..RateLimits::default()
    };
    let mut config = db.config();
    config.rate_limits = limits;
    config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let trusted = leadline_server::start(&config).await.unwrap();
    let base = trusted.base_url();
    // Client A spends its two requests; client B still has its own.
    assert_eq!(pull_as(&base, "198.51.100.1").await, 401);
    assert_eq!(pull_as(&base, "198.51.100.1").await, 401);
    assert_eq!(pull_as(&base, "198.51.100.1").await, 429);
    assert_eq!(pull_as(&base, "198.51.100.2").await, 401);
    // Spoofing a left-hand hop does not give A a new quota: the proxy's appended address counts.
    assert_eq!(pull_as(&base, "6.6.6.6, 198.51.100.1").await, 429);
    trusted.stop().await.unwrap();

    // Without trusted proxies, every forwarded name is the same peer.
    let mut config = db.config();
    config.rate_limits = limits;
    let plain = leadline_server::start(&config).await.unwrap();
    let base = plain.base_url();
    assert_eq!(pull_as(&base, "198.51.100.1").await, 401);
    assert_eq!(pull_as(&base, "198.51.100.2").await, 401);
    assert_eq!(pull_as(&base, "198.51.100.3").await, 429);
    plain.stop().await.unwrap();
}
