//! The pluggable reviewer (`[approvals.reviewer]`) with a real `warden serve` and real reviewer
//! programs: approve, deny and escalate are votes by `reviewer:<name>`; a timeout, garbage, a
//! failing program and a request above `max_tier` all leave the request to people, never
//! approved.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[allow(dead_code, reason = "shared support; this file uses part of it")]
#[path = "support/serve.rs"]
mod serve;

const ADMIN: &str = "wdn_test_admin_token_reviewer_0123456789";

/// A server whose reviewer is the shell script `script` (run with `sh`), reviewing up to
/// `max_tier` with `timeout`. Returns the server, an agent token and an approver token.
fn start(
    dir: &Path,
    script: &str,
    max_tier: &str,
    timeout: &str,
) -> (serve::Running, String, String) {
    let prog = dir.join("reviewer.sh");
    std::fs::write(&prog, script).unwrap();
    let policy = format!(
        r#"
[approvals.groups.security]
members = []
[[approvals.route]]
category = ["*"]
groups = ["security"]
timeout = "60s"
[approvals.reviewer]
name = "bot"
command = ["sh", "{}", "{}"]
max_tier = "{max_tier}"
timeout = "{timeout}"
"#,
        prog.display(),
        dir.display()
    );
    std::fs::write(dir.join("policy.toml"), policy).unwrap();
    let s = serve::serve(
        dir,
        ADMIN,
        [
            "--listen",
            "127.0.0.1:0",
            "--policy",
            "policy.toml",
            "--db",
            "sqlite:a.db",
            "--audit-log",
            "audit.jsonl",
        ],
    );
    let agent = serve::create_token(&s.url, ADMIN, "agent", "agent-1", "");
    let alice = serve::create_token(&s.url, ADMIN, "approver", "alice", "security");
    (s, agent, alice)
}

