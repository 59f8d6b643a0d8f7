//! A minimal blocking HTTP/1.1 JSON client for the tests' own REST calls (a supervisor reassigning leads):
//! one request per connection, `Connection: close`, plain or chunked bodies.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// An answer: status code and body (JSON, or `Value::Null` when empty or not JSON).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: serde_json::Value,
    pub raw: String,
}

/// Sends `method path` with an optional bearer token and JSON body to `addr`.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&serde_json::Value>,
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let payload = body.map(serde_json::Value::to_string).unwrap_or_default();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: application/json\r\n"
    );
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if body.is_some() {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", payload.len()));
    stream.write_all(head.as_bytes())?;
    stream.write_all(payload.as_bytes())?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes)?;
    parse(&bytes).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not an HTTP answer: {}", String::from_utf8_lossy(&bytes)),
        )
    })
}

fn parse(bytes: &[u8]) -> Option<Response> {
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..split]).ok()?;
    let mut rest = &bytes[split + 4..];
    let status: u16 = head.lines().next()?.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        let mut out = Vec::new();
        loop {
            let eol = rest.windows(2).position(|w| w == b"\r\n")?;
            let size_text = std::str::from_utf8(&rest[..eol]).ok()?;
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            rest = &rest[eol + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(rest.get(..size)?);
            rest = rest.get(size + 2..)?;
        }
        out
    } else {
        rest.to_vec()
    };
    let raw = String::from_utf8_lossy(&body).into_owned();
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    Some(Response { status, body, raw })
}

/// Signs in with `POST /api/v1/auth/login`; the access token.
pub fn login(addr: SocketAddr, username: &str, password: &str) -> String {
    let r = request(
        addr,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(&serde_json::json!({"username": username, "password": password})),
    )
    .unwrap_or_else(|e| panic!("login {username}: {e}"));
    assert_eq!(r.status, 200, "login {username}: {}", r.raw);
    r.body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("login answer without access_token: {}", r.raw))
        .to_owned()
}
