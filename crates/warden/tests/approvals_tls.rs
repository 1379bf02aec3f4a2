//! TLS for every client Warden has, against real local TLS servers made from a throw-away CA:
//! `warden serve --tls-cert --tls-key` with `warden run` and `warden approvals` over `https://`
//! end to end; the system store (`SSL_CERT_FILE`) and `WARDEN_CA_FILE` honoured; an untrusted
//! certificate refused; webhooks delivered over `https://` (and not to an untrusted endpoint);
//! a webhook URL that cannot work rejected when the policy loads, with line and column.

use serde_json::Value;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

#[allow(dead_code, reason = "shared support; this file uses part of it")]
#[path = "support/serve.rs"]
mod serve;
#[path = "support/tls.rs"]
mod tls;

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");
const ADMIN: &str = "wdn_test_admin_token_tls_0123456789";

const POLICY: &str = r#"
[approvals.groups.security]
members = []
[[approvals.route]]
category = ["credential-access"]
groups = ["security"]
timeout = "60s"
"#;

/// `warden serve` over TLS in `dir` with extra environment; returns once it listens.
fn serve_tls(dir: &Path, pki: &tls::TestPki, env: &[(&str, &Path)]) -> serve::Running {
    let mut cmd = Command::new(WARDEN);
    cmd.current_dir(dir)
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--policy", "policy.toml"])
        .args(["--db", "sqlite:approvals.db"])
        .arg("--tls-cert")
        .arg(&pki.cert)
        .arg("--tls-key")
        .arg(&pki.key)
        .env("WARDEN_ADMIN_TOKEN", ADMIN)
        .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    serve::start_and_read(cmd, "warden serve: listening on ")
}

