//! `warden init --agent copilot` and `warden hook copilot` with the real GitHub Copilot CLI
//! (installed by `scripts/setup-agents.sh`) driven offline (`COPILOT_OFFLINE`, a custom provider)
//! by the loopback stand-in for the OpenAI Responses API (tests/data/codex/model_api.py): an
//! `auto` shell call runs rewritten inside Warden's sandbox, a `sync` one waits for an approval
//! made in a real `warden serve`, a denied one is refused, a file creation is classified and
//! recorded, and the audit log holds each with its outcome (postToolUse).

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "support/serve.rs"]
mod serve;

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
const ADMIN: &str = "wdn_test_admin_token_copilot_0123456789";
const SERVER_POLICY: &str = r#"
[approvals.groups.security]
members = []
[[approvals.route]]
category = ["test-sync", "test-async"]
groups = ["security"]
timeout = "60s"
"#;

/// The Copilot CLI, installed by `scripts/setup-agents.sh`; `None` (the test says why and
/// passes) only when it is not installed and npm could not install it.
fn copilot() -> Option<PathBuf> {
    let dir = std::env::var_os("WARDEN_AGENTS_DIR")
        .map_or_else(|| PathBuf::from("/opt/warden-agents"), PathBuf::from);
    let bin = dir.join("copilot/node_modules/.bin/copilot");
    if bin.is_file() {
        return Some(bin);
    }
    let setup = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/setup-agents.sh");
    let ok = Command::new("bash")
        .arg(setup)
        .status()
        .is_ok_and(|s| s.success());
    if ok && bin.is_file() {
        return Some(bin);
    }
    eprintln!(
        "SKIPPED: the Copilot CLI is not installed and scripts/setup-agents.sh could not install it"
    );
    None
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A child process killed and reaped when dropped (also when a test fails).
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn intents_named<'a>(records: &'a [Value], tool: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r["kind"] == "intent" && r["tool"] == tool)
        .collect()
}

fn named_by<'a>(records: &'a [Value], intent: &Value, kind: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r["kind"] == kind && r["intent_seq"] == intent["seq"])
        .collect()
}

#[test]
fn init_merges_the_hooks_into_the_user_settings_idempotently() {
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let repo = root.path().join("repo");
    let home = root.path().join("home");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::create_dir_all(home.join(".copilot")).unwrap();
    std::fs::write(
        home.join(".copilot/settings.json"),
        r#"{"model": "x", "hooks": {"preToolUse": [{"type": "command", "bash": "lint"}]}}"#,
    )
    .unwrap();
    let init = || {
        Command::new(WARDEN)
            .args(["init", "--agent", "copilot", "--dir"])
            .arg(&repo)
            .env("HOME", &home)
            .env_remove("COPILOT_HOME")
            .output()
            .unwrap()
    };
    ok(&init());
    let settings: Value = serde_json::from_str(
        &std::fs::read_to_string(home.join(".copilot/settings.json")).unwrap(),
    )
    .unwrap();
    let exe = std::fs::canonicalize(WARDEN).unwrap();
    assert_eq!(settings["model"], "x");
    assert_eq!(settings["hooks"]["preToolUse"][0]["bash"], "lint");
    for event in ["preToolUse", "postToolUse"] {
        let last = settings["hooks"][event]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(
            last["bash"],
            format!("'{}' hook copilot --event {event}", exe.display())
        );
    }
    let before = std::fs::read_to_string(home.join(".copilot/settings.json")).unwrap();
    let again = ok(&init());
    assert!(!again.contains("wrote"), "{again}");
    assert_eq!(
        std::fs::read_to_string(home.join(".copilot/settings.json")).unwrap(),
        before
    );
}

