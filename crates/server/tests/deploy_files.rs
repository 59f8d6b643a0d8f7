//! The deployment files and docs/operations.md against the server they describe: the documented settings
//! are the server's settings, the documented metrics are the ones a running server exports, the Grafana
//! dashboard and the alert rules query only those metrics (and the rules pass promtool and their unit
//! tests), the example configurations pass the server's own check, the systemd unit passes
//! `systemd-analyze verify`, and the Dockerfile and compose file are consistent with the repository.
//! (Docker itself cannot run on the development machine: no engine. See docs/operations.md.)
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use leadline_server::config::SETTINGS;
use yaml_rust2::{Yaml, YamlLoader};

const BIN: &str = env!("CARGO_BIN_EXE_leadline-server");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The lines of docs/operations.md between `<!-- NAME:begin` and `<!-- NAME:end -->` that are table rows
/// (header and separator skipped), split into trimmed cells.
fn doc_table(name: &str) -> Vec<Vec<String>> {
    let doc = read("docs/operations.md");
    let start = doc
        .find(&format!("<!-- {name}:begin"))
        .unwrap_or_else(|| panic!("no {name}:begin marker"));
    let end = doc.find(&format!("<!-- {name}:end -->")).unwrap();
    doc[start..end]
        .lines()
        .filter(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect()
}

fn unquote(cell: &str) -> String {
    cell.trim_matches('`').to_owned()
}

/// The binary with none of the server's settings inherited from the test's environment.
fn command() -> Command {
    let mut cmd = Command::new(BIN);
    for s in SETTINGS {
        for var in s.env {
            cmd.env_remove(var);
        }
    }
    cmd.env_remove(leadline_server::config::CONFIG_ENV);
    cmd
}

#[test]
fn the_documented_settings_are_the_servers_settings() {
    let rows = doc_table("config");
    let documented: BTreeMap<String, &Vec<String>> = rows.iter().map(|r| (unquote(&r[0]), r)).collect();
    assert_eq!(rows.len(), documented.len(), "a setting documented twice");
    let actual: BTreeSet<String> = SETTINGS.iter().map(|s| s.name()).collect();
    assert_eq!(
        documented.keys().cloned().collect::<BTreeSet<_>>(),
        actual,
        "docs/operations.md's settings table differs from config::SETTINGS"
    );
    for s in SETTINGS {
        let row = documented[&s.name()];
        let envs: Vec<String> = row[1].split(", ").map(unquote).collect();
        assert_eq!(envs, s.env, "environment of {}", s.name());
        let flag = match row[2].as_str() {
            "—" => None,
            f => Some(unquote(f)),
        };
        assert_eq!(flag.as_deref(), s.flag, "flag of {}", s.name());
        let default = match row[3].as_str() {
            "—" => None,
            d => Some(unquote(d)),
        };
        assert_eq!(default.as_deref(), s.default, "default of {}", s.name());
        assert_eq!(
            row[4].starts_with("**Secret.**"),
            s.secret,
            "secret mark of {}",
            s.name()
        );
    }
    // Every flag in the table is a real flag of `serve`.
    let help = command().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for s in SETTINGS {
        if let Some(flag) = s.flag {
            assert!(
                help.contains(&format!("{flag} <")),
                "{flag} not in serve --help:\n{help}"
            );
        }
    }
}

/// What a running server exports: metric family name → type (from the `# TYPE` lines), after answering
/// a few requests so every family has samples.
async fn exported_metrics() -> (BTreeMap<String, String>, BTreeSet<String>) {
    let dir = tempfile::tempdir().unwrap();
    let config = leadline_server::ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        jwt_secret: Some("deploy-files-test-secret-0123456789abcdef".into()),
        ..leadline_server::ServeConfig::new(dir.path())
    };
    let server = leadline_server::start(&config).await.unwrap();
    let http = reqwest::Client::new();
    let base = server.base_url();
    assert_eq!(
        http.get(format!("{base}/healthz")).send().await.unwrap().status(),
        200
    );
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    server.stop().await.unwrap();
    let mut families = BTreeMap::new();
    let mut samples = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            families.insert(parts.next().unwrap().to_owned(), parts.next().unwrap().to_owned());
        } else if !line.starts_with('#') && !line.is_empty() {
            let name = line.split(['{', ' ']).next().unwrap();
            samples.insert(name.to_owned());
        }
    }
    assert!(!families.is_empty(), "no metrics:\n{text}");
    (families, samples)
}

