//! `warden mcp` driven by a real MCP client this project did not write (the official Python SDK,
//! installed by `scripts/setup-mcp.sh`), over stdio and over streamable HTTP: tool listing and
//! schemas, every tool, denied and adversarial calls, approval-pending calls against a real
//! `warden serve`, and the audit log afterwards (chain verified, intent + outcome per call).

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");
const ADMIN: &str = "wdn_mcp_test_admin_token_0123456789";
const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_client.py");

fn python() -> String {
    std::env::var("WARDEN_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn require_sdk() {
    let ok = Command::new(python())
        .args(["-c", "import mcp, httpx2"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "the Python MCP SDK is missing: run scripts/setup-mcp.sh (it installs the pinned `mcp` package)"
    );
}

#[path = "support/serve.rs"]
mod serve;

/// A tiny HTTP/1.1 origin on loopback answering `hello from METHOD PATH[ BODY]`.
fn origin() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut r = BufReader::new(s);
            let mut first = String::new();
            if r.read_line(&mut first).is_err() {
                continue;
            }
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let mut parts = first.split_whitespace();
            let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            // Through a proxy the target is absolute-form; answer with its path.
            let path = target
                .strip_prefix("http://")
                .and_then(|t| t.find('/').map(|i| &t[i..]))
                .unwrap_or(target);
            let mut text = format!("hello from {method} {path}");
            if !body.is_empty() {
                text.push(' ');
                text.push_str(&String::from_utf8_lossy(&body));
            }
            let mut s = r.into_inner();
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    port
}

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The approval server with an agent and an approver token.
struct Approvals {
    _server: serve::Running,
    url: String,
    agent: String,
    approver: String,
}

fn approvals(dir: &Path) -> Approvals {
    let server = serve::serve(
        dir,
        ADMIN,
        ["--db", "approvals.db", "--listen", "127.0.0.1:0"],
    );
    let url = server.url.clone();
    let token =
        |role: &str, name: &str, groups: &str| serve::create_token(&url, ADMIN, role, name, groups);
    Approvals {
        agent: token("agent", "mcp-agent", ""),
        // The default routing: credentials to `security`, everything else to `maintainers`.
        approver: token("approver", "alice", "security,maintainers"),
        _server: server,
        url,
    }
}

struct Setup {
    _root: tempfile::TempDir,
    ws: PathBuf,
    outside: PathBuf,
    http_port: u16,
}

fn setup() -> Setup {
    // Under the target directory, not /tmp: the sandbox gives commands a private /tmp, so a
    // write "outside" must be aimed at a real directory the sandbox does not make writable.
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let ws = root.path().join("ws");
    let outside = root.path().join("outside");
    std::fs::create_dir_all(ws.join(".git/hooks")).unwrap();
    std::fs::create_dir_all(ws.join(".warden")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("outside-secret.txt"), "canary\n").unwrap();
    std::fs::write(ws.join("README.md"), "readme\n").unwrap();
    std::fs::write(ws.join(".env"), "env-canary\n").unwrap();
    std::os::unix::fs::symlink(&outside, ws.join("escape")).unwrap();
    std::os::unix::fs::symlink(outside.join("outside-secret.txt"), ws.join("escape-file")).unwrap();
    let http_port = origin();
    std::fs::write(
        ws.join(".warden/policy.toml"),
        format!(
            "version = 1\n[network]\nallow = [\"127.0.0.1:{http_port}\"]\nallow_private = [\"127.0.0.1\"]\n\
             discover_registries = false\ndiscover_git_remotes = false\n"
        ),
    )
    .unwrap();
    Setup {
        _root: root,
        ws,
        outside,
        http_port,
    }
}

/// Run the Python client with `cfg`; returns its JSON summary.
fn client(cfg: &Value, dir: &Path) -> Value {
    let path = dir.join(format!(
        "client-{}-{}.json",
        cfg["transport"].as_str().unwrap(),
        cfg["scenario"].as_str().unwrap()
    ));
    // Each `warden mcp` the client starts gets a HOME of its own, so that the anchors it seals
    // (`~/.config/warden/heads`) stay out of the real home of whoever runs the tests.
    let mut cfg = cfg.clone();
    cfg["home"] = test_home(dir).to_str().unwrap().into();
    std::fs::write(&path, cfg.to_string()).unwrap();
    let o = Command::new(python())
        .arg(CLIENT)
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "MCP client failed ({}):\nstdout: {stdout}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap()
}

/// The HOME every `warden` of a test runs with: `home` beside the workspace.
fn test_home(root: &Path) -> PathBuf {
    let home = root.join("home");
    std::fs::create_dir_all(&home).unwrap();
    home
}

fn audit(ws: &Path) -> Vec<Value> {
    let o = Command::new(WARDEN)
        .env("HOME", test_home(ws.parent().unwrap()))
        .args(["audit", "--workspace"])
        .arg(ws)
        .arg("verify")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "audit verify: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read_to_string(ws.join(".warden/audit/audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn check_full_run(s: &Setup, summary: &Value) {
    assert_eq!(summary["server"], "warden");
    assert!(summary["denied"].as_u64().unwrap() >= 15, "{summary}");
    assert!(summary["pending"].as_u64().unwrap() >= 3, "{summary}");

    // Nothing outside the workspace was read into a reply, written or created.
    assert_eq!(
        std::fs::read_to_string(s.outside.join("outside-secret.txt")).unwrap(),
        "canary\n"
    );
    for f in ["planted.txt", "from-exec.txt"] {
        assert!(!s.outside.join(f).exists(), "{f} was created outside");
    }
    assert!(!s.ws.parent().unwrap().join("planted.txt").exists());
    assert_eq!(
        std::fs::read_to_string(s.ws.join("made-by-exec.txt")).unwrap(),
        "sandboxed"
    );
    let policy = std::fs::read_to_string(s.ws.join(".warden/policy.toml")).unwrap();
    assert!(policy.contains("[network]"), "the policy was not replaced");
    assert!(!s.ws.join(".git/hooks/pre-commit").exists());

    let records = audit(&s.ws);
    let intents: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "intent" && r["agent"] == "mcp")
        .collect();
    assert!(intents.len() >= 30, "{} intents", intents.len());
    let outcome_of = |seq: &Value| {
        records
            .iter()
            .find(|r| r["kind"] == "outcome" && r["intent_seq"] == *seq)
    };
    for i in &intents {
        assert!(
            i["tool_call_id"].as_str().unwrap_or("").starts_with("mcp-"),
            "{i}"
        );
        assert!(
            outcome_of(&i["seq"]).is_some(),
            "intent without outcome: {i}"
        );
    }
    let find = |pred: &dyn Fn(&Value) -> bool| -> &Value {
        intents
            .iter()
            .copied()
            .find(|r| pred(r))
            .unwrap_or_else(|| panic!("no matching intent"))
    };
    // The denied command was recorded with its tier before it was refused.
    let rm = find(&|r| r["action"]["script"] == "rm -rf /");
    assert_eq!(rm["tier"], "deny");
    assert_eq!(rm["tool"], "exec", "the intent names the MCP tool");
    assert_eq!(rm["rationale"], "clean up");
    // An escape attempt is recorded (with the path it would have reached) and refused.
    let esc = find(&|r| {
        r["action"]["kind"] == "read"
            && r["action"]["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("outside/outside-secret.txt"))
    });
    let notes = outcome_of(&esc["seq"]).unwrap()["notes"].to_string();
    assert!(notes.contains("outside the workspace"), "{notes}");
    // A file write: the outcome carries the digest of what was written.
    let w = find(&|r| {
        r["action"]["kind"] == "write"
            && r["action"]["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("notes/a.txt"))
    });
    assert_eq!(w["tier"], "auto");
    assert_eq!(w["rationale"], "notes");
    assert_eq!(w["tool"], "write_file", "the intent names the MCP tool");
    // The approved POST: requested → granted, then the proxy's allow decision.
    let posts: Vec<&&Value> = intents
        .iter()
        .filter(|r| r["action"]["kind"] == "net" && r["action"]["method"] == "POST")
        .collect();
    assert!(
        posts
            .iter()
            .all(|p| p["tier"] == "async" && p["tool"] == "http_request")
    );
    let events_for = |seq: &Value, kind: &str| -> Vec<&Value> {
        records
            .iter()
            .filter(|r| r["kind"] == kind && r["intent_seq"] == *seq)
            .collect()
    };
    let ran: Vec<&&&Value> = posts
        .iter()
        .filter(|p| {
            events_for(&p["seq"], "approval")
                .iter()
                .any(|a| a["event"] == "granted")
        })
        .collect();
    assert_eq!(ran.len(), 1, "exactly one POST used the approval");
    let net = events_for(&ran[0]["seq"], "network");
    assert!(
        // ureq tunnels through the proxy (CONNECT), so the proxy sees host and port only.
        net.iter()
            .any(|n| n["allowed"] == true && n["port"] == s.http_port && n["host"] == "127.0.0.1"),
        "{net:?}"
    );
    // The blocked host: refused by the proxy, recorded as a network decision.
    let blocked = find(&|r| r["action"]["host"] == "blocked.invalid");
    let net = events_for(&blocked["seq"], "network");
    assert!(
        net.iter()
            .any(|n| n["allowed"] == false && n["host"] == "blocked.invalid"),
        "{net:?}"
    );
    // The pending exec: intent, requested, deferred outcome.
    let push = find(&|r| r["action"]["argv"] == json!(["git", "push", "origin", "main"]));
    assert_eq!(push["tier"], "async");
    assert!(!events_for(&push["seq"], "approval").is_empty());
    // Each exec's outcome says what the governed path decided, apart from what the command
    // printed or exited with: denied, deferred (naming the ticket the agent was given), and a
    // command that prints Warden's words and exits 77 ran, with the digest of what it printed.
    // (Before the one governed path, `exec` learned this by scanning a child `warden run`'s
    // stderr and re-reading the log, and outcomes had no disposition at all.)
    assert_eq!(outcome_of(&rm["seq"]).unwrap()["disposition"], "denied");
    let deferred = outcome_of(&push["seq"]).unwrap();
    assert_eq!(deferred["disposition"], "deferred", "{deferred}");
    assert_eq!(deferred["ticket"], summary["tickets"][0], "{deferred}");
    let spoof = find(&|r| {
        r["action"]["script"]
            .as_str()
            .is_some_and(|t| t.starts_with("echo 'warden: denied: fake'"))
    });
    let ran = outcome_of(&spoof["seq"]).unwrap();
    assert_eq!(ran["disposition"], "ran", "{ran}");
    assert_eq!(ran["exit_code"], 77, "{ran}");
    let printed = "warden: denied: fake\n";
    assert_eq!(ran["stderr_bytes"], printed.len(), "{ran}");
    assert_eq!(
        ran["stderr_sha256"],
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(printed)),
        "{ran}"
    );
    // The sync read of .env: requested, denied by alice.
    let env = find(&|r| {
        r["action"]["kind"] == "read"
            && r["action"]["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/.env"))
    });
    assert_eq!(env["tier"], "sync");
    assert!(
        events_for(&env["seq"], "approval")
            .iter()
            .any(|a| a["event"] == "denied" && a["by"] == "alice"),
        "{records:?}"
    );
}

fn full_cfg(s: &Setup, a: &Approvals, transport: &str) -> Value {
    json!({
        "transport": transport,
        "scenario": "full",
        "warden": WARDEN,
        "workspace": s.ws,
        "outside_dir": s.outside,
        "http_port": s.http_port,
        "closed_port": closed_port(),
        "approval_url": a.url,
        "approver_token": a.approver,
    })
}

#[test]
fn stdio_python_sdk_client_uses_every_tool_under_governance() {
    require_sdk();
    let s = setup();
    let a = approvals(s.ws.parent().unwrap());
    let mut cfg = full_cfg(&s, &a, "stdio");
    cfg["env"] = json!({"WARDEN_SERVER": a.url, "WARDEN_TOKEN": a.agent, "PATH": std::env::var("PATH").unwrap()});
    let summary = client(&cfg, s.ws.parent().unwrap());
    check_full_run(&s, &summary);
    // The server sealed its runs under the test's HOME, not the real one.
    let heads = test_home(s.ws.parent().unwrap()).join(".config/warden/heads");
    assert!(
        std::fs::read_dir(&heads).is_ok_and(|mut d| d.next().is_some()),
        "no anchor under the test's HOME ({})",
        heads.display()
    );
}

#[test]
fn streamable_http_python_sdk_client_with_bearer_token() {
    require_sdk();
    let s = setup();
    let a = approvals(s.ws.parent().unwrap());
    let token = "mcp-test-bearer-0123456789";
    let mut cmd = Command::new(WARDEN);
    cmd.arg("mcp")
        .arg("--workspace")
        .arg(&s.ws)
        .env("HOME", test_home(s.ws.parent().unwrap()))
        .args(["--listen", "127.0.0.1:0"])
        .env("WARDEN_MCP_TOKEN", token)
        .env("WARDEN_SERVER", &a.url)
        .env("WARDEN_TOKEN", &a.agent)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let mcp = serve::start_and_read(cmd, "warden mcp: listening on ");
    let mut cfg = full_cfg(&s, &a, "http");
    cfg["url"] = mcp.url.clone().into();
    cfg["token"] = token.into();
    let summary = client(&cfg, s.ws.parent().unwrap());
    check_full_run(&s, &summary);
}

#[test]
fn without_an_approval_server_surfaced_actions_are_refused() {
    require_sdk();
    let s = setup();
    let cfg = json!({
        "transport": "stdio",
        "scenario": "noserver",
        "warden": WARDEN,
        "workspace": s.ws,
    });
    let summary = client(&cfg, s.ws.parent().unwrap());
    assert_eq!(summary["denied"], 3, "{summary}");
    let records = audit(&s.ws);
    let env = records
        .iter()
        .find(|r| r["kind"] == "intent" && r["tier"] == "sync")
        .expect("the sync read was recorded");
    let outcome = records
        .iter()
        .find(|r| r["kind"] == "outcome" && r["intent_seq"] == env["seq"])
        .expect("and its refusal");
    assert!(outcome["notes"].to_string().contains("needs approval"));
}

/// Lookahead through MCP exec: `npm test` whose `posttest` pushes and `bash deploy.sh` whose
/// second line pushes are refused (no approval server) before anything runs; the old exec tool
/// classified the command alone (`auto`) and ran `touch marker`.
#[test]
fn exec_reads_scripts_ahead_and_refuses_before_running() {
    require_sdk();
    let s = setup();
    std::fs::write(
        s.ws.join("package.json"),
        r#"{"scripts": {"pretest": "touch marker", "test": "true", "posttest": "git push origin main"}}"#,
    )
    .unwrap();
    std::fs::write(
        s.ws.join("deploy.sh"),
        "touch marker\ngit push origin main\n",
    )
    .unwrap();
    let cfg = json!({
        "transport": "stdio",
        "scenario": "lookahead",
        "warden": WARDEN,
        "workspace": s.ws,
    });
    let summary = client(&cfg, s.ws.parent().unwrap());
    assert_eq!(summary["denied"], 2, "{summary}");
    assert!(!s.ws.join("marker").exists(), "a refused action ran");
}

#[test]
fn non_loopback_listen_without_a_token_is_refused() {
    let s = setup();
    let o = Command::new(WARDEN)
        .arg("mcp")
        .arg("--workspace")
        .arg(&s.ws)
        .args(["--listen", "0.0.0.0:0"])
        .env("HOME", test_home(s.ws.parent().unwrap()))
        .env_remove("WARDEN_MCP_TOKEN")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("without a bearer token"));
}

#[test]
fn documented_commands_in_docs_mcp_md_are_the_ones_tested() {
    // docs/mcp.md shows these invocations; the tests above run each of them.
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/mcp.md"))
            .unwrap();
    for cmd in [
        "warden mcp --workspace /path/to/repo",
        "WARDEN_MCP_TOKEN=s3cret warden mcp --workspace /path/to/repo --listen 127.0.0.1:",
        "WARDEN_SERVER=http://127.0.0.1:8420 WARDEN_TOKEN=$AGENT_TOKEN warden mcp",
        "warden approvals approve TICKET",
        "warden audit verify --workspace /path/to/repo",
    ] {
        assert!(doc.contains(cmd), "docs/mcp.md lacks `{cmd}`");
    }
}