#[test]
fn the_real_copilot_cli_runs_its_tools_through_the_hook() {
    let Some(copilot) = copilot() else { return };
    let root = tempfile::Builder::new()
        .prefix("copilot-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let dir = root.path();
    let repo = dir.join("repo");
    let home = dir.join("home");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::create_dir_all(repo.join(".warden")).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    let mut policy =
        std::fs::read_to_string(Path::new(DATA).join("claude_code/policy.toml")).unwrap();
    policy.push_str(
        "\n[[rule]]\nid = \"test.deny-self-destruct\"\ntier = \"deny\"\ncategory = \"catastrophic\"\n\
         reason = \"self-destruct is never run (test rule)\"\nprogram = [\"self-destruct\"]\n",
    );
    std::fs::write(repo.join(".warden/policy.toml"), policy).unwrap();
    let repo = std::fs::canonicalize(&repo).unwrap();
    ok(&Command::new(WARDEN)
        .args(["init", "--agent", "copilot", "--dir"])
        .arg(&repo)
        .env("HOME", &home)
        .env_remove("COPILOT_HOME")
        .output()
        .unwrap());

    std::fs::write(dir.join("policy.toml"), SERVER_POLICY).unwrap();
    let srv = serve::serve(
        dir,
        ADMIN,
        [
            "--db",
            "approvals.db",
            "--listen",
            "127.0.0.1:0",
            "--policy",
            "policy.toml",
        ],
    );
    let agent = serve::create_token(&srv.url, ADMIN, "agent", "copilot", "");
    let alice = serve::create_token(&srv.url, ADMIN, "approver", "alice", "security");

    let script = json!([
        {"name": "bash", "arguments": {"command": "echo \"hello from $WARDEN_SANDBOXED\" > out.txt; cat out.txt", "description": "Write a greeting"}},
        {"name": "bash", "arguments": {"command": "seq 3", "description": "Count"}},
        {"name": "bash", "arguments": {"command": "self-destruct --now", "description": "Destroy"}},
        {"name": "create", "arguments": {"path": "notes.txt", "file_text": "hi\n"}},
    ]);
    std::fs::write(dir.join("script.json"), script.to_string()).unwrap();
    let mut model = Kill(
        Command::new("python3")
            .arg(Path::new(DATA).join("codex/model_api.py"))
            .arg(dir.join("script.json"))
            .arg(dir.join("model.log"))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let port = {
        use std::io::BufRead as _;
        let mut line = String::new();
        std::io::BufReader::new(model.0.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        line.trim().to_owned()
    };
    // `--allow-all-tools`: Copilot's own prompts off, Warden decides every call. The hooks are
    // the user's, so they run without the folder being trusted.
    let run = Command::new("timeout")
        .arg("180")
        .arg(&copilot)
        .args([
            "-p",
            "do the scripted work",
            "--allow-all-tools",
            "--no-auto-update",
        ])
        .current_dir(&repo)
        .env("HOME", &home)
        .env_remove("COPILOT_HOME")
        .env("COPILOT_OFFLINE", "true")
        .env(
            "COPILOT_PROVIDER_BASE_URL",
            format!("http://127.0.0.1:{port}/v1"),
        )
        .env("COPILOT_PROVIDER_WIRE_API", "responses")
        .env("COPILOT_PROVIDER_API_KEY", "sk-test-offline")
        .env("COPILOT_MODEL", "gpt-5")
        .env("WARDEN_SERVER", &srv.url)
        .env("WARDEN_TOKEN", &agent)
        .env_remove("WARDEN_ORG_POLICY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let id = loop {
        let o = serve::approvals_cli(&srv.url, &alice, &["list", "--json"])
            .output()
            .unwrap();
        let list: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
        if let Some(r) = list.as_array().and_then(|a| a.first()) {
            assert_eq!(r["tier"], "sync", "{r}");
            break r["id"].as_str().unwrap().to_owned();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no request reached the server"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    ok(
        &serve::approvals_cli(&srv.url, &alice, &["approve", &id, "--comment", "fine"])
            .output()
            .unwrap(),
    );
    let out = run.wait_with_output().unwrap();
    drop(model);
    ok(&out);

    // What the model was told for each call.
    let log = std::fs::read_to_string(dir.join("model.log")).unwrap();
    let told: Vec<String> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            v["outputs"]
                .as_array()
                .and_then(|r| r.last())
                .map(Value::to_string)
        })
        .collect();
    assert!(told.iter().any(|t| t.contains("hello from 1")), "{log}");
    assert!(told.iter().any(|t| t.contains("1\\n2\\n3")), "{log}");
    assert!(
        told.iter()
            .any(|t| t.contains("Denied by preToolUse hook")
                && t.contains("self-destruct is never run")),
        "{log}"
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("out.txt")).unwrap(),
        "hello from 1\n"
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("notes.txt")).unwrap(),
        "hi\n"
    );

    let records: Vec<Value> = std::fs::read_to_string(repo.join(".warden/audit/audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let shells = intents_named(&records, "bash");
    let tiers: Vec<&str> = shells.iter().filter_map(|i| i["tier"].as_str()).collect();
    assert_eq!(tiers, ["auto", "sync", "deny"], "{shells:?}");
    for i in &shells {
        assert_eq!(i["agent"], "copilot");
        assert_eq!(named_by(&records, i, "outcome").len(), 1, "{i}");
    }
    assert!(
        named_by(&records, shells[1], "approval")
            .iter()
            .any(|a| a["event"] == "granted"),
        "{records:?}"
    );
    // The auto call ran under `warden run` (its own intent) and the sync one under `warden sandbox`.
    assert!(
        records
            .iter()
            .any(|r| r["kind"] == "intent" && r["action"]["argv"][0] == "/bin/bash"),
    );
    let write = intents_named(&records, "create");
    assert_eq!(write.len(), 1);
    assert_eq!(write[0]["action"]["kind"], "write");
    assert_eq!(
        named_by(&records, write[0], "outcome").len(),
        1,
        "postToolUse"
    );
    assert_eq!(
        std::fs::read_dir(repo.join(".warden/hooks/copilot"))
            .unwrap()
            .count(),
        0,
        "every preToolUse state was consumed by its postToolUse"
    );
    let verify = Command::new(WARDEN)
        .args(["audit", "verify"])
        .current_dir(&repo)
        .env("HOME", &home)
        .output()
        .unwrap();
    ok(&verify);
}

#[test]
fn docs_copilot_shows_what_is_tested() {
    // docs/copilot.md shows these exact commands; keep the page and this suite in step.
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/copilot.md"),
    )
    .unwrap();
    for cmd in [
        "warden init --agent copilot",
        "hook copilot --event preToolUse",
        "--allow-all-tools",
        "COPILOT_OFFLINE=true",
    ] {
        assert!(doc.contains(cmd), "docs/copilot.md lacks `{cmd}`");
    }
}
