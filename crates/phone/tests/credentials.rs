//! The SIP password in a real OS keyring: GNOME Keyring's Secret Service on a private D-Bus session
//! (`dbus-run-session`, a fresh HOME), started by the test. The keyring keeps, returns, replaces and forgets
//! it; nothing under HOME holds it in plain text; and with no keyring at all the error says so.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use leadline_phone::Password;
use leadline_phone::credentials::{CredentialError, forget_password, load_password, save_password};

const SECRET: &str = "sip-pa55-\u{0939}\u{093f}\u{0928}\u{094d}\u{0926}\u{0940}-\"quoted\"";

/// Runs inside the private session (see the parent test below).
#[test]
#[ignore = "run by sip_passwords_live_in_the_os_keyring_only inside its own D-Bus session"]
fn keyring_child() {
    let domain = "acme.voip.exotel.com";
    assert!(load_password(domain, "agent7").unwrap().is_none());
    save_password(domain, "agent7", &Password::new(SECRET)).unwrap();
    save_password(domain, "agent8", &Password::new("other")).unwrap();
    let back = load_password(domain, "agent7").unwrap().expect("kept");
    assert_eq!(back.expose(), SECRET);
    assert_eq!(format!("{back:?}"), "Password(<redacted>)");
    save_password(domain, "agent7", &Password::new("replaced")).unwrap();
    assert_eq!(
        load_password(domain, "agent7").unwrap().unwrap().expose(),
        "replaced"
    );
    forget_password(domain, "agent7").unwrap();
    assert!(load_password(domain, "agent7").unwrap().is_none());
    forget_password(domain, "agent7").unwrap(); // twice is fine
    assert!(
        load_password(domain, "agent8").unwrap().is_some(),
        "other accounts stay"
    );
    save_password(domain, "agent7", &Password::new(SECRET)).unwrap();
    println!("KEYRING-CHILD-OK");
}

fn contains(dir: &Path, needle: &[u8]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let path = e.path();
        if path.is_dir() {
            contains(&path, needle)
        } else {
            std::fs::read(&path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        }
    })
}

#[test]
fn sip_passwords_live_in_the_os_keyring_only() {
    for tool in ["/usr/bin/dbus-run-session", "/usr/bin/gnome-keyring-daemon"] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is required for this test: install the Debian packages `dbus` and `gnome-keyring` \
             (scripts/setup.sh does)"
        );
    }
    let home = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let script = format!(
        "echo leadline-test-unlock | gnome-keyring-daemon --unlock >/dev/null 2>&1; \
         exec '{}' --exact keyring_child --ignored --nocapture --test-threads=1",
        exe.display()
    );
    let mut in_session = Command::new("dbus-run-session");
    in_session
        .args(["--", "sh", "-c", &script])
        .env("XDG_DATA_HOME", home.path().join(".local/share"))
        .env("XDG_RUNTIME_DIR", home.path())
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    expect_child(in_session, home.path(), "KEYRING-CHILD-OK");
    // The keyring's files exist and do not hold the password in the clear.
    assert!(home.path().join(".local/share/keyrings").exists());
    assert!(
        !contains(home.path(), SECRET.as_bytes()),
        "the password is in a file under HOME"
    );

    // No session bus at all: a clear error, nothing written.
    let mut no_bus = Command::new(&exe);
    no_bus
        .args([
            "--exact",
            "no_keyring_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/leadline-bus");
    expect_child(no_bus, home.path(), "NO-KEYRING-OK");
}

/// Runs a child with `home` as HOME; it must succeed and print `marker` (its last line when all held).
fn expect_child(mut child: Command, home: &Path, marker: &str) {
    let out = child.env("HOME", home).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(marker),
        "the child failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "run by sip_passwords_live_in_the_os_keyring_only with no D-Bus session"]
fn no_keyring_child() {
    let err = save_password("d.example", "u", &Password::new(SECRET)).unwrap_err();
    assert!(matches!(err, CredentialError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains(SECRET));
    assert!(matches!(
        load_password("d.example", "u"),
        Err(CredentialError::Unavailable(_))
    ));
    println!("NO-KEYRING-OK");
}
