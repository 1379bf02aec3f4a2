//! `warden hook claude-code` end to end with recorded Claude Code hook payloads of every tool
//! kind: the exact JSON answers, the audit records (intent written before the answer, outcome tied
//! to it by PostToolUse, the log verifies), the rewritten Bash command really running under
//! `warden run` with the original's output, approvals through a real `warden serve` (sync
//! approved/denied, async deferred with its ticket then let through once approved), malformed
//! input, and `warden init --agent claude-code` merging into `.claude/settings.json`.

#![cfg(target_os = "linux")]

use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/claude_code");
const ADMIN: &str = "wdn_test_admin_token_hook_0123456789";

struct Fx {
    root: tempfile::TempDir,
    ws: PathBuf,
    home: PathBuf,
}

fn fx() -> Fx {
    let root = tempfile::Builder::new()
        .prefix("hook-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("tempdir");
    let ws = root.path().join("ws");
    let home = root.path().join("home");
    std::fs::create_dir_all(ws.join(".git")).expect("mkdir");
    std::fs::create_dir_all(ws.join(".warden")).expect("mkdir");
    std::fs::create_dir_all(&home).expect("mkdir");
    std::fs::copy(
        Path::new(DATA).join("policy.toml"),
        ws.join(".warden/policy.toml"),
    )
    .expect("policy");
    Fx { root, ws, home }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8")
}

impl Fx {
    fn subst(&self, text: &str) -> String {
        text.replace("{{WS}}", s(&self.ws))
            .replace("{{HOME}}", s(&self.home))
            .replace("{{WARDEN}}", WARDEN)
    }

    /// A recorded payload with this fixture's paths.
    fn payload(&self, name: &str) -> String {
        let text =
            std::fs::read_to_string(Path::new(DATA).join(format!("{name}.json"))).expect("fixture");
        self.subst(&text)
    }

    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut c = Command::new(WARDEN);
        c.args(args)
            .current_dir(&self.ws)
            .env("HOME", &self.home)
            .env_remove("WARDEN_ORG_POLICY")
            .env_remove("WARDEN_SERVER")
            .env_remove("WARDEN_TOKEN")
            .envs(env.iter().copied());
        c
    }

    fn spawn_hook(&self, input: &str, env: &[(&str, &str)]) -> Child {
        let mut c = self
            .command(&["hook", "claude-code"], env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        c.stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write");
        c
    }

    fn hook(&self, input: &str) -> Output {
        self.hook_with(input, &[])
    }

    fn hook_with(&self, input: &str, env: &[(&str, &str)]) -> Output {
        self.spawn_hook(input, env)
            .wait_with_output()
            .expect("hook")
    }

    fn records(&self) -> Vec<Value> {
        std::fs::read_to_string(self.ws.join(".warden/audit/audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("record"))
            .collect()
    }

    /// `warden audit verify` of the workspace's log succeeds; returns what it printed.
    fn assert_log_verifies(&self) -> Output {
        let verify = self
            .command(&["audit", "verify"], &[])
            .output()
            .expect("verify");
        assert!(
            verify.status.success(),
            "{}",
            String::from_utf8_lossy(&verify.stderr)
        );
        verify
    }

    fn pending_files(&self) -> usize {
        std::fs::read_dir(self.ws.join(".warden/hooks/claude-code"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

fn answer(o: &Output) -> Value {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("one JSON object on stdout")
}

/// stderr with miette's wrapping and box drawing undone.
fn flat(stderr: &[u8]) -> String {
    let s = String::from_utf8_lossy(stderr).replace(['│', '×'], " ");
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn decision(v: &Value) -> &str {
    v["hookSpecificOutput"]["permissionDecision"]
        .as_str()
        .expect("decision")
}

fn reason(v: &Value) -> &str {
    v["hookSpecificOutput"]["permissionDecisionReason"]
        .as_str()
        .expect("reason")
}

fn tool_use_id(payload: &str) -> String {
    let v: Value = serde_json::from_str(payload).expect("payload");
    v["tool_use_id"].as_str().expect("id").to_owned()
}

/// The records tied to the tool call `id`: its intent(s) and everything naming them.
fn intents_of<'a>(records: &'a [Value], id: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r["kind"] == "intent" && r["tool_call_id"] == id)
        .collect()
}

/// The `event` of each approval record naming `intent`, in log order.
fn approval_events<'a>(records: &'a [Value], intent: &Value) -> Vec<&'a Value> {
    named_by(records, intent, "approval")
        .into_iter()
        .map(|a| &a["event"])
        .collect()
}

fn named_by<'a>(records: &'a [Value], intent: &Value, kind: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r["kind"] == kind && r["intent_seq"] == intent["seq"])
        .collect()
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

#[test]
fn every_tool_kind_gets_its_exact_answer_after_its_intent_is_recorded() {
    let f = fx();
    let answers: Value = serde_json::from_str(
        &f.subst(&std::fs::read_to_string(Path::new(DATA).join("answers.json")).expect("answers")),
    )
    .expect("answers json");
    let expected = answers.as_object().expect("object");
    // Every tool kind the hook classifies, and what each must come to under the test policy.
    let kinds = [
        ("bash_auto", "allow", "shell"),
        ("bash_deny", "deny", "shell"),
        ("bash_push", "ask", "shell"),
        ("read_workspace", "allow", "read"),
        ("read_secret", "ask", "read"),
        ("grep_secret", "ask", "read"),
        ("grep_home", "ask", "read"),
        ("glob_workspace", "allow", "read"),
        ("edit_workspace", "allow", "write"),
        ("write_outside", "ask", "write"),
        ("multiedit_workspace", "allow", "write"),
        ("notebook_edit", "allow", "write"),
        ("webfetch", "allow", "net"),
        ("websearch", "allow", "tool"),
        ("mcp_read", "allow", "tool"),
        ("mcp_unknown", "ask", "tool"),
        ("unknown_tool", "ask", "tool"),
    ];
    assert_eq!(kinds.len(), expected.len(), "a fixture without a check");
    for (name, want, action_kind) in kinds {
        let input = f.payload(name);
        let id = tool_use_id(&input);
        let pending_before = f.pending_files();
        let got = answer(&f.hook(&input));
        assert_eq!(&got, &expected[name], "{name}: the exact answer");
        assert_eq!(decision(&got), want, "{name}");
        let records = f.records();
        let intents = intents_of(&records, &id);
        assert_eq!(intents.len(), 1, "{name}: one intent for {id}");
        let intent = intents[0];
        assert_eq!(intent["agent"], "claude-code", "{name}");
        assert_eq!(intent["session"], "0f8e6d2c-sess-1", "{name}");
        assert_eq!(intent["action"]["kind"], action_kind, "{name}");
        let outcomes = named_by(&records, intent, "outcome");
        let approvals = named_by(&records, intent, "approval");
        match want {
            "deny" => {
                assert_eq!(outcomes.len(), 1, "{name}: a denial is its own outcome");
                assert!(
                    outcomes[0]["notes"][0]
                        .as_str()
                        .is_some_and(|n| n.starts_with("did not run: warden: denied by policy")),
                    "{name}: {}",
                    outcomes[0]
                );
                assert_eq!(f.pending_files(), pending_before, "{name}: nothing pending");
            }
            _ => {
                assert!(outcomes.is_empty(), "{name}: the tool has not run yet");
                assert_eq!(f.pending_files(), pending_before + 1, "{name}");
            }
        }
        let requested: Vec<&str> = approvals
            .iter()
            .filter_map(|a| a["event"].as_str())
            .collect();
        if want == "ask" {
            assert_eq!(requested, ["requested"], "{name}");
        } else {
            assert!(requested.is_empty(), "{name}");
        }
    }
    // The action's own text reached the log as classified (paths absolute, the host parsed).
    let records = f.records();
    let web = intents_of(&records, "toolu_0109webfetch")[0];
    assert_eq!(web["action"]["host"], "docs.example.invalid");
    assert_eq!(web["action"]["port"], 443);
    assert_eq!(web["action"]["method"], "GET");
    f.assert_log_verifies();
}

#[test]
fn post_tool_use_records_the_outcome_of_its_own_intent() {
    let f = fx();
    for name in [
        "bash_auto",
        "read_workspace",
        "edit_workspace",
        "read_secret",
    ] {
        answer(&f.hook(&f.payload(name)));
    }
    assert_eq!(f.pending_files(), 4);

    // Bash: stdout/stderr digests and Claude Code's duration.
    let post = f.payload("post_bash");
    let o = f.hook(&post);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.stdout.is_empty(), "PostToolUse answers nothing");
    let records = f.records();
    let intent = intents_of(&records, "toolu_0100bashauto")[0];
    let outcomes = named_by(&records, intent, "outcome");
    assert_eq!(outcomes.len(), 1);
    let out = outcomes[0];
    assert_eq!(out["intent_hash"], intent["hash"]);
    assert_eq!(out["stdout_sha256"], sha256_hex(b"a\nb\nIT'S /HOME\n"));
    assert_eq!(out["stdout_bytes"], 15);
    assert_eq!(out["stderr_bytes"], 0);
    assert_eq!(out["duration_ns"], 42_000_000);

    // Another tool: its response's digest.
    assert!(f.hook(&f.payload("post_read")).status.success());
    let records = f.records();
    let intent = intents_of(&records, "toolu_0103readworksp")[0];
    let out = named_by(&records, intent, "outcome")[0];
    let resp: Value = serde_json::from_str(&f.payload("post_read")).expect("json");
    assert_eq!(
        out["stdout_sha256"],
        sha256_hex(resp["tool_response"].to_string().as_bytes())
    );

    // A failed tool: PostToolUseFailure's error is the outcome's note.
    assert!(f.hook(&f.payload("post_failure")).status.success());
    let records = f.records();
    let intent = intents_of(&records, "toolu_0105editworksp")[0];
    let out = named_by(&records, intent, "outcome")[0];
    assert_eq!(
        out["notes"][0],
        "failed: String to replace not found in file."
    );

    // An `ask` that ran: the person at Claude Code's prompt allowed it.
    let mut post: Value = serde_json::from_str(&f.payload("post_read")).expect("json");
    post["tool_use_id"] = "toolu_0104readsecret".into();
    post["tool_input"]["file_path"] = s(&f.home.join(".ssh/id_ed25519")).into();
    assert!(f.hook(&post.to_string()).status.success());
    let records = f.records();
    let intent = intents_of(&records, "toolu_0104readsecret")[0];
    assert_eq!(approval_events(&records, intent), ["requested", "granted"]);
    assert_eq!(
        named_by(&records, intent, "approval")[1]["by"],
        "claude-code prompt"
    );
    assert_eq!(named_by(&records, intent, "outcome").len(), 1);

    // Every call's state is gone, and a repeated PostToolUse records nothing twice.
    assert_eq!(f.pending_files(), 0);
    let n = f.records().len();
    assert!(f.hook(&f.payload("post_bash")).status.success());
    assert_eq!(f.records().len(), n);
    let verify = f.assert_log_verifies();
    let text = String::from_utf8_lossy(&verify.stdout).into_owned()
        + &String::from_utf8_lossy(&verify.stderr);
    assert!(
        !text.contains("has no outcome"),
        "every intent has its outcome: {text}"
    );
}

fn bash_payload(f: &Fx, id: &str, command: &str) -> String {
    let mut v: Value = serde_json::from_str(&f.payload("bash_auto")).expect("json");
    v["tool_use_id"] = id.into();
    v["tool_input"]["command"] = command.into();
    v.to_string()
}

#[test]
fn the_rewritten_bash_command_runs_under_warden_run_with_the_original_output() {
    let f = fx();
    std::fs::write(f.ws.join("data.txt"), "one\ntwo\n").expect("write");
    let commands = [
        "echo plain",
        "echo \"it's\" 'quoted \"twice\"' && printf '%s\\n' \"$((6*7))\"",
        "X='a b'; echo \"$X\" $X `echo back` $(echo sub) \\$HOME",
        "cat <<'EOF'\nline one\n$NOT_EXPANDED\nEOF\necho second line",
        "[[ -f data.txt ]] && wc -l < data.txt; echo '!' \"$?\"",
        "for i in 1 2 3; do echo -n \"$i;\"; done; echo; exit 3",
        "echo '\\'' tab\there'",
    ];
    for (i, cmd) in commands.iter().enumerate() {
        let id = format!("toolu_run{i}");
        let got = answer(&f.hook(&bash_payload(&f, &id, cmd)));
        assert_eq!(decision(&got), "allow", "{cmd}: {got}");
        let rewritten = got["hookSpecificOutput"]["updatedInput"]["command"]
            .as_str()
            .expect("command");
        assert!(rewritten.contains(&format!("'{WARDEN}' run --agent claude-code")));
        let original = Command::new("bash")
            .args(["-c", cmd])
            .current_dir(&f.ws)
            .env("HOME", &f.home)
            .output()
            .expect("bash");
        let wrapped = Command::new("sh")
            .args(["-c", rewritten])
            .current_dir(&f.ws)
            .env("HOME", &f.home)
            .output()
            .expect("sh");
        assert_eq!(
            String::from_utf8_lossy(&wrapped.stdout),
            String::from_utf8_lossy(&original.stdout),
            "{cmd}\nstderr: {}",
            String::from_utf8_lossy(&wrapped.stderr)
        );
        assert_eq!(wrapped.status.code(), original.status.code(), "{cmd}");
        // Two intents for the call: the hook's decision and `warden run`'s own run of it.
        let records = f.records();
        let intents = intents_of(&records, &id);
        assert_eq!(intents.len(), 2, "{cmd}");
        assert!(
            intents
                .iter()
                .all(|r| r["agent"] == "claude-code" && r["session"] == "0f8e6d2c-sess-1")
        );
        assert_eq!(
            named_by(&records, intents[1], "outcome")[0]["exit_code"],
            original.status.code().expect("code")
        );
    }
    // And it really is sandboxed.
    let got = answer(&f.hook(&bash_payload(
        &f,
        "toolu_sbx",
        "echo \"[$WARDEN_SANDBOXED]\"",
    )));
    let rewritten = got["hookSpecificOutput"]["updatedInput"]["command"]
        .as_str()
        .expect("command");
    let o = Command::new("sh")
        .args(["-c", rewritten])
        .current_dir(&f.ws)
        .env("HOME", &f.home)
        .env_remove("WARDEN_SANDBOXED")
        .output()
        .expect("sh");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "[1]\n");
}

/// Claude Code's Bash tool keeps its working directory from one call to the next, and the
/// rewrite runs each call in the sandbox: a `cd` there is carried back to the agent's shell when
/// it ends inside the workspace (and only then), with the command's exit status kept — in
/// each shell the Bash tool may use (bash, zsh, a POSIX sh). Before, zsh took the report
/// option and its file as one word and every rewritten command failed.
#[test]
fn a_cd_in_a_rewritten_command_carries_over_to_the_next_call() {
    let f = fx();
    std::fs::create_dir_all(f.ws.join("pkg/sub")).expect("mkdir");
    let rewrite = |id: &str, cmd: &str| -> String {
        let got = answer(&f.hook(&bash_payload(&f, id, cmd)));
        assert_eq!(decision(&got), "allow", "{cmd}: {got}");
        got["hookSpecificOutput"]["updatedInput"]["command"]
            .as_str()
            .expect("command")
            .to_owned()
    };
    // One shell for several calls, as Claude Code's: each rewritten command, then `pwd`.
    let calls = [
        rewrite("toolu_cd1", "cd pkg"),
        rewrite("toolu_cd2", "cd sub && echo in-sub; exit 4"),
        rewrite("toolu_cd3", "cd /usr"),
        rewrite("toolu_cd4", "cd ..; trap 'true' EXIT"),
    ];
    let mut script = String::new();
    for c in &calls {
        script.push_str(&format!("{c}\necho \"status=$? pwd=$(pwd -P)\"\n"));
    }
    let ws = f.ws.canonicalize().expect("ws");
    let pkg = ws.join("pkg");
    let sub = ws.join("pkg/sub");
    let want = [
        format!("status=0 pwd={}", pkg.display()),
        format!("status=4 pwd={}", sub.display()),
        // Outside the workspace: not followed.
        format!("status=0 pwd={}", sub.display()),
        // The command's own EXIT trap replaces Warden's: no report, no `cd`.
        format!("status=0 pwd={}", sub.display()),
    ];
    for shell in ["bash", "zsh", "sh"] {
        let o = Command::new(shell)
            .args(["-c", &script])
            .current_dir(&f.ws)
            .env("HOME", &f.home)
            .output()
            .unwrap_or_else(|e| panic!("{shell}: {e} (run scripts/setup-hook.sh)"));
        let out = String::from_utf8_lossy(&o.stdout);
        let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("status=")).collect();
        assert_eq!(
            lines,
            want,
            "{shell}: {out}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(out.contains("in-sub"), "{shell}: {out}");
    }
    // No report file can be made (`mktemp` fails): the command still runs, in place.
    let o = Command::new("zsh")
        .args([
            "-c",
            &format!("{}\necho \"status=$? pwd=$(pwd -P)\"", calls[1]),
        ])
        .current_dir(&pkg)
        .env("HOME", &f.home)
        .env("TMPDIR", f.root.path().join("no-such-directory"))
        .output()
        .expect("zsh");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!("status=4 pwd={}", pkg.display())),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn no_answer_without_a_durable_intent() {
    let f = fx();
    // The audit directory cannot be created: the hook must block, not allow.
    std::fs::write(f.ws.join(".warden/audit"), "not a directory").expect("write");
    let o = f.hook(&f.payload("read_workspace"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("audit log"));
}

/// Lookahead in the hook: `npm test` is judged with package.json's `pretest`/`test`/`posttest`
/// scripts, so a push in `posttest` makes the call ask (or deny), naming the file and line. The
/// old hook classified `npm test` alone and allowed it.
#[test]
fn npm_test_whose_posttest_pushes_is_not_allowed() {
    let f = fx();
    std::fs::write(
        f.ws.join("package.json"),
        "{\n  \"name\": \"x\",\n  \"scripts\": {\n    \"test\": \"node t.js\",\n    \"posttest\": \"git push origin main\"\n  }\n}\n",
    )
    .expect("write");
    let got = answer(&f.hook(&bash_payload(&f, "toolu_npmtest", "npm test")));
    assert!(matches!(decision(&got), "ask" | "deny"), "{got}");
    assert!(reason(&got).contains("git push"), "{got}");
    // Without the push, `npm test` is allowed as before.
    std::fs::write(
        f.ws.join("package.json"),
        r#"{"scripts": {"test": "node t.js"}}"#,
    )
    .expect("write");
    let got = answer(&f.hook(&bash_payload(&f, "toolu_npmtest2", "npm test")));
    assert_eq!(decision(&got), "allow", "{got}");
}

#[test]
fn secrets_in_echoed_reasons_are_redacted() {
    let f = fx();
    let token = "ghp_R3alLook1ngT0kenV4lue0123456789abcd";
    let got = answer(&f.hook(&bash_payload(
        &f,
        "toolu_secret",
        &format!("GITHUB_TOKEN={token} rm -rf / {token}"),
    )));
    assert_eq!(decision(&got), "deny");
    assert!(!got.to_string().contains(token), "{got}");
    assert!(reason(&got).contains("[REDACTED"), "{got}");
    assert!(
        !std::fs::read_to_string(f.ws.join(".warden/audit/audit.jsonl"))
            .expect("log")
            .contains(token)
    );
}

#[test]
fn malformed_input_is_a_blocking_error_with_a_clear_message() {
    let f = fx();
    let ws = s(&f.ws);
    let pre = |tool: &str, input: &str| {
        format!(
            r#"{{"session_id":"s","cwd":"{ws}","hook_event_name":"PreToolUse","tool_name":"{tool}","tool_input":{input},"tool_use_id":"t"}}"#
        )
    };
    let cases = [
        (String::new(), "standard input is empty"),
        ("not json".into(), "invalid hook payload (line 1 column 2)"),
        ("[1,2]".into(), "invalid hook payload"),
        (
            format!(
                r#"{{"session_id":"s","cwd":"{ws}","hook_event_name":"PreToolUse","tool_name":"Bash"}}"#
            ),
            "missing field `tool_input`",
        ),
        (pre("Bash", "{}"), "Bash: `tool_input.command` is missing"),
        (
            pre("Bash", r#"{"command":["ls"]}"#),
            "`tool_input.command` must be a string",
        ),
        (
            pre("Bash", r#"{"command":""}"#),
            "`tool_input.command` is empty",
        ),
        (
            pre("Bash", r#"{"command":"ls\u0000rm"}"#),
            "the command contains a NUL byte",
        ),
        (
            pre("Read", r#"{"path":"x"}"#),
            "Read: `tool_input.file_path` is missing",
        ),
        (
            pre("WebFetch", r#"{"url":"ftp://x.invalid/"}"#),
            "not an absolute http(s) URL",
        ),
        (
            pre("WebFetch", r#"{"url":"/relative"}"#),
            "not an absolute http(s) URL",
        ),
        (pre("Bash", r#""ls""#), "invalid hook payload"),
        (
            pre("Bash", r#"{"command":"ls"}"#).replace(ws, "relative/dir"),
            "`cwd` must be an absolute path",
        ),
        (
            pre("Bash", r#"{"command":"ls"}"#).replace("PreToolUse", "Stop"),
            "unsupported hook event `Stop`",
        ),
        (
            pre("Bash", r#"{"command":"ls"}"#)
                .replace("PreToolUse", "PostToolUse")
                .replace(r#","tool_use_id":"t""#, ""),
            "PostToolUse: `tool_use_id` is missing",
        ),
    ];
    for (input, want) in cases {
        let o = f.hook(&input);
        let err = flat(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{input}: {err}");
        assert!(o.stdout.is_empty(), "{input}");
        assert!(err.contains(want), "{input}: wanted `{want}` in: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // Nothing was recorded for any of them.
    assert!(f.records().is_empty());
}

// ---------------------------------------------------------------------------------------------
// With a real approval server.

const SERVER_POLICY: &str = r#"
[approvals.groups.security]
members = []
[[approvals.route]]
category = ["test-sync", "test-async"]
groups = ["security"]
timeout = "60s"
"#;

#[path = "support/serve.rs"]
mod serve;

struct Server {
    serve: serve::Running,
    dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::Builder::new()
            .prefix("hook-serve-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("tempdir");
        std::fs::write(dir.path().join("policy.toml"), SERVER_POLICY).expect("policy");
        let serve = serve::serve(
            dir.path(),
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
        Server { serve, dir }
    }

    fn url(&self) -> &str {
        &self.serve.url
    }

    fn cli(&self, token: &str, args: &[&str]) -> Output {
        serve::approvals_cli(self.url(), token, args)
            .current_dir(self.dir.path())
            .output()
            .expect("approvals")
    }

    fn token(&self, role: &str, name: &str, groups: &str) -> String {
        serve::create_token(self.url(), ADMIN, role, name, groups)
    }

    fn pending(&self, token: &str) -> Vec<Value> {
        let o = self.cli(token, &["list", "--json"]);
        if o.status.success()
            && let Ok(Value::Array(a)) = serde_json::from_slice(&o.stdout)
        {
            return a;
        }
        let o = self.cli(token, &["list"]);
        panic!("cannot list: {}", String::from_utf8_lossy(&o.stderr));
    }

    fn wait_pending(&self, token: &str) -> Value {
        let t0 = Instant::now();
        loop {
            if let Some(r) = self.pending(token).into_iter().next() {
                return r;
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "no pending request");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn finish(mut c: Child) -> Output {
    let t0 = Instant::now();
    while c.try_wait().expect("wait").is_none() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "hook did not answer"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = Vec::new();
    let mut err = Vec::new();
    c.stdout
        .take()
        .expect("out")
        .read_to_end(&mut out)
        .expect("read");
    c.stderr
        .take()
        .expect("err")
        .read_to_end(&mut err)
        .expect("read");
    Output {
        status: c.wait().expect("status"),
        stdout: out,
        stderr: err,
    }
}

#[test]
fn approvals_through_a_real_server() {
    let srv = Server::start();
    let agent = srv.token("agent", "claude", "");
    let alice = srv.token("approver", "alice", "security");
    let f = fx();
    let env = [
        ("WARDEN_SERVER", srv.url()),
        ("WARDEN_TOKEN", agent.as_str()),
    ];

    // sync, approved: the hook blocks (its intent and request already recorded), then allows,
    // with the command rewritten to run sandboxed.
    let hook = f.spawn_hook(&bash_payload(&f, "toolu_sync_ok", "seq 3"), &env);
    let req = srv.wait_pending(&alice);
    let id = req["id"].as_str().expect("id").to_owned();
    assert_eq!(req["tier"], "sync");
    std::thread::sleep(Duration::from_millis(300));
    let records = f.records();
    let intent = intents_of(&records, "toolu_sync_ok")[0].clone();
    assert_eq!(intent["tier"], "sync");
    assert_eq!(
        named_by(&records, &intent, "approval")[0]["event"],
        "requested"
    );
    let o = srv.cli(&alice, &["approve", &id, "--comment", "fine"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = answer(&finish(hook));
    assert_eq!(decision(&got), "allow", "{got}");
    assert!(reason(&got).contains("approved by alice"), "{got}");
    let rewritten = got["hookSpecificOutput"]["updatedInput"]["command"]
        .as_str()
        .expect("command");
    assert!(
        rewritten.contains(&format!("'{WARDEN}' sandbox ")),
        "{rewritten}"
    );
    let ran = Command::new("sh")
        .args(["-c", rewritten])
        .current_dir(&f.ws)
        .env("HOME", &f.home)
        .output()
        .expect("sh");
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "1\n2\n3\n");
    let records = f.records();
    assert_eq!(approval_events(&records, &intent), ["requested", "granted"]);
    let st = srv.cli(&alice, &["status", &id, "--json"]);
    let st: Value = serde_json::from_slice(&st.stdout).expect("status");
    assert_eq!(st["status"], "consumed", "the approval was used once");

    // sync, denied: deny with the approver's reason, and the denial is the outcome.
    let hook = f.spawn_hook(&bash_payload(&f, "toolu_sync_no", "seq 4"), &env);
    let id = srv.wait_pending(&alice)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let o = srv.cli(&alice, &["deny", &id, "--comment", "not on a Friday"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = answer(&finish(hook));
    assert_eq!(decision(&got), "deny", "{got}");
    assert!(reason(&got).contains("not on a Friday"), "{got}");
    assert!(reason(&got).contains("by alice"), "{got}");
    assert!(got["hookSpecificOutput"].get("updatedInput").is_none());
    let records = f.records();
    let intent = intents_of(&records, "toolu_sync_no")[0];
    assert_eq!(approval_events(&records, intent), ["requested", "denied"]);
    assert_eq!(named_by(&records, intent, "outcome").len(), 1);

    // async: deny at once with the ticket and how to follow it.
    let touch = bash_payload(&f, "toolu_async", "touch made-by-async");
    let got = answer(&f.hook_with(&touch, &env));
    assert_eq!(decision(&got), "deny", "{got}");
    let req = srv.wait_pending(&alice);
    let id = req["id"].as_str().expect("id").to_owned();
    assert_eq!(req["tier"], "async");
    assert!(reason(&got).contains(&format!("ticket {id}")), "{got}");
    assert!(
        reason(&got).contains(&format!("warden approvals status {id}")),
        "{got}"
    );
    // ... and once approved, the agent's retry of the same call goes through, once.
    assert!(srv.cli(&alice, &["approve", &id]).status.success());
    let retry = touch.replace("toolu_async", "toolu_async_retry");
    let got = answer(&f.hook_with(&retry, &env));
    assert_eq!(decision(&got), "allow", "{got}");
    assert!(
        reason(&got).contains(&format!("request {id}, approved earlier")),
        "{got}"
    );
    let again = answer(&f.hook_with(&touch.replace("toolu_async", "toolu_async_again"), &env));
    assert_eq!(
        decision(&again),
        "deny",
        "an approval is used once: {again}"
    );

    // A configured server that cannot be reached: deny, never allow.
    let gone = [
        ("WARDEN_SERVER", "http://127.0.0.1:9"),
        ("WARDEN_TOKEN", agent.as_str()),
    ];
    let o = f
        .spawn_hook(&f.payload("read_secret"), &gone)
        .wait_with_output()
        .expect("hook");
    let got = answer(&o);
    assert_eq!(decision(&got), "deny", "{got}");
    assert!(reason(&got).contains("approval server failed"), "{got}");
    f.assert_log_verifies();
}

// ---------------------------------------------------------------------------------------------
// `warden init --agent claude-code`.

fn init(f: &Fx) -> Output {
    f.command(&["init", "--agent", "claude-code"], &[])
        .output()
        .expect("init")
}

#[test]
fn init_writes_the_hooks_and_merges_without_clobbering() {
    let f = fx();
    let settings = f.ws.join(".claude/settings.json");
    let o = init(&f);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(&settings).expect("settings")).expect("json");
    let cmd = format!("'{WARDEN}' hook claude-code");
    for event in ["PreToolUse", "PostToolUse", "PostToolUseFailure"] {
        let groups = v["hooks"][event].as_array().expect(event);
        assert_eq!(groups.len(), 1, "{event}");
        assert_eq!(groups[0]["matcher"], "*");
        assert_eq!(groups[0]["hooks"][0]["type"], "command");
        assert_eq!(groups[0]["hooks"][0]["command"], cmd.as_str());
    }
    // The command written is one that works: fed a payload through a shell, it answers.
    let payload = f.root.path().join("websearch.json");
    std::fs::write(&payload, f.payload("websearch")).expect("write");
    let o = Command::new("sh")
        .args(["-c", &cmd])
        .current_dir(&f.ws)
        .env("HOME", &f.home)
        .env_remove("WARDEN_SERVER")
        .stdin(std::fs::File::open(&payload).expect("payload"))
        .output()
        .expect("sh");
    assert_eq!(decision(&answer(&o)), "allow");
    // Idempotent: the second run changes nothing at all.
    let before = std::fs::read(&settings).expect("read");
    let o = init(&f);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("kept"));
    assert_eq!(std::fs::read(&settings).expect("read"), before);

    // Existing settings and hooks are kept.
    let g = fx();
    let settings = g.ws.join(".claude/settings.json");
    std::fs::create_dir_all(settings.parent().expect("dir")).expect("mkdir");
    let existing = serde_json::json!({
        "permissions": {"allow": ["Bash(npm test:*)"]},
        "model": "opus",
        "hooks": {
            "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "./lint-commands.sh"}]}],
            "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}]
        }
    });
    std::fs::write(&settings, existing.to_string()).expect("write");
    let o = init(&g);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(&settings).expect("settings")).expect("json");
    assert_eq!(v["permissions"], existing["permissions"]);
    assert_eq!(v["model"], "opus");
    assert_eq!(v["hooks"]["Stop"], existing["hooks"]["Stop"]);
    let pre = v["hooks"]["PreToolUse"].as_array().expect("pre");
    assert_eq!(pre.len(), 2);
    assert_eq!(pre[0], existing["hooks"]["PreToolUse"][0]);
    assert_eq!(pre[1]["hooks"][0]["command"], cmd.as_str());
    let once = std::fs::read(&settings).expect("read");
    assert!(init(&g).status.success());
    assert_eq!(std::fs::read(&settings).expect("read"), once);

    // Invalid JSON: a clear error, the file untouched.
    let h = fx();
    let settings = h.ws.join(".claude/settings.json");
    std::fs::create_dir_all(settings.parent().expect("dir")).expect("mkdir");
    let broken = "{\n  \"hooks\": {\n    \"PreToolUse\": [,]\n}\n";
    std::fs::write(&settings, broken).expect("write");
    let o = init(&h);
    assert_eq!(o.status.code(), Some(2));
    let err = flat(&o.stderr);
    assert!(
        err.contains("is not valid JSON (line 3 column 20)"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&settings).expect("read"), broken);
    // A valid file of the wrong shape: also refused untouched.
    std::fs::write(&settings, r#"{"hooks": []}"#).expect("write");
    let o = init(&h);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        flat(&o.stderr).contains("`hooks` is not a JSON object"),
        "{}",
        flat(&o.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&settings).expect("read"),
        r#"{"hooks": []}"#
    );
}

// ---------------------------------------------------------------------------------------------
// The real Claude Code CLI, driven offline: a loopback stand-in for the model API scripts the
// tool calls, everything runs in a network namespace of its own with only loopback.

const CLAUDE_DEFAULT: &str = "/opt/warden-test/claude-code/node_modules/.bin/claude";

fn claude_binary() -> String {
    let path = std::env::var("WARDEN_CLAUDE_CODE").unwrap_or_else(|_| CLAUDE_DEFAULT.into());
    let ok = Command::new(&path)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "Claude Code CLI not found at {path}: run scripts/setup-hook.sh (or set WARDEN_CLAUDE_CODE)"
    );
    path
}

#[test]
fn the_real_claude_code_cli_runs_its_tools_through_the_hook() {
    let claude = claude_binary();
    let f = fx();
    let mut policy = std::fs::read_to_string(f.ws.join(".warden/policy.toml")).expect("policy");
    policy.push_str(
        "\n[[rule]]\nid = \"test.deny-self-destruct\"\ntier = \"deny\"\ncategory = \"catastrophic\"\n\
         reason = \"self-destruct is never run (test rule)\"\nprogram = [\"self-destruct\"]\n",
    );
    std::fs::write(f.ws.join(".warden/policy.toml"), policy).expect("policy");
    let o = init(&f);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let root = f.root.path();
    let script = serde_json::json!([
        {"name": "Bash", "input": {"command": "echo \"hello from $WARDEN_SANDBOXED\" > out.txt; cat out.txt", "description": "Write a greeting"}},
        {"name": "Bash", "input": {"command": "self-destruct --now", "description": "Destroy"}},
        {"name": "Read", "input": {"file_path": s(&f.ws.join("out.txt"))}},
    ]);
    std::fs::write(root.join("script.json"), script.to_string()).expect("script");
    let driver = format!(
        r#"set -e
ip link set lo up 2>/dev/null || true
python3 '{data}/model_api.py' '{root}/script.json' '{root}/model.log' > '{root}/port' &
MODEL=$!
i=0; while [ ! -s '{root}/port' ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
export ANTHROPIC_BASE_URL="http://127.0.0.1:$(cat '{root}/port')" ANTHROPIC_API_KEY=sk-ant-offline-test
export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1 DISABLE_AUTOUPDATER=1 DISABLE_ERROR_REPORTING=1
cd '{ws}'
status=0
timeout 120 '{claude}' -p 'do the scripted work' --output-format json --max-turns 8 > '{root}/result.json' || status=$?
kill $MODEL
exit $status
"#,
        data = DATA,
        root = s(root),
        ws = s(&f.ws),
        claude = claude,
    );
    let o = Command::new("unshare")
        .args(["-rn", "sh", "-c", &driver])
        .env("HOME", &f.home)
        .env_remove("WARDEN_SERVER")
        .env_remove("WARDEN_TOKEN")
        .env_remove("WARDEN_ORG_POLICY")
        .output()
        .expect("unshare");
    let result = std::fs::read_to_string(root.join("result.json")).unwrap_or_default();
    assert!(
        o.status.success(),
        "claude: {result}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let result: Value = serde_json::from_str(&result).expect("claude's JSON result");
    assert_eq!(result["is_error"], false, "{result}");
    // The command Claude Code ran was Warden's rewrite: inside the sandbox.
    assert_eq!(
        std::fs::read_to_string(f.ws.join("out.txt")).expect("out.txt"),
        "hello from 1\n"
    );
    // The denied call never ran, and Claude Code reports it as denied.
    let denials = result["permission_denials"].as_array().expect("denials");
    assert_eq!(denials.len(), 1, "{result}");
    assert_eq!(denials[0]["tool_use_id"], "toolu_fake01");
    let records = f.records();
    let bash = intents_of(&records, "toolu_fake00");
    assert_eq!(bash.len(), 2, "the hook's intent and warden run's");
    assert_eq!(bash[0]["action"]["kind"], "shell");
    assert_eq!(bash[1]["action"]["argv"][0], "/bin/bash");
    let out = named_by(&records, bash[0], "outcome");
    assert_eq!(out.len(), 1, "PostToolUse recorded the outcome");
    assert!(out[0]["stdout_bytes"].as_u64().is_some_and(|n| n > 0));
    assert_eq!(named_by(&records, bash[1], "outcome")[0]["exit_code"], 0);
    let denied = intents_of(&records, "toolu_fake01");
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0]["tier"], "deny");
    let read = intents_of(&records, "toolu_fake02");
    assert_eq!(read.len(), 1);
    assert_eq!(read[0]["action"]["kind"], "read");
    assert_eq!(named_by(&records, read[0], "outcome").len(), 1);
    assert!(
        records
            .iter()
            .all(|r| r["kind"] != "intent" || r["agent"] == "claude-code")
    );
    assert_eq!(f.pending_files(), 0);
    f.assert_log_verifies();
}

#[test]
fn no_command_text_escapes_the_quoting_of_the_rewrite() {
    let f = fx();
    let hostile = [
        "'",
        "''",
        r"'\''",
        r#"'"'"'"#,
        "'; echo escaped; '",
        "$(echo escaped) `echo escaped` ${HOME}",
        "a\nb\r\nc",
        "\\",
        "trailing backslash \\",
        "\u{1}\u{7f} ctrl and unicode: é ✓",
        "--shell 'x' -- y",
    ];
    let mut rewritten_count = 0;
    for (i, cmd) in hostile.iter().enumerate() {
        let got = answer(&f.hook(&bash_payload(&f, &format!("toolu_q{i}"), cmd)));
        let Some(rewritten) = got["hookSpecificOutput"]["updatedInput"]["command"].as_str() else {
            // Not allowed (e.g. classified opaque): then nothing is rewritten to escape from.
            continue;
        };
        // The words a shell hands Warden (the rewrite run with Warden's name standing for a
        // program that prints its arguments): the original must be exactly the last one.
        let warden = format!("'{WARDEN}'");
        assert_eq!(rewritten.matches(&warden).count(), 1, "{rewritten}");
        let o = Command::new("sh")
            .arg("-c")
            .arg(rewritten.replace(&warden, "printf '%s\\0' warden"))
            .current_dir(&f.ws)
            .output()
            .expect("sh");
        assert!(o.status.success());
        let words: Vec<&[u8]> = o.stdout.split(|b| *b == 0).collect();
        let words = &words[..words.len() - 1];
        assert_eq!(words[0], b"warden", "{cmd:?}");
        assert_eq!(words[words.len() - 1], cmd.as_bytes(), "{cmd:?}");
        assert_eq!(words[words.len() - 2], b"-c", "{cmd:?}");
        rewritten_count += 1;
    }
    assert!(rewritten_count >= 8, "most of them are auto and rewritten");
}

#[test]
fn parallel_tool_calls_each_get_their_own_intent_and_outcome() {
    // Claude Code runs independent tool calls at once, each with its own hook process.
    let f = fx();
    let ids: Vec<String> = (0..8).map(|i| format!("toolu_par{i}")).collect();
    let pre: Vec<Child> = ids
        .iter()
        .map(|id| f.spawn_hook(&bash_payload(&f, id, &format!("echo {id}")), &[]))
        .collect();
    for c in pre {
        assert_eq!(
            decision(&answer(&c.wait_with_output().expect("hook"))),
            "allow"
        );
    }
    let post: Vec<Child> = ids
        .iter()
        .map(|id| {
            let mut v: Value = serde_json::from_str(&f.payload("post_bash")).expect("json");
            v["tool_use_id"] = id.as_str().into();
            v["tool_response"]["stdout"] = format!("{id}\n").into();
            f.spawn_hook(&v.to_string(), &[])
        })
        .collect();
    for c in post {
        assert!(c.wait_with_output().expect("hook").status.success());
    }
    let records = f.records();
    for id in &ids {
        let intents = intents_of(&records, id);
        assert_eq!(intents.len(), 1, "{id}");
        let out = named_by(&records, intents[0], "outcome");
        assert_eq!(out.len(), 1, "{id}");
        assert_eq!(
            out[0]["stdout_sha256"],
            sha256_hex(format!("{id}\n").as_bytes())
        );
    }
    assert_eq!(f.pending_files(), 0);
    f.assert_log_verifies();
}
