//! `warden init --agent gemini` and `warden hook gemini` with the real Gemini CLI (installed by
//! `scripts/setup-agents.sh`) driven offline by a loopback stand-in for the Gemini API
//! (tests/data/gemini_model_api.py, via `GOOGLE_GEMINI_BASE_URL`): an `auto` shell call runs
//! rewritten inside Warden's sandbox, a `sync` one waits for an approval made in a real
//! `warden serve`, a denied one is refused, a file write is classified and recorded, and the audit
//! log holds each with its outcome (AfterTool).

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "support/serve.rs"]
mod serve;

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
const ADMIN: &str = "wdn_test_admin_token_gemini_0123456789";
const SERVER_POLICY: &str = r#"
[approvals.groups.security]
members = []
[[approvals.route]]
category = ["test-sync", "test-async"]
groups = ["security"]
timeout = "60s"
"#;

/// The Gemini CLI, installed by `scripts/setup-agents.sh`; `None` (the test says why and
/// passes) only when it is not installed and npm could not install it.
fn gemini() -> Option<PathBuf> {
    let dir = std::env::var_os("WARDEN_AGENTS_DIR")
        .map_or_else(|| PathBuf::from("/opt/warden-agents"), PathBuf::from);
    let bin = dir.join("gemini/node_modules/.bin/gemini");
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
        "SKIPPED: the Gemini CLI is not installed and scripts/setup-agents.sh could not install it"
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
fn init_merges_settings_and_trusts_the_folder_idempotently() {
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let repo = root.path().join("repo");
    let home = root.path().join("home");
    std::fs::create_dir_all(repo.join(".gemini")).unwrap();
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        repo.join(".gemini/settings.json"),
        r#"{"theme": "Dracula", "hooks": {"BeforeTool": [{"matcher": "write_file", "hooks": [{"type": "command", "command": "lint"}]}]}}"#,
    )
    .unwrap();
    let init = || {
        Command::new(WARDEN)
            .args(["init", "--agent", "gemini", "--dir"])
            .arg(&repo)
            .env("HOME", &home)
            .env_remove("GEMINI_CLI_HOME")
            .output()
            .unwrap()
    };
    ok(&init());
    let repo = std::fs::canonicalize(&repo).unwrap();
    let settings: Value =
        serde_json::from_str(&std::fs::read_to_string(repo.join(".gemini/settings.json")).unwrap())
            .unwrap();
    assert_eq!(settings["theme"], "Dracula");
    assert_eq!(
        settings["hooks"]["BeforeTool"][0]["hooks"][0]["command"],
        "lint"
    );
    let exe = std::fs::canonicalize(WARDEN).unwrap();
    for event in ["BeforeTool", "AfterTool"] {
        let last = settings["hooks"][event]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(
            last["hooks"][0]["command"],
            format!("'{}' hook gemini", exe.display())
        );
    }
    let trusted: Value = serde_json::from_str(
        &std::fs::read_to_string(home.join(".gemini/trustedFolders.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(trusted[repo.to_str().unwrap()], "TRUST_FOLDER");
    let before = std::fs::read_to_string(repo.join(".gemini/settings.json")).unwrap();
    let again = ok(&init());
    assert!(!again.contains("wrote"), "{again}");
    assert_eq!(
        std::fs::read_to_string(repo.join(".gemini/settings.json")).unwrap(),
        before
    );
}

#[test]
fn the_real_gemini_cli_runs_its_tools_through_the_hook() {
    let Some(gemini) = gemini() else { return };
    let root = tempfile::Builder::new()
        .prefix("gemini-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let dir = root.path();
    let repo = dir.join("repo");
    let home = dir.join("home");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::create_dir_all(repo.join(".warden")).unwrap();
    std::fs::create_dir_all(home.join(".gemini")).unwrap();
    std::fs::write(
        home.join(".gemini/settings.json"),
        r#"{"security": {"auth": {"selectedType": "gemini-api-key"}}}"#,
    )
    .unwrap();
    let mut policy =
        std::fs::read_to_string(Path::new(DATA).join("claude_code/policy.toml")).unwrap();
    policy.push_str(
        "\n[[rule]]\nid = \"test.deny-self-destruct\"\ntier = \"deny\"\ncategory = \"catastrophic\"\n\
         reason = \"self-destruct is never run (test rule)\"\nprogram = [\"self-destruct\"]\n",
    );
    std::fs::write(repo.join(".warden/policy.toml"), policy).unwrap();
    let repo = std::fs::canonicalize(&repo).unwrap();
    ok(&Command::new(WARDEN)
        .args(["init", "--agent", "gemini", "--dir"])
        .arg(&repo)
        .env("HOME", &home)
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
    let agent = serve::create_token(&srv.url, ADMIN, "agent", "gemini", "");
    let alice = serve::create_token(&srv.url, ADMIN, "approver", "alice", "security");

    let script = json!([
        {"name": "run_shell_command", "args": {"command": "echo \"hello from $WARDEN_SANDBOXED\" > out.txt; cat out.txt", "description": "Write a greeting"}},
        {"name": "run_shell_command", "args": {"command": "seq 3", "description": "Count"}},
        {"name": "run_shell_command", "args": {"command": "self-destruct --now", "description": "Destroy"}},
        {"name": "write_file", "args": {"file_path": "notes.txt", "content": "hi\n"}},
    ]);
    std::fs::write(dir.join("script.json"), script.to_string()).unwrap();
    let mut model = Kill(
        Command::new("python3")
            .arg(Path::new(DATA).join("gemini_model_api.py"))
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
    // `--yolo`: Gemini's own confirmations off, Warden decides every call.
    let run = Command::new("timeout")
        .arg("180")
        .arg(&gemini)
        .args(["-p", "do the scripted work", "--yolo", "-o", "json"])
        .current_dir(&repo)
        .env("HOME", &home)
        .env("GEMINI_API_KEY", "test-key-offline")
        .env("GOOGLE_GEMINI_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("WARDEN_SERVER", &srv.url)
        .env("WARDEN_TOKEN", &agent)
        .env_remove("WARDEN_ORG_POLICY")
        .env_remove("GEMINI_CLI_HOME")
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
    let stdout = ok(&out);
    let result: Value = serde_json::from_str(&stdout).unwrap();
    assert!(result["error"].is_null(), "{result}");

    // What the model was told for each call.
    let log = std::fs::read_to_string(dir.join("model.log")).unwrap();
    let told: Vec<String> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            v["responses"]
                .as_array()
                .and_then(|r| r.last())
                .map(Value::to_string)
        })
        .collect();
    assert!(told.iter().any(|t| t.contains("hello from 1")), "{log}");
    assert!(told.iter().any(|t| t.contains("1\\n2\\n3")), "{log}");
    assert!(
        told.iter()
            .any(|t| t.contains("Tool execution blocked")
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
    let shells = intents_named(&records, "run_shell_command");
    let tiers: Vec<&str> = shells.iter().filter_map(|i| i["tier"].as_str()).collect();
    assert_eq!(tiers, ["auto", "sync", "deny"], "{shells:?}");
    for i in &shells {
        assert_eq!(i["agent"], "gemini");
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
    let write = intents_named(&records, "write_file");
    assert_eq!(write.len(), 1);
    assert_eq!(write[0]["action"]["kind"], "write");
    assert_eq!(
        named_by(&records, write[0], "outcome").len(),
        1,
        "AfterTool"
    );
    assert_eq!(
        std::fs::read_dir(repo.join(".warden/hooks/gemini"))
            .unwrap()
            .count(),
        0,
        "every BeforeTool state was consumed by its AfterTool"
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
fn docs_gemini_shows_what_is_tested() {
    // docs/gemini.md shows these exact commands; keep the page and this suite in step.
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/gemini.md"),
    )
    .unwrap();
    for cmd in [
        "warden init --agent gemini",
        "warden hook gemini",
        "--approval-mode yolo",
        "GOOGLE_GEMINI_BASE_URL",
    ] {
        assert!(doc.contains(cmd), "docs/gemini.md lacks `{cmd}`");
    }
}

#[test]
fn a_mode_the_agent_lacks_is_refused_before_anything_is_written() {
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let o = Command::new(WARDEN)
        .args(["init", "--agent", "gemini", "--mode", "mcp", "--dir"])
        .arg(root.path())
        .env("HOME", root.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("`--mode mcp` is not available"));
    assert_eq!(
        std::fs::read_dir(root.path()).unwrap().count(),
        0,
        "nothing written"
    );
}
