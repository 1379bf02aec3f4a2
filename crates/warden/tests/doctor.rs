//! `warden doctor` on this machine with real parts: this kernel (and features pretended missing
//! with warden-sandbox's switch), real agent configurations written by `warden init --agent`
//! and broken by hand, a real `warden serve` (plain and TLS from a throw-away CA) asked with a
//! good and a wrong token, a real loopback HTTP listener standing in for an OTLP collector, and
//! the network allowlist's origins. Exit 0 only when nothing the policy asks for is missing.

#![cfg(target_os = "linux")]

#[allow(dead_code, reason = "shared support; this file uses part of it")]
#[path = "support/serve.rs"]
mod serve;
#[path = "support/tls.rs"]
mod tls;

use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");
const ADMIN: &str = "wdn_test_admin_token_doctor_0123456789";

/// A fresh workspace (a git repository) under the target's temp dir.
fn workspace() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("doctor-ws-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("tempdir");
    std::fs::create_dir(d.path().join(".git")).expect("mkdir .git");
    d
}

/// `warden doctor ARGS` in `ws` with none of the caller's Warden or OTLP settings.
fn doctor(ws: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(WARDEN);
    c.arg("doctor")
        .args(args)
        .current_dir(ws)
        .stdin(Stdio::null());
    for k in [
        "WARDEN_SERVER",
        "WARDEN_TOKEN",
        "WARDEN_ORG_POLICY",
        "WARDEN_CA_FILE",
        "WARDEN_SANDBOX_PRETEND_MISSING",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    ] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("warden doctor")
}

/// `warden doctor --json` parsed, with its exit code.
fn doctor_json(ws: &Path, env: &[(&str, &str)]) -> (i32, Value) {
    let o = doctor(ws, &["--json"], env);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o.status.code().expect("exit code"), v)
}

/// The problems with `severity` whose check starts with `prefix`.
fn problems<'a>(v: &'a Value, severity: &str, prefix: &str) -> Vec<&'a Value> {
    v["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter(|p| p["severity"] == severity && p["check"].as_str().unwrap().starts_with(prefix))
        .collect()
}

fn errors(v: &Value) -> Vec<String> {
    problems(v, "error", "")
        .iter()
        .map(|p| format!("{}: {}", p["check"], p["problem"]))
        .collect()
}

