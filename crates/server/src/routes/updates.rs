//! The desktop app's in-app updates: the Tauri updater's dynamic manifest
//! (`GET /api/v1/updates/{target}/{arch}/{current_version}?bundle_type=deb`) and the signed packages it
//! points to (`GET /api/v1/updates/files/{name}`, with HTTP range requests), from a directory the operator
//! configures (`leadline-server serve --updates-dir`, `LEADLINE_UPDATES_DIR`).
//!
//! The directory holds `latest.json` in the Tauri updater's static format — `version` (semver), `notes`,
//! `pub_date` (RFC 3339) and `platforms`, keyed `linux-x86_64-deb` (or `linux-x86_64` for any package
//! type), each with a `url` and a `signature` — plus the packages and their `.sig` files as
//! `scripts/package` writes them. A `url` that is a bare file name is served from the directory (the
//! answer carries the absolute URL the client reached this server by; behind a TLS proxy set
//! `X-Forwarded-Proto: https`); a `signature` left out is read from `<file>.sig`. The file is read on every
//! request, so publishing a release is copying files: no restart.
//!
//! Both routes are public: the packages are signed (the desktop refuses one its built-in key did not
//! sign), and the app itself is not a secret. No directory configured, no `latest.json`, a version not
//! newer than the caller's, or no package for its platform: `204 No Content` (nothing to install).

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tower::ServiceExt as _;

use crate::AppState;
use crate::api::{ApiFailure, bad};

/// The manifest's file name in the updates directory.
pub const MANIFEST: &str = "latest.json";

/// The update routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/updates/files/{name}", get(file))
        .route("/api/v1/updates/{target}/{arch}/{current_version}", get(manifest))
}

/// The OpenAPI operations of this module.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(manifest, file),
    tags((name = "updates", description = "The desktop app's signed in-app updates"))
)]
pub struct UpdatesApi;

/// `latest.json`: one release, every platform it has a package for (Tauri's static manifest format).
#[derive(Debug, Deserialize)]
struct Release {
    version: String,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    pub_date: Option<String>,
    platforms: std::collections::BTreeMap<String, Platform>,
}

#[derive(Debug, Deserialize)]
struct Platform {
    url: String,
    #[serde(default)]
    signature: Option<String>,
}

/// The dynamic manifest: the one package for the caller's platform.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UpdateManifest {
    /// The version offered (semver), newer than the caller's.
    pub version: String,
    /// Release notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// When it was published (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pub_date: Option<String>,
    /// Where to download the package.
    pub url: String,
    /// The package's minisign signature (base64 of the `.sig` file), made by the release key.
    pub signature: String,
}

/// `?bundle_type=`: how the caller was installed (`deb`, `rpm`, `appimage`); picks the package.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct BundleQuery {
    /// `deb`, `rpm` or `appimage`; absent or `unknown`: the `{target}-{arch}` entry only.
    #[serde(default)]
    bundle_type: Option<String>,
}

/// A path segment of the manifest's URL: lowercase letters, digits and `_`, at most 32.
fn plain_word(what: &'static str, text: &str) -> Result<(), ApiFailure> {
    let ok = !text.is_empty()
        && text.len() <= 32
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(bad(
            "bad_request",
            format!("{what} must be lowercase letters, digits or `_` (at most 32)"),
        ))
    }
}

/// A file the updates directory may serve: a plain name (letters, digits, `.`, `_`, `-`, `+`), not
/// hidden, no path.
fn servable_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'))
}

