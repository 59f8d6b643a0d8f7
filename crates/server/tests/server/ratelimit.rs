//! Rate limits against an in-process server on 127.0.0.1:0 with tiny quotas, driven with reqwest.

use std::time::Duration;

use super::common::*;
use leadline_model::auth::ApiError;
use leadline_model::{LoginRequest, LoginResponse};
use leadline_server::ratelimit::{Limit, RateLimits};
use leadline_server::{RunningServer, ServeConfig};

/// Quotas that no test reaches unless it means to (refill once an hour).
fn generous() -> Limit {
    Limit {
        burst: 1000,
        period: Duration::from_secs(3600),
    }
}

fn hourly(burst: u32) -> Limit {
    Limit {
        burst,
        period: Duration::from_secs(3600),
    }
}

fn all_generous() -> RateLimits {
    RateLimits {
        telecaller: generous(),
        supervisor: generous(),
        admin: generous(),
        anonymous_per_ip: generous(),
        login_per_ip: generous(),
        login_per_username: generous(),
    }
}

async fn start_with(limits: RateLimits) -> RunningServer {
    let config = ServeConfig {
        rate_limits: limits,
        ..TestDb::seeded().config()
    };
    leadline_server::start(&config).await.expect("start server")
}

async fn login(http: &reqwest::Client, base: &str, username: &str, password: &str) -> reqwest::Response {
    http.post(format!("{base}/api/v1/auth/login"))
        .json(&LoginRequest {
            username: username.into(),
            password: password.into(),
            device_id: None,
        })
        .send()
        .await
        .expect("login request")
}

async fn pull(http: &reqwest::Client, base: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = http.get(format!("{base}/api/v1/sync/pull?limit=1"));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.expect("pull request")
}

/// Asserts a 429 with `Retry-After` ≥ 1 and the `rate_limited` body; answers the seconds.
async fn assert_limited(res: reqwest::Response) -> u64 {
    assert_eq!(res.status(), 429);
    let retry_after: u64 = res
        .headers()
        .get("retry-after")
        .expect("Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in whole seconds");
    assert!(retry_after >= 1);
    let body: ApiError = res.json().await.expect("ApiError body");
    assert_eq!(body.code, "rate_limited");
    assert!(!body.message.is_empty());
    retry_after
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_limited_per_username_and_per_ip() {
    let server = start_with(RateLimits {
        login_per_username: Limit {
            burst: 2,
            period: Duration::from_secs(2),
        },
        login_per_ip: hourly(6),
        ..all_generous()
    })
    .await;
    let (base, http) = (server.base_url(), client());

    // Three guesses at once against one account: two are checked, one is refused before any argon2 work.
    let (a, b, c) = tokio::join!(
        login(&http, &base, "priya", "guess-1"),
        login(&http, &base, "priya", "guess-2"),
        login(&http, &base, "PRIYA", "guess-3"),
    );
    let mut statuses = vec![a.status().as_u16(), b.status().as_u16(), c.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, vec![401, 401, 429]);
    let limited = [a, b, c]
        .into_iter()
        .find(|r| r.status() == 429)
        .expect("one refused");
    let retry_after = assert_limited(limited).await;
    assert!(retry_after <= 2, "the username refills one attempt every 2 s");

    // After Retry-After the next attempt is evaluated again (and the right password works).
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let res = login(&http, &base, "priya", "leadline-demo").await;
    assert_eq!(res.status(), 200);
    let _: LoginResponse = res.json().await.expect("login response");

    // 4 of the IP's 6 attempts are used; other usernames from this IP get the rest, then the IP is limited.
    assert_eq!(login(&http, &base, "arjun", "guess").await.status(), 401);
    assert_eq!(login(&http, &base, "divya", "guess").await.status(), 401);
    let retry_after = assert_limited(login(&http, &base, "kavya", "leadline-demo").await).await;
    assert!(retry_after > 2, "this is the hourly IP limit, not the username's");

    // Other routes are not the sign-in limiter's business, and /healthz is never limited.
    for _ in 0..20 {
        assert_eq!(
            http.get(format!("{base}/healthz")).send().await.unwrap().status(),
            200
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_has_their_own_quota_by_role() {
    let server = start_with(RateLimits {
        telecaller: hourly(3),
        ..all_generous()
    })
    .await;
    let (base, http) = (server.base_url(), client());
    let token = |res: reqwest::Response| async move {
        assert_eq!(res.status(), 200);
        res.json::<LoginResponse>().await.expect("login").access_token
    };
    let priya = token(login(&http, &base, "priya", "leadline-demo").await).await;
    let arjun = token(login(&http, &base, "arjun", "leadline-demo").await).await;
    let meera = token(login(&http, &base, "meera", "leadline-demo").await).await;

    for _ in 0..3 {
        assert_eq!(pull(&http, &base, Some(&priya)).await.status(), 200);
    }
    let retry_after = assert_limited(pull(&http, &base, Some(&priya)).await).await;
    assert!(retry_after > 60, "hourly refill");
    // Any route counts, including unknown ones.
    assert_limited(
        http.get(format!("{base}/api/v1/nope"))
            .bearer_auth(&priya)
            .send()
            .await
            .unwrap(),
    )
    .await;

    // Another telecaller is unaffected, and a supervisor has the (generous) supervisor quota.
    for _ in 0..3 {
        assert_eq!(pull(&http, &base, Some(&arjun)).await.status(), 200);
    }
    for _ in 0..10 {
        assert_eq!(pull(&http, &base, Some(&meera)).await.status(), 200);
    }
    assert_limited(pull(&http, &base, Some(&arjun)).await).await;

    // Never /healthz, whoever asks.
    for _ in 0..10 {
        let res = http
            .get(format!("{base}/healthz"))
            .bearer_auth(&priya)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_token_are_limited_per_ip_but_healthz_never() {
    let server = start_with(RateLimits {
        anonymous_per_ip: hourly(2),
        ..all_generous()
    })
    .await;
    let (base, http) = (server.base_url(), client());

    assert_eq!(pull(&http, &base, None).await.status(), 401);
    // A forged token counts as no token: it cannot buy a fresh per-user bucket.
    assert_eq!(pull(&http, &base, Some("forged.token.here")).await.status(), 401);
    assert_limited(pull(&http, &base, None).await).await;
    assert_limited(pull(&http, &base, Some("another.forged.token")).await).await;

    for _ in 0..20 {
        assert_eq!(
            http.get(format!("{base}/healthz")).send().await.unwrap().status(),
            200
        );
    }
    // Sign-in has its own limiter, so a limited IP can still sign in and then use its token.
    let res = login(&http, &base, "priya", "leadline-demo").await;
    assert_eq!(res.status(), 200);
    let token = res.json::<LoginResponse>().await.unwrap().access_token;
    assert_eq!(pull(&http, &base, Some(&token)).await.status(), 200);
    server.stop().await.unwrap();
}