#[test]
fn a_fresh_workspace_on_this_kernel_is_enforced() {
    let ws = workspace();
    let (code, v) = doctor_json(ws.path(), &[]);
    assert_eq!(code, 0, "errors: {:#?}", errors(&v));
    assert_eq!(v["schema"], "warden-doctor/1");
    assert_eq!(v["ok"], true);
    assert_eq!(v["kernel"]["user_namespaces"], true);
    assert!(v["kernel"]["landlock_abi"].as_u64().unwrap() >= 1);
    assert_eq!(v["kernel"]["seccomp"], true);
    assert_eq!(v["kernel"]["exec_notify"], true);
    assert_eq!(v["sandbox"]["trial"], "ok", "{v:#}");
    assert_eq!(v["sandbox"]["staging"], "ok", "{v:#}");
    assert_eq!(v["sandbox"]["refused"], serde_json::json!([]));
    // Only the built-in layer; its digest is the merged policy's input.
    let layers = v["policy"]["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["layer"], "built-in");
    assert!(
        v["policy"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    for a in v["agents"].as_array().unwrap() {
        assert_eq!(a["status"], "absent", "{a}");
    }
    assert_eq!(v["approval_server"]["configured"], false);
    assert_eq!(v["otlp"]["configured"], false);
    // The forge list is on by default; every rule says where it came from.
    let net = v["network"].as_array().unwrap();
    assert!(net.iter().any(|r| r["origin"] == "forge-list"), "{net:#?}");
    assert!(
        net.iter()
            .all(|r| !r["source"].as_str().unwrap().is_empty())
    );
    // The human form ends the same way.
    let o = doctor(ws.path(), &[], &[]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("Everything the policy asks for is enforced") || text.contains("No problems"),
        "{text}"
    );
}

/// Approved new paths outside the workspace are staged in an overlay whose upper layer needs
/// user extended attributes: a `TMPDIR` on ramfs (which keeps none) is found by trying, and
/// warned about with the fix; `warden doctor` itself still passes (a degradation).
#[test]
fn a_staging_directory_without_user_extended_attributes_is_a_warning() {
    let ws = workspace();
    let ramfs = ws.path().join("ramfs");
    std::fs::create_dir(&ramfs).expect("mkdir");
    // A private mount namespace of our own, so nothing is mounted on the host.
    let script = format!(
        "mount -t ramfs none '{0}' && '{WARDEN}' doctor --json; echo \"left: [$(ls -A '{0}')]\" >&2",
        ramfs.display()
    );
    let o = Command::new("unshare")
        .args(["-rm", "sh", "-c", &script])
        .current_dir(ws.path())
        .env("TMPDIR", &ramfs)
        .env_remove("WARDEN_SERVER")
        .env_remove("WARDEN_ORG_POLICY")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdin(Stdio::null())
        .output()
        .expect("unshare");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    assert_eq!(v["sandbox"]["staging_dir"], ramfs.display().to_string());
    let why = v["sandbox"]["staging"].as_str().unwrap();
    assert!(why.contains("extended attributes"), "{why}");
    let warned = problems(&v, "warning", "sandbox.staging");
    assert_eq!(warned.len(), 1, "{v:#}");
    assert!(warned[0]["fix"].as_str().unwrap().contains("TMPDIR"));
    // Nothing of the probe is left behind.
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("left: []"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn features_the_kernel_lacks_fail_with_the_fix() {
    let ws = workspace();
    let (code, v) = doctor_json(
        ws.path(),
        &[("WARDEN_SANDBOX_PRETEND_MISSING", "landlock,exec_notify")],
    );
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["ok"], false);
    let landlock = problems(&v, "error", "kernel.landlock");
    assert_eq!(landlock.len(), 1, "{v:#}");
    assert!(
        landlock[0]["problem"]
            .as_str()
            .unwrap()
            .contains("refuses to start"),
        "{v:#}"
    );
    assert!(landlock[0]["fix"].as_str().unwrap().contains("lsm="));
    let exec = problems(&v, "error", "kernel.exec-notify");
    assert_eq!(exec.len(), 1, "{v:#}");
    assert!(exec[0]["fix"].as_str().unwrap().contains("Linux 5.5"));
    // Refused anyway, so no trial sandbox is started.
    assert_eq!(v["sandbox"]["trial"], "skipped");
    assert_eq!(v["sandbox"]["refused"].as_array().unwrap().len(), 2);

    // User namespaces missing: every namespace goes.
    let (code, v) = doctor_json(ws.path(), &[("WARDEN_SANDBOX_PRETEND_MISSING", "userns")]);
    assert_eq!(code, 1);
    assert_eq!(v["kernel"]["namespaces"], serde_json::json!([]));
    let ns = problems(&v, "error", "kernel.namespaces");
    assert!(
        ns[0]["fix"]
            .as_str()
            .unwrap()
            .contains("max_user_namespaces")
    );

    // The person's form names the problem and the fix.
    let o = doctor(
        ws.path(),
        &[],
        &[("WARDEN_SANDBOX_PRETEND_MISSING", "seccomp")],
    );
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("error [kernel.seccomp]"), "{text}");
    assert!(
        text.contains("fix: use a kernel built with CONFIG_SECCOMP_FILTER"),
        "{text}"
    );
}

#[test]
fn a_claude_code_hook_pointing_at_another_binary_is_broken() {
    let ws = workspace();
    let init = Command::new(WARDEN)
        .args(["init", "--agent", "claude-code"])
        .current_dir(ws.path())
        .output()
        .expect("warden init");
    assert!(init.status.success(), "{init:?}");
    // As `warden init` wrote it: live and pointing here.
    let (code, v) = doctor_json(ws.path(), &[]);
    assert_eq!(code, 0, "errors: {:#?}", errors(&v));
    let claude = &v["agents"][0];
    assert_eq!(claude["agent"], "claude-code");
    assert_eq!(claude["status"], "installed", "{claude:#}");
    assert!(
        claude["invocations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["points_at_this_warden"] == true && i["uses_this_policy"] == true)
    );
    // The repository policy now exists, so it is a layer with its digest.
    let layers = v["policy"]["layers"].as_array().unwrap();
    assert_eq!(layers.last().unwrap()["layer"], "repository");

    // Another `warden` (an old copy somewhere else) in the hooks.
    let other = ws.path().join("old-bin");
    std::fs::create_dir(&other).unwrap();
    let fake = other.join("warden");
    std::fs::write(&fake, "#!/bin/sh\nexit 0\n").unwrap();
    let settings = ws.path().join(".claude/settings.json");
    let text = std::fs::read_to_string(&settings).unwrap();
    let exe = std::fs::canonicalize(WARDEN).unwrap();
    let moved = text.replace(exe.to_str().unwrap(), fake.to_str().unwrap());
    assert_ne!(moved, text, "the hook names this binary");
    std::fs::write(&settings, moved).unwrap();
    let (code, v) = doctor_json(ws.path(), &[]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["agents"][0]["status"], "broken");
    let found = problems(&v, "error", "agent.claude-code");
    assert!(!found.is_empty(), "{v:#}");
    assert!(
        found[0]["problem"]
            .as_str()
            .unwrap()
            .contains(fake.to_str().unwrap())
    );
    assert!(
        found[0]["fix"]
            .as_str()
            .unwrap()
            .contains("init --agent claude-code --force")
    );
    // The fix it names repairs it.
    let fixed = Command::new(WARDEN)
        .args(["init", "--agent", "claude-code", "--force"])
        .current_dir(ws.path())
        .output()
        .unwrap();
    assert!(fixed.status.success());
    assert_eq!(doctor_json(ws.path(), &[]).0, 0);

    // A hook deciding with another governance file, and one with no PreToolUse at all.
    std::fs::write(
        &settings,
        format!(
            r#"{{"hooks": {{"PostToolUse": [{{"matcher": "*", "hooks": [{{"type": "command",
                "command": "'{}' hook claude-code --policy other.toml"}}]}}]}}}}"#,
            exe.display()
        ),
    )
    .unwrap();
    let (code, v) = doctor_json(ws.path(), &[]);
    assert_eq!(code, 1);
    let msgs: Vec<&str> = problems(&v, "error", "agent.claude-code")
        .iter()
        .map(|p| p["problem"].as_str().unwrap())
        .collect();
    assert!(
        msgs.iter().any(|m| m.contains("hooks.PreToolUse")),
        "{msgs:#?}"
    );
    assert!(msgs.iter().any(|m| m.contains("other.toml")), "{msgs:#?}");

    // A settings file that is not JSON: Claude Code's hooks cannot be in force.
    std::fs::write(&settings, "{ not json").unwrap();
    let (code, v) = doctor_json(ws.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(v["agents"][0]["status"], "broken");
}