/// The names a query may use: every exported sample name, plus Prometheus' own `up`.
fn queryable(families: &BTreeMap<String, String>, samples: &BTreeSet<String>) -> BTreeSet<String> {
    let mut names = samples.clone();
    for (name, kind) in families {
        match kind.as_str() {
            "counter" => {
                names.insert(format!("{name}_total"));
            }
            "histogram" => {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
            _ => {
                names.insert(name.clone());
            }
        }
    }
    names.insert("up".to_owned());
    names
}

/// The metric names a PromQL expression mentions (`leadline_…`, and `up`).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = &expr[start..i];
            let in_label_value = start > 0 && bytes[start - 1] == b'"';
            if !in_label_value && (word.starts_with("leadline_") || word == "up") {
                out.insert(word.to_owned());
            }
        } else {
            i += 1;
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_metrics_dashboard_and_alerts_use_what_the_server_exports() {
    let (families, samples) = exported_metrics().await;
    let names = queryable(&families, &samples);

    // The docs list exactly the exported families, under the names queries use.
    let documented: BTreeMap<String, String> = doc_table("metrics")
        .iter()
        .map(|r| (unquote(&r[0]), r[1].clone()))
        .collect();
    let exported: BTreeMap<String, String> = families
        .iter()
        .map(|(name, kind)| {
            let shown = if kind == "counter" {
                format!("{name}_total")
            } else {
                name.clone()
            };
            (shown, kind.clone())
        })
        .collect();
    assert_eq!(
        documented, exported,
        "docs/operations.md's metrics differ from /metrics"
    );

    // The dashboard: valid JSON, every query on real metrics, every exported family shown somewhere.
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("deploy/grafana/leadline-dashboard.json")).unwrap();
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "panel {} has no query", panel["title"]);
        for t in targets {
            exprs.push(t["expr"].as_str().unwrap().to_owned());
        }
    }
    for var in dashboard["templating"]["list"].as_array().unwrap() {
        exprs.push(var["query"].as_str().unwrap().to_owned());
    }
    let mut used = BTreeSet::new();
    for expr in &exprs {
        let found = metric_names(expr);
        assert!(!found.is_empty(), "a dashboard query names no metric: {expr}");
        for name in found {
            assert!(
                names.contains(&name),
                "dashboard query uses unknown metric {name}: {expr}"
            );
            used.insert(name);
        }
    }
    for (family, kind) in &families {
        let query_name = match kind.as_str() {
            "counter" => format!("{family}_total"),
            "histogram" => format!("{family}_bucket"),
            _ => family.clone(),
        };
        assert!(
            used.contains(&query_name),
            "the dashboard never shows {query_name}"
        );
    }

    // The alert rules: YAML, each rule complete, on real metrics.
    let rules = YamlLoader::load_from_str(&read("deploy/prometheus/alerts.yml")).unwrap();
    let groups = rules[0]["groups"].as_vec().unwrap();
    let mut alerts = 0;
    for group in groups {
        for rule in group["rules"].as_vec().unwrap() {
            let alert = rule["alert"].as_str().unwrap();
            let expr = rule["expr"].as_str().unwrap();
            assert!(rule["for"].as_str().is_some(), "{alert} has no `for`");
            assert!(
                matches!(rule["labels"]["severity"].as_str(), Some("page" | "ticket")),
                "{alert} severity"
            );
            assert!(
                rule["annotations"]["summary"].as_str().is_some(),
                "{alert} summary"
            );
            let found = metric_names(expr);
            assert!(!found.is_empty(), "{alert} names no metric");
            for name in found {
                assert!(names.contains(&name), "{alert} uses unknown metric {name}");
            }
            alerts += 1;
        }
    }
    assert!(alerts >= 5, "{alerts} alerts");
    // Every alert is in the docs' table.
    let doc = read("docs/operations.md");
    for group in groups {
        for rule in group["rules"].as_vec().unwrap() {
            let alert = rule["alert"].as_str().unwrap();
            assert!(doc.contains(&format!("| `{alert}` |")), "{alert} not documented");
        }
    }
}

