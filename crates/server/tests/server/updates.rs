//! In-app updates: the Tauri updater's dynamic manifest and the package downloads, served by a real
//! server from an updates directory (the signature check itself is the desktop's: src-tauri/tests/updater.rs).

use leadline_server::ServeConfig;
use serde_json::{Value, json};

use crate::common::{TestDb, client, fresh_dir};

const PACKAGE: &str = "Leadline_0.2.0_amd64.deb";

/// A package of 100 KiB of varied bytes, its `.sig` beside it, and `latest.json` naming it.
fn publish(dir: &std::path::Path, manifest: &Value) -> Vec<u8> {
    let bytes: Vec<u8> = (0..100 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.join(PACKAGE), &bytes).unwrap();
    std::fs::write(
        dir.join(format!("{PACKAGE}.sig")),
        "c2lnbmF0dXJlIG9mIHRoZSBkZWI=\n",
    )
    .unwrap();
    std::fs::write(dir.join("latest.json"), manifest.to_string()).unwrap();
    bytes
}

async fn start(db: &TestDb, updates: Option<std::path::PathBuf>) -> leadline_server::RunningServer {
    leadline_server::start(&ServeConfig {
        updates_dir: updates,
        ..db.config()
    })
    .await
    .unwrap()
}

async fn get(url: &str) -> (u16, Value) {
    let res = client().get(url).send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_manifest_offers_a_newer_release_for_the_callers_platform_and_serves_its_package() {
    let db = TestDb::fresh("updates");
    let updates = fresh_dir("updates-dir");
    let server = start(&db, Some(updates.clone())).await;
    let base = server.base_url();
    let manifest = |v: &str| format!("{base}/api/v1/updates/linux/x86_64/{v}?bundle_type=deb");

    // Nothing published yet.
    assert_eq!(get(&manifest("0.1.0")).await.0, 204);

    let bytes = publish(
        &updates,
        &json!({
            "version": "0.2.0",
            "notes": "Faster search",
            "pub_date": "2026-11-26T10:00:00Z",
            "platforms": {
                "linux-x86_64-deb": {"url": PACKAGE},
                "linux-x86_64-rpm": {"url": "https://downloads.example.in/Leadline-0.2.0-1.x86_64.rpm",
                                     "signature": "cnBtIHNpZw=="}
            }
        }),
    );
    let (status, offer) = get(&manifest("0.1.0")).await;
    assert_eq!(status, 200, "{offer}");
    assert_eq!(offer["version"], "0.2.0");
    assert_eq!(offer["notes"], "Faster search");
    assert_eq!(offer["pub_date"], "2026-11-26T10:00:00Z");
    assert_eq!(
        offer["signature"], "c2lnbmF0dXJlIG9mIHRoZSBkZWI=",
        "read from the .sig file"
    );
    let url = offer["url"].as_str().unwrap();
    assert_eq!(url, format!("{base}/api/v1/updates/files/{PACKAGE}"));

    // The rpm entry's absolute URL and inline signature pass through as they are.
    let (status, rpm) = get(&format!(
        "{base}/api/v1/updates/linux/x86_64/0.1.0?bundle_type=rpm"
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        rpm["url"],
        "https://downloads.example.in/Leadline-0.2.0-1.x86_64.rpm"
    );
    assert_eq!(rpm["signature"], "cnBtIHNpZw==");

    // The same version, an older one, a pre-release of it, another platform or package type: nothing.
    for v in ["0.2.0", "0.3.0", "0.2.1-beta.1"] {
        assert_eq!(get(&manifest(v)).await.0, 204, "{v}");
    }
    assert_eq!(
        get(&format!(
            "{base}/api/v1/updates/linux/x86_64/0.1.0?bundle_type=appimage"
        ))
        .await
        .0,
        204
    );
    assert_eq!(
        get(&format!("{base}/api/v1/updates/windows/x86_64/0.1.0"))
            .await
            .0,
        204
    );

    // The package, whole, uncompressed even when the client accepts gzip, and by ranges.
    let res = client()
        .get(url)
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("content-encoding").is_none());
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());
    let res = client()
        .get(url)
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(res.bytes().await.unwrap().as_ref(), &bytes[1000..2000]);

    // A behind-the-proxy client gets the URL it reaches the server by.
    let res = client()
        .get(manifest("0.1.0"))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "crm.example.in")
        .send()
        .await
        .unwrap();
    let offer: Value = res.json().await.unwrap();
    assert_eq!(
        offer["url"],
        format!("https://crm.example.in/api/v1/updates/files/{PACKAGE}")
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn bad_requests_and_a_broken_manifest_get_clear_errors() {
    let db = TestDb::fresh("updates-bad");
    let updates = fresh_dir("updates-bad-dir");
    let server = start(&db, Some(updates.clone())).await;
    let base = server.base_url();

    for bad in [
        "/api/v1/updates/linux/x86_64/not-a-version",
        "/api/v1/updates/Linux%2F../x86_64/0.1.0",
        "/api/v1/updates/linux/x86_64/0.1.0?bundle_type=de%20b",
    ] {
        let (status, body) = get(&format!("{base}{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["code"], "bad_request", "{bad}");
    }
    // Only plain files of the directory, never the manifest or anything outside.
    std::fs::write(updates.join(".secret"), "x").unwrap();
    std::fs::write(updates.join("latest.json"), "{}").unwrap();
    for name in [
        "..%2Flatest.json",
        ".secret",
        "latest.json",
        "missing.deb",
        "..%2F..%2Fetc%2Fpasswd",
    ] {
        let (status, body) = get(&format!("{base}/api/v1/updates/files/{name}")).await;
        assert_eq!(status, 404, "{name}: {body}");
        assert_eq!(body["code"], "not_found", "{name}");
    }

    // The operator's mistakes: a 500 (the server's log says what is wrong), and the server goes on.
    let cases = [
        (json!({"version": "two", "platforms": {}}), "not semver"),
        (
            json!({"version": "0.2.0", "pub_date": "yesterday", "platforms": {}}),
            "RFC 3339",
        ),
        (
            json!({"version": "0.2.0", "platforms": {"linux-x86_64": {"url": "gone.deb"}}}),
            "not in the directory",
        ),
        (
            json!({"version": "0.2.0", "platforms": {"linux-x86_64": {"url": "../x.deb"}}}),
            "neither",
        ),
        (json!({"version": "0.2.0"}), "not a release manifest"),
    ];
    for (manifest, says) in cases {
        std::fs::write(updates.join("latest.json"), manifest.to_string()).unwrap();
        let (status, body) = get(&format!("{base}/api/v1/updates/linux/x86_64/0.1.0")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (500, Some("internal")),
            "{manifest} ({says}): {body}"
        );
    }
    // A package without a signature is never offered.
    std::fs::write(updates.join(PACKAGE), "deb").unwrap();
    std::fs::write(
        updates.join("latest.json"),
        json!({"version": "0.2.0", "platforms": {"linux-x86_64": {"url": PACKAGE}}}).to_string(),
    )
    .unwrap();
    let (status, body) = get(&format!("{base}/api/v1/updates/linux/x86_64/0.1.0")).await;
    assert_eq!((status, body["code"].as_str()), (500, Some("internal")), "{body}");
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn without_an_updates_directory_there_is_never_an_update() {
    let db = TestDb::fresh("updates-none");
    let server = start(&db, None).await;
    let base = server.base_url();
    assert_eq!(
        get(&format!("{base}/api/v1/updates/linux/x86_64/0.0.1")).await.0,
        204
    );
    assert_eq!(
        get(&format!("{base}/api/v1/updates/files/{PACKAGE}")).await.0,
        404
    );
    server.stop().await.unwrap();
}