#[test]
fn the_approval_server_token_is_checked() {
    let ws = workspace();
    let dir = tempfile::tempdir().unwrap();
    let s = serve::serve(
        dir.path(),
        ADMIN,
        ["--listen", "127.0.0.1:0", "--db", "sqlite:approvals.db"],
    );
    let agent = serve::create_token(&s.url, ADMIN, "agent", "doctor-bot", "");
    let (code, v) = doctor_json(
        ws.path(),
        &[("WARDEN_SERVER", &s.url), ("WARDEN_TOKEN", &agent)],
    );
    assert_eq!(code, 0, "errors: {:#?}", errors(&v));
    assert_eq!(v["approval_server"]["token_accepted"], true);
    assert_eq!(v["approval_server"]["identity"]["name"], "doctor-bot");
    assert_eq!(v["approval_server"]["tls"], "none");

    let wrong = "wdn_not_a_token_of_this_server_000000000";
    let (code, v) = doctor_json(
        ws.path(),
        &[("WARDEN_SERVER", &s.url), ("WARDEN_TOKEN", wrong)],
    );
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["approval_server"]["token_accepted"], false);
    let p = problems(&v, "error", "approval-server.token");
    assert_eq!(p.len(), 1, "{v:#}");
    assert!(p[0]["fix"].as_str().unwrap().contains("WARDEN_TOKEN"));
    // The token itself never reaches the output.
    let o = doctor(
        ws.path(),
        &[],
        &[("WARDEN_SERVER", &s.url), ("WARDEN_TOKEN", wrong)],
    );
    assert!(!String::from_utf8_lossy(&o.stdout).contains(wrong));
    assert!(!String::from_utf8_lossy(&o.stderr).contains(wrong));

    // A server named but no token: approvals cannot be filed.
    let (code, v) = doctor_json(ws.path(), &[("WARDEN_SERVER", &s.url)]);
    assert_eq!(code, 1);
    assert_eq!(problems(&v, "error", "approval-server").len(), 1);
}

#[test]
fn the_approval_server_tls_certificate_must_verify() {
    let ws = workspace();
    let dir = tempfile::tempdir().unwrap();
    let pki = tls::make_pki(dir.path(), "server");
    let s = serve::serve(
        dir.path(),
        ADMIN,
        [
            "--listen",
            "127.0.0.1:0",
            "--db",
            "sqlite:approvals.db",
            "--tls-cert",
            pki.cert.to_str().unwrap(),
            "--tls-key",
            pki.key.to_str().unwrap(),
        ],
    );
    assert!(s.url.starts_with("https://"), "{}", s.url);
    let ca = pki.ca.to_str().unwrap();
    let token = {
        let o = serve::approvals_cli(
            &s.url,
            ADMIN,
            &["token", "create", "--role", "agent", "--name", "tls-bot"],
        )
        .env("WARDEN_CA_FILE", ca)
        .output()
        .unwrap();
        assert!(o.status.success(), "{o:?}");
        String::from_utf8(o.stdout).unwrap().trim().to_owned()
    };
    // Without the CA: the certificate does not verify.
    let (code, v) = doctor_json(
        ws.path(),
        &[("WARDEN_SERVER", &s.url), ("WARDEN_TOKEN", &token)],
    );
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["approval_server"]["tls"], "failed", "{v:#}");
    let p = problems(&v, "error", "approval-server.tls");
    assert!(p[0]["fix"].as_str().unwrap().contains("WARDEN_CA_FILE"));
    // Trusting the CA that issued it: verified, and the token accepted.
    let (code, v) = doctor_json(
        ws.path(),
        &[
            ("WARDEN_SERVER", &s.url),
            ("WARDEN_TOKEN", &token),
            ("WARDEN_CA_FILE", ca),
        ],
    );
    assert_eq!(code, 0, "errors: {:#?}", errors(&v));
    assert_eq!(v["approval_server"]["tls"], "verified");
    assert_eq!(v["approval_server"]["token_accepted"], true);
}

