//! docs/walkthrough.md, executed: every command of its ```sh blocks runs, in order, in one bash
//! session (so `cd`, `export` and `&` carry over as at a terminal), and every ```text block
//! must match what the commands before it printed. The commands are taken from the document
//! itself, so the two cannot drift apart.
//!
//! What the test supplies and the document leaves to the reader's machine:
//! - A network namespace with only loopback (the test re-runs itself under `unshare -rn`), so
//!   `warden serve` listens on the documented 127.0.0.1:8420 and nothing leaves the machine.
//! - `HOME` is a fresh directory (`~/demo`, `~/warden-approvals.db` land there) and
//!   `CARGO_INSTALL_ROOT` is `~/.cargo` inside it, first on `PATH`.
//! - The one change to a command: `cargo install` gets `--debug` (and runs offline with this
//!   test's own target directory), since a release build would take minutes; everything after
//!   it uses the `warden` it installed. Under `cargo test --workspace` the install rebuilds the
//!   few crates whose dependency features differ when warden is built alone (about a minute).
//! - Claude Code is the real CLI (scripts/setup-hook.sh installs it); the model behind it is a
//!   loopback stand-in (tests/data/claude_code/model_api.py, via `ANTHROPIC_BASE_URL`) scripted
//!   to ask for `ls -a` and then `cat .env` (walkthrough_support/model_script.json).
//! - The person in step 5 is headless Chromium over WebDriver: it logs in with the approver
//!   token that step 3 printed and presses Approve.
//!
//! `WARDEN_WALKTHROUGH_KEEP=1` keeps the run's files (home, each command's output, a screenshot
//! of the request in the web UI) under target/tmp/walkthrough-*.

#![cfg(target_os = "linux")]

mod walkthrough_support;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use walkthrough_support::{
    Driver, Kill, Ran, Session, Shell, commands, fenced_blocks, screenshot, shows,
};

const DOC: &str = include_str!("../../../docs/walkthrough.md");
const WORKSPACE_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
const MODEL_API: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/claude_code/model_api.py"
);
const MODEL_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/walkthrough_support/model_script.json"
);
const CLAUDE_DEFAULT: &str = "/opt/warden-test/claude-code/node_modules/.bin/claude";
const IN_NETNS: &str = "WARDEN_WALKTHROUGH_IN_NETNS";
const SETUP: &str = "run scripts/setup-hook.sh";
/// What step 2 writes into .env, so the test can tell the approved command really read it.
const SECRET_LINE: &str = "DATABASE_URL=postgres://app:s3cret@db.internal/app";