fn file_async(url: &str, agent: &str) -> String {
    let o = serve::approvals_cli(
        url,
        agent,
        &[
            "request",
            "--tier",
            "async",
            "--category",
            "deploy",
            "--",
            "git",
            "push",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(
        o.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

fn show(url: &str, token: &str, id: &str) -> Value {
    let o: Output = serve::approvals_cli(url, token, &["--json", "show", id])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Waits until request `id` has a vote by the reviewer (or `limit` passes); returns the request.
fn after_review(url: &str, token: &str, id: &str, limit: Duration) -> Value {
    let t0 = Instant::now();
    loop {
        let r = show(url, token, id);
        let voted = r["votes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["approver"] == "reviewer:bot");
        if voted || t0.elapsed() > limit {
            return r;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn reviewer_vote(r: &Value) -> (String, String) {
    let v = r["votes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["approver"] == "reviewer:bot")
        .unwrap_or_else(|| panic!("no reviewer vote: {r}"));
    (
        v["verdict"].as_str().unwrap().to_owned(),
        v["comment"].as_str().unwrap_or("").to_owned(),
    )
}

const ANSWER: &str =
    "#!/bin/sh\ncat > \"$1/seen.json\"\necho '{\"decision\":\"DECISION\",\"reason\":\"REASON\"}'\n";

#[test]
fn an_approving_reviewer_is_a_vote_that_meets_the_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let script = ANSWER
        .replace("DECISION", "approve")
        .replace("REASON", "read-only and harmless");
    let (s, agent, alice) = start(dir.path(), &script, "async", "10s");
    let id = file_async(&s.url, &agent);
    let r = after_review(&s.url, &alice, &id, Duration::from_secs(15));
    assert_eq!(r["status"], "approved", "{r}");
    assert_eq!(
        reviewer_vote(&r),
        ("approve".into(), "read-only and harmless".into())
    );
    // It saw the request as JSON on stdin, with the digest it approved.
    let seen: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("seen.json")).unwrap())
            .unwrap();
    assert_eq!(seen["id"], id.as_str());
    assert_eq!(seen["action_digest"], r["action_digest"]);
    assert_eq!(seen["action"]["argv"], serde_json::json!(["git", "push"]));
    // The report names the reviewer's votes.
    let o = Command::new(env!("CARGO_BIN_EXE_warden"))
        .current_dir(dir.path())
        .args(["report", "--log", "audit.jsonl", "--policy", "policy.toml"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("reviewer:bot: 1 approve"), "{text}");
}

#[test]
fn a_denying_reviewer_vetoes() {
    let dir = tempfile::tempdir().unwrap();
    let script = ANSWER
        .replace("DECISION", "deny")
        .replace("REASON", "pushes to main");
    let (s, agent, alice) = start(dir.path(), &script, "sync", "10s");
    let id = file_async(&s.url, &agent);
    let r = after_review(&s.url, &alice, &id, Duration::from_secs(15));
    assert_eq!(r["status"], "denied", "{r}");
    assert!(
        r["reason"].as_str().unwrap().contains("reviewer:bot"),
        "{r}"
    );
    assert_eq!(reviewer_vote(&r), ("deny".into(), "pushes to main".into()));
}

/// Escalations and every failure: recorded as an `escalate` vote, the request stays pending,
/// and a person can still approve it.
#[test]
fn escalate_timeout_garbage_and_failure_leave_it_to_people() {
    let cases = [
        (
            ANSWER
                .replace("DECISION", "escalate")
                .replace("REASON", "unsure"),
            "unsure",
        ),
        (
            "#!/bin/sh\nsleep 30\necho '{\"decision\":\"approve\"}'\n".to_owned(),
            "timed out",
        ),
        (
            "#!/bin/sh\ncat >/dev/null\necho 'approve, looks fine'\n".to_owned(),
            "malformed answer",
        ),
        (
            "#!/bin/sh\necho '{\"decision\":\"approve\",\"confidence\":1}'\n".to_owned(),
            "malformed answer",
        ),
        (
            "#!/bin/sh\necho '{\"decision\":\"yes\"}'\n".to_owned(),
            "unknown decision",
        ),
        // An array serde would read as the struct's fields: still not an answer.
        (
            "#!/bin/sh\necho '[\"approve\"]'\n".to_owned(),
            "not a JSON object",
        ),
        (
            "#!/bin/sh\necho '{\"decision\":\"approve\"}'\nexit 3\n".to_owned(),
            "exited with",
        ),
    ];
    for (script, why) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (s, agent, alice) = start(dir.path(), &script, "async", "1s");
        let id = file_async(&s.url, &agent);
        let r = after_review(&s.url, &alice, &id, Duration::from_secs(15));
        assert_eq!(r["status"], "pending", "{why}: {r}");
        let (verdict, comment) = reviewer_vote(&r);
        assert_eq!(verdict, "escalate", "{why}: {r}");
        assert!(comment.contains(why), "{why}: {comment}");
        let o = serve::approvals_cli(&s.url, &alice, &["approve", &id])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(show(&s.url, &alice, &id)["status"], "approved");
    }
}

#[test]
fn a_request_above_max_tier_is_never_reviewed() {
    let dir = tempfile::tempdir().unwrap();
    let script = ANSWER
        .replace("DECISION", "approve")
        .replace("REASON", "ok");
    let (s, agent, alice) = start(dir.path(), &script, "async", "10s");
    let mut sync = serve::approvals_cli(
        &s.url,
        &agent,
        &[
            "request",
            "--tier",
            "sync",
            "--category",
            "deploy",
            "--",
            "git",
            "push",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let t0 = Instant::now();
    let id = loop {
        let o = serve::approvals_cli(&s.url, &alice, &["--json", "list"])
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
        if let Some(id) = v.get(0).and_then(|r| r["id"].as_str()) {
            break id.to_owned();
        }
        assert!(t0.elapsed() < Duration::from_secs(15));
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_secs(2));
    let r = show(&s.url, &alice, &id);
    assert_eq!(r["status"], "pending", "{r}");
    assert!(r["votes"].as_array().unwrap().is_empty(), "{r}");
    assert!(
        !dir.path().join("seen.json").exists(),
        "the reviewer was asked"
    );
    let _ = sync.kill();
    let _ = sync.wait();
}

#[test]
fn a_reviewer_for_deny_tier_or_without_a_command_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    for (body, why) in [
        (
            "command = [\"x\"]\nmax_tier = \"deny\"",
            "never decide `deny`-tier",
        ),
        ("command = []", "needs a `command`"),
        ("command = [\"x\"]\ntimeout = \"soon\"", "invalid duration"),
    ] {
        std::fs::write(
            dir.path().join("policy.toml"),
            format!("[approvals.reviewer]\n{body}\n"),
        )
        .unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_warden"))
            .current_dir(dir.path())
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--policy",
                "policy.toml",
            ])
            .args(["--db", "sqlite:a.db"])
            .env("WARDEN_ADMIN_TOKEN", ADMIN)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{body}");
        assert!(
            err.contains(why) && err.contains("policy.toml:"),
            "{body}: {err}"
        );
    }
}