/// A loopback HTTP listener answering every request with `status`, counting requests.
fn collector(status: u16) -> (u16, std::sync::mpsc::Receiver<String>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming().take(4) {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 8192];
            let n = s.read(&mut buf).unwrap_or(0);
            let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\ncontent-length: 2\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{{}}"
            );
        }
    });
    (port, rx)
}

#[test]
fn the_otlp_collector_is_tried() {
    let ws = workspace();
    let (port, rx) = collector(200);
    let endpoint = format!("http://127.0.0.1:{port}");
    let (code, v) = doctor_json(ws.path(), &[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)]);
    assert_eq!(code, 0, "errors: {:#?}", errors(&v));
    assert_eq!(v["otlp"]["reachable"], true);
    assert_eq!(
        v["otlp"]["traces_endpoint"],
        format!("{endpoint}/v1/traces")
    );
    let head = rx.recv().unwrap();
    assert!(head.starts_with("POST /v1/traces "), "{head}");

    // A collector that is not there (a port just closed).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let (code, v) = doctor_json(ws.path(), &[("OTEL_EXPORTER_OTLP_ENDPOINT", &gone)]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["otlp"]["reachable"], false);
    assert_eq!(problems(&v, "error", "otlp").len(), 1);

    // One that refuses the export (e.g. a missing auth header).
    let (port, _rx) = collector(401);
    let (code, v) = doctor_json(
        ws.path(),
        &[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            &format!("http://127.0.0.1:{port}"),
        )],
    );
    assert_eq!(code, 1);
    assert!(
        problems(&v, "error", "otlp")[0]["problem"]
            .as_str()
            .unwrap()
            .contains("401")
    );
}

#[test]
fn layers_locks_and_where_each_host_came_from() {
    let ws = workspace();
    let org = ws.path().join("org-policy.toml");
    std::fs::write(
        &org,
        "lock = [\"defaults.unknown_unsandboxed\"]\n\n[network]\nallow = [\"artifacts.corp.invalid\"]\n",
    )
    .unwrap();
    std::fs::create_dir(ws.path().join(".warden")).unwrap();
    std::fs::write(
        ws.path().join(".warden/policy.toml"),
        "version = 1\n\n[network]\nallow = [\"api.example.invalid\"]\ndeny = [\"evil.example.invalid\"]\n",
    )
    .unwrap();
    // A git remote of the workspace.
    std::fs::write(
        ws.path().join(".git/config"),
        "[remote \"origin\"]\n\turl = https://git.corp.invalid/team/repo.git\n",
    )
    .unwrap();
    let (code, v) = doctor_json(ws.path(), &[("WARDEN_ORG_POLICY", org.to_str().unwrap())]);
    assert_eq!(code, 0, "errors: {:#?}", errors(&v));
    let layers = v["policy"]["layers"].as_array().unwrap();
    let names: Vec<&str> = layers
        .iter()
        .map(|l| l["layer"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["built-in", "organisation", "repository"]);
    assert_eq!(
        layers[1]["locks"],
        serde_json::json!(["defaults.unknown_unsandboxed"])
    );
    assert!(layers[1]["sha256"].as_str().unwrap().starts_with("sha256:"));
    let net = v["network"].as_array().unwrap();
    let rule = |target: &str| {
        net.iter()
            .find(|r| r["target"].as_str().unwrap().starts_with(target))
            .unwrap_or_else(|| panic!("{target} not in {net:#?}"))
    };
    let repo = rule("api.example.invalid");
    assert_eq!(repo["origin"], "policy");
    assert!(
        repo["source"]
            .as_str()
            .unwrap()
            .ends_with(".warden/policy.toml"),
        "{repo}"
    );
    let corp = rule("artifacts.corp.invalid");
    assert_eq!(corp["source"], org.to_str().unwrap());
    let deny = rule("evil.example.invalid");
    assert_eq!(deny["action"], "deny");
    let remote = rule("git.corp.invalid");
    assert_eq!(remote["origin"], "git-remote");
    assert!(
        remote["source"].as_str().unwrap().contains("origin"),
        "{remote}"
    );
}