/// `GET /api/v1/updates/{target}/{arch}/{current_version}`: the release newer than `current_version` for
/// this platform, or 204 when there is none.
#[utoipa::path(
    get,
    path = "/api/v1/updates/{target}/{arch}/{current_version}",
    tag = "updates",
    params(
        ("target" = String, Path, description = "The OS: `linux`, `windows`, `darwin`"),
        ("arch" = String, Path, description = "`x86_64`, `aarch64`, …"),
        ("current_version" = String, Path, description = "The caller's version (semver)"),
        BundleQuery,
    ),
    responses(
        (status = 200, description = "A newer release for this platform", body = UpdateManifest),
        (status = 204, description = "Nothing newer for this platform (or no updates served here)"),
        (status = 400, description = "Not a version, target or architecture (`bad_request`)",
         body = leadline_model::auth::ApiError),
        (status = 404, description = "A path segment left empty (`not_found`)",
         body = leadline_model::auth::ApiError),
    )
)]
async fn manifest(
    State(state): State<AppState>,
    UrlPath((target, arch, current)): UrlPath<(String, String, String)>,
    Query(query): Query<BundleQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiFailure> {
    plain_word("the target", &target)?;
    plain_word("the architecture", &arch)?;
    let current = semver::Version::parse(&current).map_err(|e| {
        bad(
            "bad_request",
            format!("{current:?} is not a version (semver, e.g. 1.2.3): {e}"),
        )
    })?;
    let bundle = match query.bundle_type.as_deref() {
        None | Some("" | "unknown") => None,
        Some(b) => {
            plain_word("bundle_type", b)?;
            Some(b.to_owned())
        }
    };
    let Some(dir) = state.updates_dir() else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let Some(release) = read_release(dir).await? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let version = semver::Version::parse(&release.version)
        .map_err(|e| broken_manifest(dir, format!("version {:?} is not semver: {e}", release.version)))?;
    if let Some(date) = &release.pub_date
        && chrono::DateTime::parse_from_rfc3339(date).is_err()
    {
        return Err(broken_manifest(dir, format!("pub_date {date:?} is not RFC 3339")));
    }
    if version <= current {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let keys = bundle
        .iter()
        .map(|b| format!("{target}-{arch}-{b}"))
        .chain(std::iter::once(format!("{target}-{arch}")));
    let Some(platform) = keys.into_iter().find_map(|k| release.platforms.get(&k)) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let (url, signature) = if platform.url.starts_with("https://") || platform.url.starts_with("http://") {
        let signature = platform
            .signature
            .clone()
            .ok_or_else(|| broken_manifest(dir, format!("{} has no signature", platform.url)))?;
        (platform.url.clone(), signature)
    } else {
        if !servable_name(&platform.url) {
            return Err(broken_manifest(
                dir,
                format!(
                    "url {:?} is neither an http(s) URL nor a file name in the directory",
                    platform.url
                ),
            ));
        }
        if !tokio::fs::try_exists(dir.join(&platform.url))
            .await
            .unwrap_or(false)
        {
            return Err(broken_manifest(
                dir,
                format!("{} is not in the directory", platform.url),
            ));
        }
        let signature = match &platform.signature {
            Some(s) => s.clone(),
            None => {
                let sig = dir.join(format!("{}.sig", platform.url));
                tokio::fs::read_to_string(&sig)
                    .await
                    .map_err(|e| broken_manifest(dir, format!("no signature: {}: {e}", sig.display())))?
                    .trim()
                    .to_owned()
            }
        };
        (
            format!("{}/api/v1/updates/files/{}", base_url(&headers), platform.url),
            signature,
        )
    };
    Ok(Json(UpdateManifest {
        version: version.to_string(),
        notes: release.notes,
        pub_date: release.pub_date,
        url,
        signature,
    })
    .into_response())
}

/// `latest.json`, or `None` when there is none yet.
async fn read_release(dir: &Path) -> Result<Option<Release>, ApiFailure> {
    let path = dir.join(MANIFEST);
    let text = match tokio::fs::read(&path).await {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(broken_manifest(dir, format!("cannot read it: {e}"))),
    };
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|e| broken_manifest(dir, format!("not a release manifest: {e}")))
}

/// The operator's manifest is wrong: logged with the reason, a 500 to the client.
fn broken_manifest(dir: &Path, why: String) -> ApiFailure {
    let path = dir.join(MANIFEST);
    tracing::error!(path = %path.display(), "the updates manifest is broken: {why}");
    ApiFailure::Internal(format!(
        "the updates manifest {} is broken: {why}",
        path.display()
    ))
}

/// `scheme://host[:port]` the client reached this server by: `Host` (or `X-Forwarded-Host`) and
/// `X-Forwarded-Proto` (`http` unless it says `https`).
fn base_url(headers: &HeaderMap) -> String {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or_default().trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let scheme = match text("x-forwarded-proto").as_deref() {
        Some("https") => "https",
        _ => "http",
    };
    // A host name, an IPv4 address or a bracketed IPv6 one, with a port; anything else is passed over.
    let plain = |h: &String| {
        h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
    };
    let host = text("x-forwarded-host")
        .filter(plain)
        .or_else(|| text(header::HOST.as_str()).filter(plain))
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{scheme}://{host}")
}

/// `GET /api/v1/updates/files/{name}`: a package (or its `.sig`) from the updates directory, with range
/// requests, as `application/octet-stream` (never compressed on the way).
#[utoipa::path(
    get,
    path = "/api/v1/updates/files/{name}",
    tag = "updates",
    params(("name" = String, Path, description = "A file of the updates directory")),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 206, description = "The part of the file a `Range` asked for"),
        (status = 404, description = "No such file, or no updates served here (`not_found`)",
         body = leadline_model::auth::ApiError),
    )
)]
async fn file(
    State(state): State<AppState>,
    UrlPath(name): UrlPath<String>,
    request: Request,
) -> Result<Response, ApiFailure> {
    let Some(dir) = state.updates_dir() else {
        return Err(ApiFailure::Missing("update file"));
    };
    if !servable_name(&name) || name == MANIFEST {
        return Err(ApiFailure::Missing("update file"));
    }
    let path: PathBuf = dir.join(&name);
    if !tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_file()) {
        return Err(ApiFailure::Missing("update file"));
    }
    let served = tower_http::services::ServeFile::new(&path)
        .oneshot(request)
        .await
        .map_err(|e| ApiFailure::Internal(format!("serving {}: {e}", path.display())))?;
    let mut response = served.map(Body::new);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_file_names_are_served() {
        for ok in [
            "Leadline_0.2.0_amd64.deb",
            "Leadline_0.2.0_amd64.deb.sig",
            "a+b-1.rpm",
        ] {
            assert!(servable_name(ok), "{ok}");
        }
        for no in [
            "",
            ".hidden",
            "../etc/passwd",
            "a/b.deb",
            "a b.deb",
            "a%2fb",
            &"x".repeat(201),
        ] {
            assert!(!servable_name(no), "{no}");
        }
    }

    #[test]
    fn base_url_follows_the_proxy_headers_and_refuses_odd_hosts() {
        let mut h = HeaderMap::new();
        assert_eq!(base_url(&h), "http://localhost");
        h.insert(header::HOST, HeaderValue::from_static("10.0.0.5:8080"));
        assert_eq!(base_url(&h), "http://10.0.0.5:8080");
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        h.insert("x-forwarded-host", HeaderValue::from_static("crm.example.in"));
        assert_eq!(base_url(&h), "https://crm.example.in");
        h.insert("x-forwarded-host", HeaderValue::from_static("evil/x?"));
        assert_eq!(base_url(&h), "https://10.0.0.5:8080");
    }
}
