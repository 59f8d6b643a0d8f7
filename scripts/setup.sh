#!/usr/bin/env bash
# Installs what building, running and testing Leadline needs on Debian/Ubuntu, when it is missing.
# Idempotent: a second run installs nothing. Used by scripts/run and scripts/test.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        log "need root to run: $*"; exit 1
    fi
}

# Debian packages: compilers and headers for the Rust crates (WebKitGTK for Tauri, OpenSSL: SQLCipher links
# the system libcrypto), Node.js for the UI, Xvfb + WebKitWebDriver for the desktop end-to-end test,
# kamailio (SIP over WebSocket) and Chromium (the browser softphone at the far end of calls) for the softphone
# tests, cmake (the softphone builds libopus from source), ALSA's headers (cpal, the audio devices), and a
# D-Bus session with GNOME Keyring and the notification daemon for the desktop tests (SIP password in the
# keyring, desktop notifications), promtool (Debian's prometheus package) and systemd-analyze for the server's
# deployment-file tests, desktop-file-utils (the package test validates the .deb's desktop entry).
# PostgreSQL's server binaries are checked for below.
APT_PACKAGES=(
    build-essential pkg-config curl ca-certificates git file
    libssl-dev libwebkit2gtk-4.1-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev
    libayatana-appindicator3-dev librsvg2-dev libxdo-dev
    xvfb xauth webkit2gtk-driver
    kamailio kamailio-websocket-modules kamailio-tls-modules
    chromium
    cmake libasound2-dev
    dbus gnome-keyring notification-daemon
    prometheus systemd
    desktop-file-utils
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
# PostgreSQL's server binaries (initdb, postgres under /usr/lib/postgresql/<version>/bin) for the throwaway
# clusters the server tests start (crates/server/src/pg_cluster.rs). Those tests run their own servers, so
# Debian's package is told not to create its default "main" cluster: no system server is set up or started.
if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
    if [ ! -e /etc/postgresql-common/createcluster.d/leadline.conf ]; then
        as_root mkdir -p /etc/postgresql-common/createcluster.d
        echo 'create_main_cluster = false' |
            as_root tee /etc/postgresql-common/createcluster.d/leadline.conf >/dev/null
    fi
    missing+=(postgresql)
fi
if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node.js 20.19+ for Vite: Debian 12 ships 18. The npm registry's `node` package brings a newer build.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
    log "Node.js $(node --version 2>/dev/null || echo none) is too old for the UI build; installing Node.js 22 from npm"
    as_root npm install --global --no-audit --no-fund --loglevel=error node@22
    hash -r
fi

# Rust: the stable toolchain by rustup, with rustfmt and clippy.
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo >/dev/null; then
    log "installing Rust (rustup, stable)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
fi
if command -v rustup >/dev/null; then
    rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
fi

# tauri-driver: the WebDriver bridge the desktop end-to-end test drives the app through.
if ! command -v tauri-driver >/dev/null; then
    log "installing tauri-driver"
    cargo install tauri-driver --locked --quiet
fi

# cargo-deny: the dependency policy (deny.toml: licences, banned and duplicate crates, sources), run offline.
if ! command -v cargo-deny >/dev/null; then
    log "installing cargo-deny"
    cargo install cargo-deny --locked --quiet
fi

# The UI's npm packages, exactly as locked.
if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
    log "installing the UI's npm packages"
    (cd ui && npm ci --no-audit --no-fund --loglevel=error)
fi

# The far end of the softphone tests (JsSIP, esbuild, playwright-core driving Debian's Chromium), as locked.
farend=tests/fixtures/farend
if [ ! -d $farend/node_modules ] || [ $farend/package-lock.json -nt $farend/node_modules/.package-lock.json ]; then
    log "installing the softphone tests' far end (npm packages)"
    (cd $farend && npm ci --no-audit --no-fund --loglevel=error)
fi