#[test]
fn the_walkthrough_runs_as_documented() {
    if std::env::var_os(IN_NETNS).is_some() {
        walk();
        return;
    }
    // Re-run this very test inside a network namespace of its own with only loopback up.
    let exe = std::env::current_exe().expect("test binary");
    let o = Command::new("unshare")
        .args(["-rn", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
        .arg(&exe)
        .args([
            "the_walkthrough_runs_as_documented",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(IN_NETNS, "1")
        .output()
        .unwrap_or_else(|e| panic!("unshare: {e} ({SETUP})"));
    assert!(
        o.status.success(),
        "the walk-through failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn require(program: &str, arg: &str) {
    let ok = Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "`{program}` is needed: {SETUP}");
}

fn claude_binary() -> PathBuf {
    let path = std::env::var("WARDEN_CLAUDE_CODE").unwrap_or_else(|_| CLAUDE_DEFAULT.into());
    require(&path, "--version");
    PathBuf::from(path)
}

fn real_home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from)
}

/// The stand-in model API on a loopback port.
fn start_model(root: &Path) -> (Kill, u16) {
    let mut child = Command::new("python3")
        .arg(MODEL_API)
        .arg(MODEL_SCRIPT)
        .arg(root.join("model.log"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("python3: {e} ({SETUP})"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("port");
    let port = line.trim().parse().expect("the stand-in prints its port");
    (Kill(child), port)
}

fn bash(root: &Path, home: &Path, model_port: u16, claude: &Path) -> Shell {
    let install_root = home.join(".cargo");
    let cargo = PathBuf::from(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    let mut path = vec![
        install_root.join("bin"),
        claude.parent().expect("dir").into(),
    ];
    if let Some(d) = cargo.parent().filter(|d| !d.as_os_str().is_empty()) {
        path.push(d.into());
    }
    path.extend(
        [
            "/usr/local/sbin",
            "/usr/local/bin",
            "/usr/sbin",
            "/usr/bin",
            "/sbin",
            "/bin",
        ]
        .map(PathBuf::from),
    );
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .to_owned();
    let real = real_home();
    let mut cmd = Command::new("bash");
    cmd.current_dir(WORKSPACE_ROOT)
        .env("HOME", home)
        .env("PATH", std::env::join_paths(path).expect("PATH"))
        .env(
            "CARGO_HOME",
            std::env::var_os("CARGO_HOME").unwrap_or_else(|| real.join(".cargo").into()),
        )
        .env(
            "RUSTUP_HOME",
            std::env::var_os("RUSTUP_HOME").unwrap_or_else(|| real.join(".rustup").into()),
        )
        .env("CARGO_INSTALL_ROOT", &install_root)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_NET_OFFLINE", "true")
        .env(
            "ANTHROPIC_BASE_URL",
            format!("http://127.0.0.1:{model_port}"),
        )
        .env("ANTHROPIC_API_KEY", "sk-ant-offline-walkthrough")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    for var in [
        "WARDEN_SERVER",
        "WARDEN_TOKEN",
        "WARDEN_ADMIN_TOKEN",
        "WARDEN_ORG_POLICY",
        IN_NETNS,
    ] {
        cmd.env_remove(var);
    }
    Shell::start(cmd, &root.join("shell"))
}

fn check_ok(r: &Ran) {
    assert_eq!(
        r.code, 0,
        "`{}` failed:\n{}\n{}",
        r.command, r.stdout, r.stderr
    );
}

fn walk() {
    let claude = claude_binary();
    require("chromium", "--version");
    require("chromedriver", "--version");
    require("openssl", "version");
    require("git", "--version");
    let root = tempfile::Builder::new()
        .prefix("walkthrough-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("tempdir");
    // WARDEN_WALKTHROUGH_KEEP=1 leaves the run's files (home, shell output, screenshot) behind.
    let root = if std::env::var_os("WARDEN_WALKTHROUGH_KEEP").is_some() {
        root.keep()
    } else {
        root.path().to_owned()
    };
    let root = root.as_path();
    let home = root.join("home");
    std::fs::create_dir_all(&home).expect("home");
    let (_model, model_port) = start_model(root);
    let mut sh = bash(root, &home, model_port, &claude);

    let blocks = fenced_blocks(DOC);
    let runnable = blocks.iter().filter(|b| b.lang == "sh").count();
    assert!(runnable >= 5, "the walk-through lost its commands");
    let mut approver_token: Option<String> = None;
    let mut server_url: Option<String> = None;
    let mut steps: Vec<&'static str> = Vec::new();
    let mut block_output: Vec<Ran> = Vec::new();
    let mut report_text: Option<String> = None;
    for b in &blocks {
        match b.lang.as_str() {
            "sh" => {
                block_output.clear();
                for command in commands(b) {
                    let r = if command.starts_with("cargo install") {
                        steps.push("install");
                        let r = sh.run(&format!("{command} --debug"), Duration::from_secs(900));
                        check_ok(&r);
                        let which = sh.run("command -v warden", Duration::from_secs(10));
                        assert_eq!(
                            which.stdout.trim(),
                            home.join(".cargo/bin/warden").to_str().expect("utf8"),
                            "the installed warden is the one on PATH"
                        );
                        r
                    } else if command.starts_with("claude ") || command == "claude" {
                        steps.push("session");
                        let url = server_url.clone().expect("WARDEN_SERVER set before claude");
                        let token = approver_token
                            .clone()
                            .expect("an approver token made before claude");
                        run_session_and_approve(&mut sh, &command, &url, &token, root)
                    } else {
                        let r = sh.run(&command, Duration::from_secs(120));
                        check_ok(&r);
                        r
                    };
                    if command.starts_with("warden init --agent claude-code") {
                        steps.push("init");
                    }
                    if command.starts_with("warden serve") {
                        steps.push("serve");
                    }
                    if command.contains("approvals token create")
                        && command.contains("--role approver")
                    {
                        let t = r.stdout.trim().to_owned();
                        assert!(!t.is_empty() && !t.contains(char::is_whitespace), "{t}");
                        approver_token = Some(t);
                    }
                    if let Some(v) = command.strip_prefix("export WARDEN_SERVER=") {
                        server_url = Some(v.trim().to_owned());
                    }
                    if command == "warden report" {
                        steps.push("report");
                        report_text = Some(r.stdout.clone());
                    }
                    if command.starts_with("warden report --html") {
                        steps.push("report-html");
                    }
                    // Shown when the test fails (the outer test prints this run's output).
                    println!("$ {command}\n{}", r.both());
                    block_output.push(r);
                }
            }
            "text" => {
                let printed: String = block_output.iter().map(|r| sh.reread(r).both()).collect();
                if let Err(e) = shows(&b.body, &printed) {
                    panic!(
                        "docs/walkthrough.md line {}: the output shown is not what the commands printed: {e}\nprinted:\n{printed}",
                        b.line
                    );
                }
            }
            _ => {}
        }
    }
    assert_eq!(
        steps,
        [
            // One `cargo install` brings `warden` and `warden-sandbox-init` (the second
            // install of warden-sandbox the guide needed before is gone).
            "install",
            "init",
            "serve",
            "session",
            "report",
            "report-html"
        ],
        "the walk-through's steps, in order"
    );
    let demo = home.join("demo");
    check_audit(&demo);
    check_report(report_text.as_deref().expect("warden report ran"), &demo);
    let html = std::fs::read_to_string(demo.join("report.html")).expect("report.html");
    assert!(html.contains("<svg"), "the page has its charts");
}

/// Step 4 and 5 together: Claude Code waits at the `sync` call while a person approves it in the
/// web UI.
fn run_session_and_approve(
    sh: &mut Shell,
    command: &str,
    url: &str,
    token: &str,
    root: &Path,
) -> Ran {
    let session = sh.begin(command);
    let driver = Driver::start();
    let browser = Session::new(&driver, &root.join("profile"));
    let mut ended_early = || {
        sh.poll(&session)
            .map(|r| format!("the session ended first:\n{}", r.both()))
    };
    browser.post("/url", serde_json::json!({ "url": url }));
    let input = browser
        .wait_for(
            "#token",
            |n| n > 0,
            Duration::from_secs(20),
            &mut ended_early,
        )
        .remove(0);
    browser.type_into(&input, token);
    let login = browser
        .wait_for(
            "#login-btn",
            |n| n > 0,
            Duration::from_secs(20),
            &mut ended_early,
        )
        .remove(0);
    browser.click(&login);
    let request = browser
        .wait_for(
            ".req",
            |n| n > 0,
            Duration::from_secs(120),
            &mut ended_early,
        )
        .remove(0);
    let shown = browser.text(&request);
    screenshot(&browser, &root.join("approval.png"));
    for what in [
        "cat .env",
        "credential-access",
        "cred.files",
        "Read the database URL from .env",
        "routed to security",
    ] {
        assert!(
            shown.contains(what),
            "the request shows `{what}` (command, category, rule, rationale, route): {shown}"
        );
    }
    // Still waiting: nothing decided it yet.
    assert!(
        sh.poll(&session).is_none(),
        "Claude Code went on before approval"
    );
    let approve = browser
        .find_all(".req .approve")
        .into_iter()
        .next()
        .expect("an Approve button");
    browser.click(&approve);
    let r = sh.wait(&session, Duration::from_secs(180));
    check_ok(&r);
    r
}

fn records(demo: &Path) -> Vec<Value> {
    std::fs::read_to_string(demo.join(".warden/audit/audit.jsonl"))
        .expect("the audit log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("record"))
        .collect()
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// The session as the audit log has it: `ls -a` auto and run by `warden run` (the sandbox),
/// `cat .env` sync, approved by alice, then run with the secret as its output.
fn check_audit(demo: &Path) {
    let recs = records(demo);
    let intents = |id: &str| -> Vec<&Value> {
        recs.iter()
            .filter(|r| r["kind"] == "intent" && r["tool_call_id"] == id)
            .collect()
    };
    let named = |intent: &Value, kind: &str| -> Vec<&Value> {
        recs.iter()
            .filter(|r| r["kind"] == kind && r["intent_seq"] == intent["seq"])
            .collect()
    };
    let ls = intents("toolu_fake00");
    assert_eq!(ls.len(), 2, "the hook's intent and warden run's: {ls:?}");
    assert_eq!(ls[0]["tier"], "auto");
    assert_eq!(ls[0]["agent"], "claude-code");
    assert_eq!(
        ls[1]["action"]["argv"][0], "/bin/bash",
        "ran under warden run"
    );
    assert_eq!(named(ls[1], "outcome")[0]["exit_code"], 0);
    let cat = intents("toolu_fake01");
    assert_eq!(cat.len(), 1, "{cat:?}");
    assert_eq!(cat[0]["tier"], "sync");
    assert_eq!(cat[0]["category"], "credential-access");
    let approvals: Vec<&str> = named(cat[0], "approval")
        .iter()
        .map(|r| r["event"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(approvals, ["requested", "granted"]);
    assert!(
        named(cat[0], "approval")
            .iter()
            .any(|r| r.to_string().contains("alice")),
        "granted by alice"
    );
    let out = named(cat[0], "outcome");
    assert_eq!(
        out.len(),
        1,
        "PostToolUse recorded the approved call's outcome"
    );
    let digest = out[0]["stdout_sha256"].as_str().unwrap_or_default();
    assert!(
        [SECRET_LINE, &format!("{SECRET_LINE}\n")]
            .iter()
            .any(|s| sha256_hex(s.as_bytes()) == digest),
        "the approved `cat .env` printed the file: {}",
        out[0]
    );
}

/// `warden report` shows the tier counts and the approvals the audit log holds.
fn check_report(text: &str, demo: &Path) {
    let recs = records(demo);
    let count = |kind: &str, field: &str, value: &str| {
        recs.iter()
            .filter(|r| r["kind"] == kind && r[field] == value)
            .count()
    };
    // One action per agent tool call: the hook's intent and `warden run`'s share the session and
    // tool-call id; the first intent of a call carries its tier.
    let mut calls = std::collections::HashSet::new();
    let actions: Vec<&Value> = recs
        .iter()
        .filter(|r| r["kind"] == "intent")
        .filter(
            |r| match (r["session"].as_str(), r["tool_call_id"].as_str()) {
                (Some(s), Some(c)) => calls.insert((s.to_owned(), c.to_owned())),
                _ => true,
            },
        )
        .collect();
    assert_eq!(actions.len(), 2, "the session made two Bash calls");
    for tier in ["auto", "async", "sync", "deny"] {
        let n = actions.iter().filter(|r| r["tier"] == tier).count();
        let shown = text
            .lines()
            .find_map(|l| {
                let mut words = l.split_whitespace();
                (words.next() == Some(tier)).then(|| words.next().map(str::to_owned))
            })
            .flatten();
        assert_eq!(
            shown.as_deref(),
            Some(n.to_string().as_str()),
            "the report's {tier} count is the log's ({n}):\n{text}"
        );
    }
    let (requested, granted) = (
        count("approval", "event", "requested"),
        count("approval", "event", "granted"),
    );
    assert_eq!((requested, granted), (1, 1), "the log has the one approval");
    assert!(
        text.contains(&format!(
            "approvals: {requested} requested, {granted} granted"
        )),
        "the report shows the approval:\n{text}"
    );
}

/// The rule that keeps the document's outputs honest: every shown line, in order, with `…` only
/// where the document says so.
#[test]
fn shown_output_must_match_line_by_line_in_order() {
    let printed =
        "admin token (shown once): 1f2e\nwarden serve: listening on http://127.0.0.1:8420\n";
    assert!(
        shows(
            "admin token (shown once): …\nwarden serve: listening on http://127.0.0.1:8420",
            printed
        )
        .is_ok()
    );
    assert!(shows("…", printed).is_ok());
    assert!(shows("…", "").is_err(), "`…` alone still needs some output");
    // Order matters, and a line may not be matched twice.
    assert!(shows("warden serve: listening on …\nadmin token …", printed).is_err());
    assert!(shows("admin token …\nadmin token …", printed).is_err());
    // No wildcard means the whole line.
    assert!(shows("warden serve: listening", printed).is_err());
    assert!(shows("  auto        2   66.7%", "  auto        3   66.7%").is_err());
    // Several wildcards, in order, without overlap.
    assert!(shows("median …  p90 …", "median 274 ms  p90 274 ms").is_ok());
    assert!(shows("a…b…c", "abc").is_ok());
    assert!(shows("ab…ba", "aba").is_err());
    assert!(shows("x…b…a", "xab").is_err());
}

#[test]
fn the_document_blocks_are_read_as_written() {
    let blocks = fenced_blocks("text\n```sh\na\n# note\n\nb c\n```\n```text\nout\n```\n");
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0].lang, "sh");
    assert_eq!(commands(&blocks[0]), ["a", "b c"]);
    assert_eq!(
        (
            blocks[1].lang.as_str(),
            blocks[1].body.as_str(),
            blocks[1].line
        ),
        ("text", "out\n", 8)
    );
    let doc: Vec<String> = fenced_blocks(DOC)
        .iter()
        .filter(|b| b.lang == "sh")
        .flat_map(commands)
        .collect();
    assert!(
        doc.iter().any(|c| c.starts_with("cargo install")),
        "{doc:?}"
    );
    assert!(doc.iter().any(|c| c.starts_with("claude -p")), "{doc:?}");
}