/// `warden approvals ARGS` trusting `ca` through `WARDEN_CA_FILE` (no extra trust when `None`).
fn cli(url: &str, token: &str, ca: Option<&Path>, args: &[&str]) -> Output {
    let mut c = serve::approvals_cli(url, token, args);
    c.env_remove("WARDEN_CA_FILE");
    if let Some(ca) = ca {
        c.env("WARDEN_CA_FILE", ca);
    }
    c.output().unwrap()
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

fn token(url: &str, ca: &Path, role: &str, name: &str, groups: &str) -> String {
    ok(cli(
        url,
        ADMIN,
        Some(ca),
        &[
            "token", "create", "--role", role, "--name", name, "--groups", groups,
        ],
    ))
}

fn pending(url: &str, token: &str, ca: &Path) -> Vec<String> {
    let out = ok(cli(url, token, Some(ca), &["--json", "list"]));
    let v: Value = serde_json::from_str(&out).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn wait_child(c: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if let Some(s) = c.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = c.kill();
    None
}

#[test]
fn warden_run_and_approvals_over_https_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.toml"), POLICY).unwrap();
    let pki = tls::make_pki(dir.path(), "server");
    let s = serve_tls(dir.path(), &pki, &[]);
    assert!(s.url.starts_with("https://127.0.0.1:"), "{}", s.url);
    let agent = token(&s.url, &pki.ca, "agent", "bot", "");
    let alice = token(&s.url, &pki.ca, "approver", "alice", "security");

    let ws = dir.path().join("ws");
    std::fs::create_dir_all(ws.join(".git")).unwrap();
    std::fs::write(ws.join(".env"), "canary-over-tls\n").unwrap();
    let mut run = Command::new(WARDEN)
        .current_dir(&ws)
        .args(["run", "--", "cat", ".env"])
        .env("WARDEN_SERVER", &s.url)
        .env("WARDEN_TOKEN", &agent)
        .env("WARDEN_CA_FILE", &pki.ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let id = loop {
        if let Some(id) = pending(&s.url, &alice, &pki.ca).into_iter().next() {
            break id;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "no pending request");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(run.try_wait().unwrap().is_none(), "sync waits for approval");
    ok(cli(&s.url, &alice, Some(&pki.ca), &["approve", &id]));
    let st = wait_child(&mut run, Duration::from_secs(30)).expect("warden run finished");
    let mut out = String::new();
    run.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let mut err = String::new();
    run.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(st.code(), Some(0), "{err}");
    assert_eq!(out, "canary-over-tls\n");
    let status = ok(cli(&s.url, &alice, Some(&pki.ca), &["status", &id]));
    assert!(status.contains("consumed"), "{status}");
}

#[test]
fn untrusted_certificates_are_refused_and_the_system_store_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.toml"), POLICY).unwrap();
    let pki = tls::make_pki(dir.path(), "server");
    let evil = tls::make_pki(dir.path(), "evil");
    let s = serve_tls(dir.path(), &pki, &[]);
    // No trust in the test CA: refused (the old client had no TLS settings; a self-made CA must
    // never be accepted by default).
    for ca in [None, Some(evil.ca.as_path())] {
        let o = cli(&s.url, ADMIN, ca, &["list"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "trusted an unknown CA ({ca:?})");
        assert!(
            err.contains("cannot reach the approval server") && err.contains("ssuer"),
            "{err}"
        );
    }
    // The system trust store, redirected by SSL_CERT_FILE, is honoured.
    let mut c = serve::approvals_cli(&s.url, ADMIN, &["list"]);
    c.env_remove("WARDEN_CA_FILE").env("SSL_CERT_FILE", &pki.ca);
    ok(c.output().unwrap());
    // Plain HTTP to the TLS port is not served.
    let plain = s.url.replace("https://", "http://");
    assert!(
        !cli(&plain, ADMIN, Some(&pki.ca), &["list"])
            .status
            .success()
    );
    // A CA file that does not exist is an error, not silently ignored.
    let o = cli(
        &s.url,
        ADMIN,
        Some(&dir.path().join("missing.pem")),
        &["list"],
    );
    assert!(!o.status.success());
}

#[test]
fn webhooks_are_delivered_over_https_and_never_to_an_untrusted_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let server_pki = tls::make_pki(dir.path(), "server");
    let hook_pki = tls::make_pki(dir.path(), "hook");
    let evil_pki = tls::make_pki(dir.path(), "evil");
    let good = tls::https_receiver(&hook_pki, "ok");
    let evil = tls::https_receiver(&evil_pki, "ok");
    let policy = format!(
        "{POLICY}\n[approvals.groups.hooked]\nwebhook = \"https://127.0.0.1:{}/services/T0/B0/secret\"\n\
         [approvals.groups.spoofed]\nwebhook = \"https://localhost:{}/hook\"\n\
         [[approvals.route]]\ncategory = [\"hooked\"]\ngroups = [\"hooked\", \"spoofed\"]\n",
        good.port, evil.port
    );
    std::fs::write(dir.path().join("policy.toml"), policy).unwrap();
    let s = serve_tls(dir.path(), &server_pki, &[("WARDEN_CA_FILE", &hook_pki.ca)]);
    let ca = &server_pki.ca;
    let agent = token(&s.url, ca, "agent", "bot", "");
    let hank = token(&s.url, ca, "approver", "hank", "hooked");
    let o = cli(
        &s.url,
        &agent,
        Some(ca),
        &[
            "request",
            "--tier",
            "async",
            "--category",
            "hooked",
            "--",
            // The server's policy runs it `auto`, so the filed category routes it.
            "make",
            "deploy",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let id = String::from_utf8(o.stdout).unwrap().trim().to_owned();
    let first = good.rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        first.head.starts_with("POST /services/T0/B0/secret "),
        "{}",
        first.head
    );
    let body: Value = serde_json::from_slice(&first.body).unwrap();
    assert!(body["text"].as_str().unwrap().contains(&id), "{body}");
    ok(cli(&s.url, &hank, Some(ca), &["deny", &id]));
    let second = good.rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(String::from_utf8_lossy(&second.body).contains("denied"));
    // The endpoint with a certificate from an unknown CA never received a request: every
    // attempt failed in the handshake.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        evil.rx.try_recv().is_err(),
        "delivered to an untrusted endpoint"
    );
    let failed = evil.failed_handshakes.lock().unwrap().clone();
    assert!(!failed.is_empty(), "the untrusted endpoint saw no attempt");
}

#[test]
fn a_webhook_url_that_cannot_work_is_rejected_when_the_policy_loads() {
    let dir = tempfile::tempdir().unwrap();
    for (url, why) in [
        (
            "hooks.example.invalid/services/T0/B0/x",
            "must start with `https://`",
        ),
        (
            "ftp://hooks.example.invalid/x",
            "must start with `https://`",
        ),
        (
            "https://user:pw@hooks.example.invalid/x",
            "user name or password",
        ),
        ("https://hooks.example.invalid:99999/x", "invalid port"),
        ("https:///x", "no host"),
    ] {
        let policy = format!("{POLICY}\n[approvals.groups.ops]\nwebhook = \"{url}\"\n");
        std::fs::write(dir.path().join("policy.toml"), &policy).unwrap();
        let o = Command::new(WARDEN)
            .current_dir(dir.path())
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--policy",
                "policy.toml",
            ])
            .args(["--db", "sqlite:approvals.db"])
            .env("WARDEN_ADMIN_TOKEN", ADMIN)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{url} accepted");
        // The value's line in the file, and its column (after `webhook = `).
        let line = policy
            .lines()
            .position(|l| l.starts_with("webhook = "))
            .unwrap()
            + 1;
        assert!(
            err.contains(&format!("policy.toml:{line}:11")),
            "no line:column for {url}: {err}"
        );
        assert!(err.contains(why), "{url}: {err}");
    }
}