/// promtool (Debian's prometheus package; scripts/setup.sh installs it) checks the rules' syntax and runs
/// their unit tests.
#[test]
fn alert_rules_pass_promtool() {
    let dir = repo().join("deploy/prometheus");
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| panic!("promtool not found ({e}): scripts/setup.sh installs prometheus"));
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every `KEY=value` line of an environment file.
fn env_file(path: &str) -> Vec<(String, String)> {
    read(path)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("{path}: {l:?} is not KEY=value"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn setting_env_names() -> BTreeSet<String> {
    let mut names: BTreeSet<String> = SETTINGS
        .iter()
        .flat_map(|s| s.env.iter().map(|e| (*e).to_owned()))
        .collect();
    names.insert(leadline_server::config::CONFIG_ENV.to_owned());
    names
}

#[test]
fn example_configurations_pass_the_servers_check() {
    // The systemd example file.
    let out = command()
        .args(["serve", "--check-config", "--config"])
        .arg(repo().join("deploy/systemd/server.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "deploy/systemd/server.toml:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(shown.contains("data_dir = \"/var/lib/leadline\""), "{shown}");

    // The environment files, as they ship (empty values are unset) and with the secrets filled in.
    let known = setting_env_names();
    for path in ["deploy/docker/.env.example", "deploy/systemd/server.env.example"] {
        let vars = env_file(path);
        for (k, _) in &vars {
            assert!(
                known.contains(k) || k == "POSTGRES_PASSWORD",
                "{path}: {k} is not a server setting"
            );
        }
        let mut cmd = command();
        cmd.args(["serve", "--check-config"]);
        for (k, v) in &vars {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{path}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let unit = read("deploy/systemd/leadline-server.service");
    for line in [
        "User=leadline",
        "ExecStart=/usr/local/bin/leadline-server serve --config /etc/leadline/server.toml",
        "EnvironmentFile=-/etc/leadline/server.env",
        "Environment=MALLOC_MMAP_THRESHOLD_=131072",
        "Restart=on-failure",
        "RestartPreventExitStatus=2",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/leadline",
        "PrivateTmp=yes",
        "ProtectHome=yes",
        "CapabilityBoundingSet=",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line:?} missing from the unit");
    }
    // systemd-analyze checks the executable exists: point it at the built binary.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("leadline-server.service");
    std::fs::write(&copy, unit.replace("/usr/local/bin/leadline-server", BIN)).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap_or_else(|e| panic!("systemd-analyze not found ({e}): scripts/setup.sh installs systemd"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify:\n{stderr}"
    );
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(&copy)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let level: f64 = text
        .split("Overall exposure level for leadline-server.service: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    assert!(level <= 2.0, "exposure level {level}:\n{text}");
    // The ExecStart command line is one the binary accepts.
    let out = command()
        .args(["serve", "--check-config", "--config"])
        .arg(repo().join("deploy/systemd/server.toml"))
        .output()
        .unwrap();
    assert!(out.status.success());
}

/// The Dockerfile's instructions, continuation lines joined.
fn dockerfile() -> Vec<String> {
    let text = read("deploy/docker/Dockerfile");
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') && current.is_empty() || trimmed.is_empty() && current.is_empty() {
            continue;
        }
        if let Some(part) = trimmed.strip_suffix('\\') {
            current.push_str(part);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            out.push(std::mem::take(&mut current));
        }
    }
    out
}

#[test]
fn the_dockerfile_builds_what_the_project_builds() {
    let lines = dockerfile();
    let from: Vec<&String> = lines.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(from.len(), 2, "a build stage and a runtime stage: {from:?}");
    assert!(from[0].contains(" AS build"), "{}", from[0]);
    assert!(
        from[1].contains("-slim") || from[1].contains("distroless"),
        "{}",
        from[1]
    );
    // Every COPY from the build context names something in the repository.
    let mut copied = 0;
    for line in lines
        .iter()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from="))
    {
        let words: Vec<&str> = line.split_whitespace().skip(1).collect();
        for source in &words[..words.len() - 1] {
            assert!(
                repo().join(source).exists(),
                "COPY source {source} does not exist"
            );
            copied += 1;
        }
    }
    assert!(copied >= 4, "{copied} COPY sources");
    // The build command is the one docs/operations.md gives, and the binary it names exists.
    let build = "cargo build --release --locked -p leadline-server";
    assert!(
        lines.iter().any(|l| l.starts_with("RUN ") && l.contains(build)),
        "{lines:#?}"
    );
    assert!(read("docs/operations.md").contains(build));
    assert!(read("crates/server/Cargo.toml").contains("name = \"leadline-server\""));
    // The workspace's members are all copied (cargo loads every member's manifest).
    let manifest = read("Cargo.toml");
    let members = &manifest[manifest.find("members = [").unwrap()..];
    let members = &members[..members.find(']').unwrap()];
    for member in members.split('"').skip(1).step_by(2) {
        let top = member.split('/').next().unwrap();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("COPY ") && l.split_whitespace().any(|w| w == top)),
            "workspace member {member} is not copied"
        );
    }
    // Non-root, the port the server listens on exposed, the health check without curl.
    let user = lines.iter().rfind(|l| l.starts_with("USER ")).unwrap();
    assert!(!user.contains("root") && !user.contains(" 0"), "{user}");
    let env = lines.iter().find(|l| l.starts_with("ENV ")).unwrap();
    let port = env
        .split_whitespace()
        .find_map(|w| w.strip_prefix("LEADLINE_LISTEN=0.0.0.0:"))
        .unwrap();
    assert!(
        lines.iter().any(|l| l == &format!("EXPOSE {port}")),
        "EXPOSE {port}"
    );
    let health = lines.iter().find(|l| l.starts_with("HEALTHCHECK ")).unwrap();
    assert!(
        health.contains("\"leadline-server\", \"healthcheck\"")
            && health.contains(&format!("127.0.0.1:{port}/healthz")),
        "{health}"
    );
    assert!(!lines.iter().any(|l| l.contains("curl")), "no curl in the image");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("VOLUME ") && l.contains("/var/lib/leadline"))
    );
    // The runtime stage's environment names are server settings, or glibc's allocator tuning: a fixed
    // mmap threshold, so argon2's big blocks go back to the system after a sign-in burst.
    assert!(env.contains("MALLOC_MMAP_THRESHOLD_=131072"), "{env}");
    let known = setting_env_names();
    for word in env.split_whitespace().skip(1) {
        let name = word.split('=').next().unwrap();
        assert!(
            known.contains(name) || name == "MALLOC_MMAP_THRESHOLD_",
            "ENV {name} is not a server setting"
        );
    }
}

#[test]
fn compose_runs_the_server_on_a_healthy_postgres() {
    let docs = YamlLoader::load_from_str(&read("deploy/docker/compose.yaml")).unwrap();
    let compose = &docs[0];
    let services = &compose["services"];
    let server = &services["server"];
    let postgres = &services["postgres"];
    assert!(!server.is_badvalue() && !postgres.is_badvalue());
    assert_eq!(
        server["depends_on"]["postgres"]["condition"].as_str(),
        Some("service_healthy")
    );
    assert!(
        postgres["healthcheck"]["test"]
            .as_vec()
            .unwrap()
            .iter()
            .any(|t| t.as_str().is_some_and(|t| t.contains("pg_isready")))
    );
    let test: Vec<&str> = server["healthcheck"]["test"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(&test[..3], ["CMD", "leadline-server", "healthcheck"]);
    // The build points at this Dockerfile, from the repository root.
    let context = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/docker")
        .join(server["build"]["context"].as_str().unwrap());
    assert!(
        context
            .join(server["build"]["dockerfile"].as_str().unwrap())
            .exists()
    );
    assert!(
        context.join("Cargo.lock").exists(),
        "the context is the repository root"
    );
    // Named volumes, declared.
    for (service, volume) in [(server, "leadline-data"), (postgres, "pgdata")] {
        assert!(
            service["volumes"]
                .as_vec()
                .unwrap()
                .iter()
                .any(|v| v.as_str().is_some_and(|v| v.starts_with(&format!("{volume}:"))))
        );
        assert!(
            !compose["volumes"][volume].is_badvalue(),
            "volume {volume} not declared"
        );
    }
    // The server's environment names are server settings; every ${VAR} is in .env.example.
    let known = setting_env_names();
    let environment = server["environment"].as_hash().unwrap();
    for key in environment.keys() {
        let key = key.as_str().unwrap();
        assert!(
            known.contains(key),
            "compose sets {key}, which is not a server setting"
        );
    }
    assert_eq!(server["env_file"].as_str(), Some(".env"));
    let example: BTreeSet<String> = env_file("deploy/docker/.env.example")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let text = read("deploy/docker/compose.yaml");
    for part in text.split("${").skip(1) {
        let name: String = part
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        assert!(example.contains(&name), "${{{name}}} is not in .env.example");
    }
    // Secrets are not written into compose.yaml itself.
    for s in SETTINGS.iter().filter(|s| s.secret) {
        for var in s.env {
            if let Some(v) = environment.get(&Yaml::String((*var).to_owned())) {
                assert!(
                    v.as_str().is_some_and(|v| v.contains("${")),
                    "{var} is written into compose.yaml"
                );
            }
        }
    }
}
