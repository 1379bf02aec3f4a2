//! `warden init --agent codex` (the hook route) and `warden hook codex`, with the real Codex CLI
//! (0.169, installed by `scripts/setup-mcp.sh`) driven offline by a loopback stand-in for the
//! model API (tests/data/codex/model_api.py): Codex loads and trusts the hooks Warden wrote
//! (`codex app-server`'s `hooks/list`), an `auto` shell call runs rewritten inside Warden's
//! sandbox, a `sync` one waits for an approval made in a real `warden serve`, a denied one is
//! refused, and the audit log holds each. Codex's PermissionRequest (which `codex exec` never
//! sends: its approval policy is `never`) is tested with payloads in Codex's shape.

use serde_json::{Value, json};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "support/serve.rs"]
mod serve;

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
const ADMIN: &str = "wdn_test_admin_token_codex_0123456789";
const SERVER_POLICY: &str = r#"
[approvals.groups.security]
members = []
[[approvals.route]]
category = ["test-sync", "test-async"]
groups = ["security"]
timeout = "60s"
"#;

struct Fixture {
    root: tempfile::TempDir,
    repo: PathBuf,
    home: PathBuf,
    codex_home: PathBuf,
}

fn fixture() -> Fixture {
    // Not under /tmp: Codex refuses to set up its helper binaries there.
    let root = tempfile::Builder::new()
        .prefix("codex-hooks-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let repo = root.path().join("repo");
    let home = root.path().join("home");
    let codex_home = root.path().join("codex-home");
    for d in [
        repo.join(".git"),
        repo.join(".warden"),
        home.clone(),
        codex_home.clone(),
    ] {
        std::fs::create_dir_all(d).unwrap();
    }
    let mut policy =
        std::fs::read_to_string(Path::new(DATA).join("claude_code/policy.toml")).unwrap();
    policy.push_str(
        "\n[[rule]]\nid = \"test.deny-self-destruct\"\ntier = \"deny\"\ncategory = \"catastrophic\"\n\
         reason = \"self-destruct is never run (test rule)\"\nprogram = [\"self-destruct\"]\n",
    );
    std::fs::write(repo.join(".warden/policy.toml"), policy).unwrap();
    Fixture {
        repo: std::fs::canonicalize(&repo).unwrap(),
        home,
        codex_home,
        root,
    }
}

impl Fixture {
    fn warden(&self, args: &[&str]) -> Command {
        let mut c = Command::new(WARDEN);
        c.args(args)
            .current_dir(&self.repo)
            .env("HOME", &self.home)
            .env("CODEX_HOME", &self.codex_home)
            .env_remove("WARDEN_SERVER")
            .env_remove("WARDEN_TOKEN")
            .env_remove("WARDEN_ORG_POLICY");
        c
    }

    fn init(&self) -> String {
        let o = self
            .warden(&["init", "--agent", "codex", "--dir"])
            .arg(&self.repo)
            .output()
            .unwrap();
        ok(&o)
    }

    fn records(&self) -> Vec<Value> {
        std::fs::read_to_string(self.repo.join(".warden/audit/audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// `warden hook codex` with one payload; its answer.
    fn hook(&self, payload: &Value, env: &[(&str, &str)]) -> Value {
        let mut c = self
            .warden(&["hook", "codex"])
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin
            .take()
            .unwrap()
            .write_all(payload.to_string().as_bytes())
            .unwrap();
        let o = c.wait_with_output().unwrap();
        serde_json::from_str(&ok(&o)).unwrap()
    }

    fn payload(&self, event: &str, id: Option<&str>, command: &str) -> Value {
        let mut p = json!({
            "session_id": "sess-1", "turn_id": "turn-1", "transcript_path": null,
            "cwd": self.repo, "hook_event_name": event, "model": "gpt-5",
            "permission_mode": "default", "tool_name": "Bash",
            "tool_input": {"command": command},
        });
        if let Some(id) = id {
            p["tool_use_id"] = id.into();
        }
        p
    }
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

/// The Codex CLI, installed by `scripts/setup-mcp.sh`.
fn codex() -> PathBuf {
    [
        std::env::var_os("WARDEN_TEST_CODEX").map(PathBuf::from),
        Some(PathBuf::from("/opt/warden-codex/node_modules/.bin/codex")),
    ]
    .into_iter()
    .flatten()
    .find(|p| p.is_file())
    .unwrap_or_else(|| panic!("the Codex CLI is missing: run scripts/setup-mcp.sh"))
}

/// A child process killed and reaped when dropped (also when a test fails).
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn intents_of<'a>(records: &'a [Value], call: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r["kind"] == "intent" && r["tool_call_id"] == call)
        .collect()
}

fn named_by<'a>(records: &'a [Value], intent: &Value, kind: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r["kind"] == kind && r["intent_seq"] == intent["seq"])
        .collect()
}

#[test]
fn init_writes_trusted_hooks_that_codex_loads_and_is_idempotent() {
    let f = fixture();
    // Someone's own hook and settings, kept.
    std::fs::create_dir_all(f.repo.join(".codex")).unwrap();
    std::fs::write(
        f.codex_home.join("hooks.json"),
        r#"{"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "true"}]}]}}"#,
    )
    .unwrap();
    std::fs::write(
        f.repo.join(".codex/config.toml"),
        "# team\nmodel_reasoning_effort = \"high\"\n[features]\nshell_tool = false\n",
    )
    .unwrap();
    let out = f.init();
    assert!(out.contains("hooks.json"), "{out}");
    let hooks: Value =
        serde_json::from_str(&std::fs::read_to_string(f.codex_home.join("hooks.json")).unwrap())
            .unwrap();
    assert_eq!(
        hooks["hooks"]["PreToolUse"][0]["hooks"][0]["command"],
        "true"
    );
    let exe = std::fs::canonicalize(WARDEN).unwrap();
    for event in ["PreToolUse", "PermissionRequest", "PostToolUse"] {
        let groups = hooks["hooks"][event].as_array().unwrap();
        let cmd = groups.last().unwrap()["hooks"][0]["command"]
            .as_str()
            .unwrap();
        assert_eq!(cmd, format!("'{}' hook codex", exe.display()), "{event}");
    }
    let project = std::fs::read_to_string(f.repo.join(".codex/config.toml")).unwrap();
    assert!(project.starts_with("# team\n"), "{project}");
    let doc: toml_edit::DocumentMut = project.parse().unwrap();
    assert_eq!(doc["sandbox_mode"].as_str(), Some("danger-full-access"));
    assert!(doc["features"].get("shell_tool").is_none(), "{project}");

    let snapshot = |f: &Fixture| {
        [
            "codex-home/hooks.json",
            "repo/.codex/config.toml",
            "codex-home/config.toml",
        ]
        .map(|p| std::fs::read_to_string(f.root.path().join(p)).unwrap())
    };
    let before = snapshot(&f);
    let again = f.init();
    assert!(!again.contains("wrote"), "{again}");
    assert_eq!(snapshot(&f), before, "a second run changes nothing");

    // Codex itself: every Warden hook is listed, enabled and trusted (so it runs without
    // `--dangerously-bypass-hook-trust`); the user's own hook stays untrusted.
    let listed = hooks_list(&f);
    let ours: Vec<&Value> = listed
        .iter()
        .filter(|h| {
            h["command"]
                .as_str()
                .is_some_and(|c| c.ends_with(" hook codex"))
        })
        .collect();
    let events: Vec<&str> = ours
        .iter()
        .filter_map(|h| h["eventName"].as_str())
        .collect();
    assert_eq!(
        events,
        ["preToolUse", "permissionRequest", "postToolUse"],
        "{listed:?}"
    );
    for h in &ours {
        assert_eq!(h["trustStatus"], "trusted", "{h}");
        assert_eq!(h["enabled"], true, "{h}");
    }
    assert!(
        listed
            .iter()
            .any(|h| h["command"] == "true" && h["trustStatus"] == "untrusted"),
        "{listed:?}"
    );
}

/// Codex's own list of the hooks it loaded for the repository (`codex app-server`, `hooks/list`).
fn hooks_list(f: &Fixture) -> Vec<Value> {
    let mut c = Command::new(codex())
        .arg("app-server")
        .current_dir(&f.repo)
        .env("CODEX_HOME", &f.codex_home)
        .env("HOME", &f.home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = c.stdin.take().unwrap();
    for msg in [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"clientInfo": {"name": "warden-test", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "hooks/list", "params": {"cwds": [f.repo]}}),
    ] {
        writeln!(stdin, "{msg}").unwrap();
    }
    let stdout = c.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && v["id"] == 2
            {
                return Some(v);
            }
        }
        None
    });
    let t0 = Instant::now();
    while !reader.is_finished() && t0.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(stdin);
    let _ = c.kill();
    let _ = c.wait();
    let got = reader
        .join()
        .unwrap()
        .expect("codex app-server answered hooks/list");
    got["result"]["data"][0]["hooks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn the_real_codex_cli_runs_its_tools_through_the_hooks() {
    let f = fixture();
    f.init();
    let dir = f.root.path();
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
    let agent = serve::create_token(&srv.url, ADMIN, "agent", "codex", "");
    let alice = serve::create_token(&srv.url, ADMIN, "approver", "alice", "security");

    let script = json!([
        {"name": "exec_command", "arguments": {"cmd": "echo \"hello from $WARDEN_SANDBOXED\" > out.txt; cat out.txt"}},
        {"name": "exec_command", "arguments": {"cmd": "seq 3"}},
        {"name": "exec_command", "arguments": {"cmd": "self-destruct --now"}},
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
    let provider = format!(
        "model_providers.stub={{name=\"stub\",base_url=\"http://127.0.0.1:{port}/v1\",\
         env_key=\"OPENAI_API_KEY\",wire_api=\"responses\"}}"
    );
    // No `--dangerously-bypass-hook-trust`: the hooks run because `warden init` trusted them.
    let codex_run = Command::new("timeout")
        .arg("180")
        .arg(codex())
        .args(["exec", "--skip-git-repo-check", "-c", &provider])
        .args([
            "-c",
            "model_provider=stub",
            "-c",
            "model=gpt-5",
            "do the scripted work",
        ])
        .current_dir(&f.repo)
        .env("HOME", &f.home)
        .env("CODEX_HOME", &f.codex_home)
        .env("OPENAI_API_KEY", "sk-test-offline")
        .env("WARDEN_SERVER", &srv.url)
        .env("WARDEN_TOKEN", &agent)
        .env_remove("WARDEN_ORG_POLICY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The sync call waits in Codex's PreToolUse hook until alice approves it in the server.
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
    let o = serve::approvals_cli(&srv.url, &alice, &["approve", &id, "--comment", "fine"])
        .output()
        .unwrap();
    ok(&o);
    let out = codex_run.wait_with_output().unwrap();
    drop(model);
    assert!(
        out.status.success(),
        "codex: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // What the model was told for each call (the tool outputs Codex sent back).
    let log = std::fs::read_to_string(dir.join("model.log")).unwrap();
    let last: Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    let output_of = |call: &str| -> String {
        last["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["call_id"] == call)
            .map(|o| o["output"].to_string())
            .collect()
    };
    // auto: Codex ran Warden's rewrite, so the command ran inside the sandbox.
    assert_eq!(
        std::fs::read_to_string(f.repo.join("out.txt")).unwrap(),
        "hello from 1\n"
    );
    assert!(output_of("call_0").contains("hello from 1"), "{log}");
    // sync: ran once approved.
    assert!(output_of("call_1").contains("1\\n2\\n3"), "{log}");
    // deny: refused with Warden's reason, never run.
    let denied = output_of("call_2");
    assert!(denied.contains("blocked by PreToolUse hook"), "{denied}");
    assert!(denied.contains("self-destruct is never run"), "{denied}");

    let records = f.records();
    let auto = intents_of(&records, "call_0");
    assert_eq!(
        auto.len(),
        2,
        "the hook's intent and warden run's: {records:?}"
    );
    assert_eq!(auto[0]["agent"], "codex");
    assert_eq!(auto[0]["tier"], "auto");
    assert_eq!(auto[1]["action"]["argv"][0], "/bin/bash");
    assert_eq!(
        named_by(&records, auto[0], "outcome").len(),
        1,
        "PostToolUse"
    );
    assert_eq!(named_by(&records, auto[1], "outcome")[0]["exit_code"], 0);
    let sync = intents_of(&records, "call_1");
    assert_eq!(
        sync.len(),
        1,
        "approved: run by `warden sandbox`, not asked again"
    );
    assert_eq!(sync[0]["tier"], "sync");
    let approvals = named_by(&records, sync[0], "approval");
    assert!(
        approvals
            .iter()
            .any(|a| a["event"] == "granted"
                && a["by"].as_str().is_some_and(|b| b.contains("alice"))),
        "{approvals:?}"
    );
    assert_eq!(
        named_by(&records, sync[0], "outcome").len(),
        1,
        "PostToolUse"
    );
    let deny = intents_of(&records, "call_2");
    assert_eq!(deny.len(), 1);
    assert_eq!(deny[0]["tier"], "deny");
    assert!(
        records
            .iter()
            .all(|r| r["kind"] != "intent" || r["agent"] == "codex")
    );
    ok(&f.warden(&["audit", "verify"]).output().unwrap());
}

#[test]
fn permission_requests_are_answered_from_warden_decisions() {
    let f = fixture();
    // A call Warden's PreToolUse cleared and rewrote: Codex asks about the rewritten command.
    let pre = f.hook(&f.payload("PreToolUse", Some("call_a"), "ls"), &[]);
    let rewritten = pre["hookSpecificOutput"]["updatedInput"]["command"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = f.hook(&f.payload("PermissionRequest", None, &rewritten), &[]);
    assert_eq!(
        got["hookSpecificOutput"]["decision"]["behavior"], "allow",
        "{got}"
    );
    let intents = || f.records().iter().filter(|r| r["kind"] == "intent").count();
    assert_eq!(intents(), 1, "no second intent for a cleared call");

    // A call Warden never saw that the policy denies: refused, and recorded.
    let got = f.hook(
        &f.payload("PermissionRequest", None, "self-destruct --now"),
        &[],
    );
    assert_eq!(
        got["hookSpecificOutput"]["decision"]["behavior"], "deny",
        "{got}"
    );
    assert!(
        got["hookSpecificOutput"]["decision"]["message"]
            .as_str()
            .unwrap()
            .contains("never run"),
        "{got}"
    );
    // The same input as the cleared call but in another session is not cleared by it.
    let mut other = f.payload("PermissionRequest", None, "seq 3");
    other["session_id"] = "sess-2".into();
    // sync without an approval server: nobody can approve it, so it is refused.
    let got = f.hook(&other, &[]);
    assert_eq!(
        got["hookSpecificOutput"]["decision"]["behavior"], "deny",
        "{got}"
    );
    assert!(
        got["hookSpecificOutput"]["decision"]["message"]
            .as_str()
            .unwrap()
            .contains("no approval server"),
        "{got}"
    );
    assert_eq!(intents(), 3);

    // PreToolUse for a sync call without a server: refused (Codex has no `ask`), not left to run.
    let got = f.hook(&f.payload("PreToolUse", Some("call_b"), "seq 3"), &[]);
    assert_eq!(
        got["hookSpecificOutput"]["permissionDecision"], "deny",
        "{got}"
    );
    // A non-shell auto call: `{}`, Codex's "no objection" (it rejects a bare `allow`).
    let mut read = f.payload("PreToolUse", Some("call_c"), "");
    read["tool_name"] = "Read".into();
    read["tool_input"] = json!({"file_path": "README.md"});
    assert_eq!(f.hook(&read, &[]), json!({}));

    // Codex's hooks are the user's, for every directory: outside a workspace with `.warden/`
    // Warden stays out of the way (no answer, no record).
    let n = f.records().len();
    let mut elsewhere = f.payload("PreToolUse", Some("call_d"), "self-destruct --now");
    // Not under the fixture's root: that sits in the checkout's target dir, and a `.warden/` in
    // a directory above (a developer's own checkout governed by Warden) would be found.
    let outside = tempfile::tempdir().unwrap();
    elsewhere["cwd"] = json!(outside.path());
    assert_eq!(f.hook(&elsewhere, &[]), json!({}));
    assert_eq!(f.records().len(), n);
}

#[test]
fn docs_codex_shows_what_is_tested() {
    // docs/codex.md shows these exact commands; keep the page and this suite in step.
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/codex.md"),
    )
    .unwrap();
    for cmd in [
        "warden init --agent codex",
        "warden init --agent codex --mode mcp",
        "hooks/list",
        "--dangerously-bypass-hook-trust",
    ] {
        assert!(doc.contains(cmd), "docs/codex.md lacks `{cmd}`");
    }
}

#[test]
fn no_command_text_escapes_the_quoting_of_codexs_rewrite() {
    // The rewrite Codex runs (`/bin/bash -lc '<updatedInput.command>'`) must hand Warden exactly
    // the model's command as the last word, whatever quotes or substitutions it holds.
    let f = fixture();
    let hostile = [
        "'",
        r"'\''",
        "'; echo escaped; '",
        "$(echo escaped) `echo escaped` ${HOME}",
        "a\nb\r\nc",
        "trailing backslash \\",
        "echo 'it'\\''s' \"a'b\" > quoted.txt",
        "printf '%s\\n' \"$HOME\" '$(id)'",
    ];
    let mut rewritten_count = 0;
    for (i, cmd) in hostile.iter().enumerate() {
        let got = f.hook(
            &f.payload("PreToolUse", Some(&format!("call_q{i}")), cmd),
            &[],
        );
        let Some(rewritten) = got["hookSpecificOutput"]["updatedInput"]["command"].as_str() else {
            continue;
        };
        let o = Command::new("sh")
            .arg("-c")
            .arg(format!("set -- {rewritten}; printf '%s\\0' \"$@\""))
            .output()
            .unwrap();
        assert!(o.status.success());
        let words: Vec<&[u8]> = o.stdout.split(|b| *b == 0).collect();
        let words = &words[..words.len() - 1];
        assert_eq!(words[words.len() - 1], cmd.as_bytes(), "{cmd:?}");
        assert_eq!(words[words.len() - 2], b"-c", "{cmd:?}");
        rewritten_count += 1;
    }
    assert!(
        rewritten_count >= 3,
        "most hostile commands are auto and rewritten"
    );
}
