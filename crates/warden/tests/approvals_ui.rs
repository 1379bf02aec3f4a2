//! The approval web UI in real headless Chromium, driven over WebDriver (chromedriver): a real
//! `warden run` of a `sync` action waits on the server; the approver logs in with a token, sees
//! the routed request (and one that arrives live over SSE), approves it, and the waiting
//! `warden run` then runs the action and exits 0.
//! Needs `chromium` and `chromedriver` (scripts/setup-approvals.sh installs them).

use serde_json::{Value, json};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");
const ADMIN: &str = "wdn_ui_test_admin_token_42";
/// Routes the default policy's `credential-access` category (reading `.env`) to `security`.
const POLICY: &str = r#"
[approvals.groups.security]
members = []
[[approvals.route]]
category = ["credential-access"]
groups = ["security"]
timeout = "120s"
"#;

#[path = "support/serve.rs"]
mod serve;
#[allow(dead_code, reason = "shared support; this file uses part of it")]
#[path = "support/webdriver.rs"]
mod webdriver;
use webdriver::{Driver, Kill, Session, call};

/// Waits until exactly `n` elements match `css`.
fn wait_for(s: &Session<'_>, css: &str, n: usize) -> Vec<String> {
    s.wait_for(
        css,
        |found| found == n,
        Duration::from_secs(20),
        &mut || None,
    )
}

fn file(url: &str, agent_token: &str, text: &str) -> Value {
    let (st, v) = call(
        "POST",
        &format!("{url}/requests"),
        Some(agent_token),
        Some(
            json!({"tier":"sync","category":"credential-access","rule":"secrets.env",
            "reasons":["reads a .env file"],"rationale":"need the DB URL","action_text":text,
            "action":{"kind":"exec","argv":text.split(' ').collect::<Vec<_>>()},
            "cwd":"/w","workspace":"/w","policy_digest":"p"}),
        ),
    );
    assert_eq!(st, 201, "{v}");
    v
}

#[test]
fn approver_logs_in_sees_routed_request_approves_it_and_the_waiting_run_proceeds() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.toml"), POLICY).unwrap();
    let server = serve::serve(
        dir.path(),
        ADMIN,
        [
            "--db",
            "sqlite:a.db",
            "--listen",
            "127.0.0.1:0",
            "--policy",
            "policy.toml",
        ],
    );
    let url = server.url.clone();
    let tok =
        |role: &str, name: &str, groups: &str| serve::create_token(&url, ADMIN, role, name, groups);
    let bot = tok("agent", "bot", "");
    let alice = tok("approver", "alice", "security");

    // A real `warden run` of a `sync` action (reading `.env`), waiting on the server.
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(ws.join(".git")).unwrap();
    std::fs::write(ws.join(".env"), "DB_URL=canary-from-env\n").unwrap();
    let mut run = Command::new(WARDEN)
        .current_dir(&ws)
        .args(["run", "--rationale", "need the DB URL", "--"])
        .args([
            "sh",
            "-c",
            "cat .env && echo \"<script>alert(1)</script> ran\" > marker",
        ])
        .env("WARDEN_SERVER", &url)
        .env("WARDEN_TOKEN", &bot)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let id = loop {
        let (st, v) = call(
            "GET",
            &format!("{url}/requests?status=pending"),
            Some(&alice),
            None,
        );
        assert_eq!(st, 200, "{v}");
        if let Some(r) = v.as_array().and_then(|a| a.first()) {
            break r["id"].as_str().unwrap().to_owned();
        }
        if let Some(st) = run.try_wait().unwrap() {
            let mut e = String::new();
            run.stderr.take().unwrap().read_to_string(&mut e).unwrap();
            panic!("warden run ended ({st}) before filing a request: {e}");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "warden run filed no request"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut run = Kill(run);

    let driver = Driver::start();
    let s = Session::new(&driver, &dir.path().join("profile"));
    s.post("/url", json!({ "url": url }));
    let input = wait_for(&s, "#token", 1).remove(0);
    s.type_into(&input, &alice);
    let btn = wait_for(&s, "#login-btn", 1).remove(0);
    s.click(&btn);
    let who = wait_for(&s, "#who", 1).remove(0);
    let t0 = Instant::now();
    while !s.text(&who).contains("alice") {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "login did not show the identity"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let reqs = wait_for(&s, ".req", 1);
    let shown = s.text(&reqs[0]);
    // The server shows the `sh -c` word single-quoted (its rendering of the argv), so the
    // script's own quotes are double quotes here.
    assert!(
        shown.contains("sh -c 'cat .env && echo \"<script>alert(1)</script> ran\" > marker'"),
        "action shown verbatim, not as HTML: {shown}"
    );
    assert!(shown.contains("credential-access"), "{shown}");
    assert!(shown.contains("need the DB URL") && shown.contains(&*ws.to_string_lossy()));
    // While nobody has decided, the run is still waiting and the action has not run.
    assert!(run.0.try_wait().unwrap().is_none(), "sync run must wait");
    assert!(
        !ws.join("marker").exists(),
        "the action ran before approval"
    );
    // A second request arrives live (SSE), no reload.
    file(&url, &bot, "cat id_rsa");
    wait_for(&s, ".req", 2);
    // Approve the waiting run's request in the browser.
    let target = s
        .find_all(&format!(".req[data-id='{id}'] .approve"))
        .remove(0);
    s.click(&target);
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = run.0.try_wait().unwrap() {
            break st;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "warden run still waiting after the approval"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let (mut out, mut errs) = (String::new(), String::new());
    run.0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    run.0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut errs)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{errs}");
    assert_eq!(out, "DB_URL=canary-from-env\n", "the approved action ran");
    assert_eq!(
        std::fs::read_to_string(ws.join("marker")).unwrap(),
        "<script>alert(1)</script> ran\n"
    );
    let (_, v) = call("GET", &format!("{url}/requests/{id}"), Some(&alice), None);
    assert_eq!(v["status"], "consumed", "{v}");
    assert_eq!(v["votes"][0]["approver"], "alice");
    assert_eq!(v["requester"], "bot");
    // The decided request leaves the queue; the other one stays.
    wait_for(&s, ".req", 1);
}
