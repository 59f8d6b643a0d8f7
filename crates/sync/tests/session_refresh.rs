//! The client against the real server (in-process, real SQLite) with one-second access tokens: an expired
//! access token is refreshed once and the pull goes on; a refused refresh is `SessionEnded`.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use leadline_model::{Role, User};
use leadline_server::{RunningServer, ServeConfig, auth, db};
use leadline_store::{Store, StoreKey};
use leadline_sync::SharedStore;
use leadline_sync::{Client, SyncError, Tokens, pull_all};

const PASSWORD: &str = "correct horse battery";

async fn server(dir: &std::path::Path) -> RunningServer {
    add_priya(dir);
    start_with(
        dir,
        "sync-test-secret-sync-test-secret-0123456789",
        Duration::from_secs(1),
    )
    .await
}

fn add_priya(dir: &std::path::Path) {
    let mut conn = db::open_connection(&db::db_path(dir)).unwrap();
    let keys = leadline_server::pii_keys(dir).unwrap();
    let user = User {
        id: leadline_model::new_id(),
        username: "priya".into(),
        name: "Priya Sharma".into(),
        role: Role::Telecaller,
        team: Some("showroom".into()),
    };
    let hash = auth::hash_password(PASSWORD).unwrap();
    db::with_sqlite_tx(&mut conn, &keys, |tx| {
        db::insert_user(tx, &user, &hash, &chrono::Utc::now())
    })
    .unwrap();
    drop(conn);
}

async fn start_with(dir: &std::path::Path, jwt_secret: &str, token_ttl: Duration) -> RunningServer {
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        jwt_secret: Some(jwt_secret.into()),
        token_ttl,
        ..ServeConfig::new(dir)
    };
    leadline_server::start(&config).await.unwrap()
}

/// The operator rotates the JWT secret (a leaked secret, or policy) and restarts the server. Access tokens
/// signed with the old secret are refused from then on — a token forged with a leaked secret is worth
/// nothing — but refresh tokens are not JWTs: each desk trades its refresh token for a pair signed with
/// the new secret at its next request, and nobody has to sign in again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_jwt_secret_costs_each_desk_one_refresh_and_signs_nobody_out() {
    let dir = tempfile::tempdir().unwrap();
    add_priya(dir.path());
    let hour = Duration::from_secs(3600);
    let old = start_with(dir.path(), "the-secret-before-the-rotation-0123456789", hour).await;
    let store = SharedStore::new(
        Store::open(&dir.path().join("cache.sqlite3"), &StoreKey::generate().unwrap()).unwrap(),
    );
    let mut client = Client::new(&old.base_url()).unwrap();
    client.login("priya", PASSWORD, Some("laptop")).await.unwrap();
    pull_all(&client, &store).await.unwrap();
    let before = client.tokens().unwrap();
    old.stop().await.unwrap();

    let new = start_with(dir.path(), "the-secret-after-the-rotation-9876543210", hour).await;
    // The old access token, an hour from expiry, is refused on its own...
    let bare = Client::new(&new.base_url())
        .unwrap()
        .with_token(before.access_token.clone());
    assert!(matches!(
        pull_all(&bare, &store).await,
        Err(SyncError::Unauthorized)
    ));
    // ...and the desk holding the pair refreshes once and goes on.
    let desk = Client::new(&new.base_url()).unwrap().with_tokens(before.clone());
    pull_all(&desk, &store).await.unwrap();
    let after = desk.tokens().unwrap();
    assert_ne!(after.access_token, before.access_token);
    assert_ne!(after.refresh_token, before.refresh_token);
    let (_, claims) = new.state().keys().verify(&after.access_token).unwrap();
    let (_, old_claims) = auth::TokenKeys::new(b"the-secret-before-the-rotation-0123456789", hour)
        .unwrap()
        .verify(&before.access_token)
        .unwrap();
    assert_eq!(claims.sid, old_claims.sid, "the same device session goes on");
    // The next request needs no refresh: the new token is good.
    pull_all(&desk, &store).await.unwrap();
    assert_eq!(desk.tokens().unwrap(), after);
    new.stop().await.unwrap();
}

/// Long enough for a one-second access token to expire (expiry has one-second resolution).
async fn let_access_token_expire() {
    tokio::time::sleep(Duration::from_millis(2100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_after_the_access_token_expired_refreshes_and_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let store = SharedStore::new(
        Store::open(&dir.path().join("cache.sqlite3"), &StoreKey::generate().unwrap()).unwrap(),
    );

    let mut client = Client::new(&server.base_url()).unwrap();
    let login = client.login("priya", PASSWORD, Some("laptop")).await.unwrap();
    let first = client.tokens().unwrap();
    assert_eq!(first.refresh_token.as_deref(), Some(login.refresh_token.as_str()));

    let_access_token_expire().await;
    // The expired token alone is refused...
    let bare = Client::new(&server.base_url())
        .unwrap()
        .with_token(first.access_token.clone());
    assert!(matches!(
        pull_all(&bare, &store).await,
        Err(SyncError::Unauthorized)
    ));
    // ...the client with a refresh token goes on, with a new pair to persist.
    pull_all(&client, &store).await.unwrap();
    let second = client.tokens().unwrap();
    assert_ne!(second.access_token, first.access_token);
    assert_ne!(second.refresh_token, first.refresh_token);

    // A client restored from the persisted pair keeps working after another expiry.
    let restored = Client::new(&server.base_url())
        .unwrap()
        .with_tokens(second.clone());
    let_access_token_expire().await;
    pull_all(&restored, &store).await.unwrap();
    assert_ne!(restored.tokens(), Some(second.clone()));
    // Once more, so the session has moved on past the pair the first client holds (right after one
    // rotation its token would still be taken as a retry of a lost answer, for 30 s).
    let_access_token_expire().await;
    pull_all(&restored, &store).await.unwrap();

    // The first client still holds a pair rotated away long since: reuse ends the session for both.
    let stale = client.refresh().await.unwrap_err();
    assert!(matches!(stale, SyncError::SessionEnded), "{stale:?}");
    assert!(!stale.is_transient());
    assert!(client.tokens().is_none());
    let_access_token_expire().await;
    let ended = pull_all(&restored, &store).await.unwrap_err();
    assert!(matches!(ended, SyncError::SessionEnded), "{ended:?}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session_on_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let store = SharedStore::new(
        Store::open(&dir.path().join("cache.sqlite3"), &StoreKey::generate().unwrap()).unwrap(),
    );
    let mut client = Client::new(&server.base_url()).unwrap();
    client.login("priya", PASSWORD, Some("laptop")).await.unwrap();
    let kept: Tokens = client.tokens().unwrap();
    client.logout().await.unwrap();
    assert!(client.tokens().is_none());

    // The tokens a copy kept no longer work, neither the access token nor the refresh token.
    let copy = Client::new(&server.base_url()).unwrap().with_tokens(kept);
    let err = pull_all(&copy, &store).await.unwrap_err();
    assert!(matches!(err, SyncError::SessionEnded), "{err:?}");
    server.stop().await.unwrap();
}
