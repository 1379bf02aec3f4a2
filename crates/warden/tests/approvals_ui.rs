//! The approval web UI in real headless Chromium, driven over WebDriver (chromedriver): a real
//! `warden run` of a `sync` action waits on the server; the approver logs in with a token, sees
//! the routed request (and one that arrives live over SSE), approves it, and the waiting
//! `warden run` then runs the action and exits 0.
//! Needs `chromium` and `chromedriver` (scripts/setup-approvals.sh installs them).

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");
const ADMIN: &str = "wdn_ui_test_admin_token_42";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// Routes the default policy's `credential-access` category (reading `.env`) to `security`.
const POLICY: &str = r#"
[approvals.groups.security]
members = []
[[approvals.route]]
category = ["credential-access"]
groups = ["security"]
timeout = "120s"
"#;

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn call(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let a = agent();
    let auth = token.map(|t| format!("Bearer {t}"));
    let resp = match method {
        "GET" => {
            let mut r = a.get(url);
            if let Some(h) = &auth {
                r = r.header("Authorization", h);
            }
            r.call()
        }
        "DELETE" => a.delete(url).call(),
        _ => {
            let mut r = a.post(url).header("Content-Type", "application/json");
            if let Some(h) = &auth {
                r = r.header("Authorization", h);
            }
            r.send(body.unwrap_or(json!({})).to_string().as_bytes())
        }
    };
    // Connection refused (e.g. chromedriver still starting) reads as status 0.
    let Ok(mut resp) = resp else {
        return (0, Value::Null);
    };
    let st = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (st, serde_json::from_str(&text).unwrap_or(Value::Null))
}

struct Driver {
    base: String,
    _proc: Kill,
}

impl Driver {
    fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let proc = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver not found: run scripts/setup-approvals.sh");
        let base = format!("http://127.0.0.1:{port}");
        let t0 = Instant::now();
        while call("GET", &format!("{base}/status"), None, None).0 != 200 {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver {
            base,
            _proc: Kill(proc),
        }
    }
}

struct Session<'a> {
    d: &'a Driver,
    id: String,
}

impl<'a> Session<'a> {
    fn new(d: &'a Driver, profile: &std::path::Path) -> Session<'a> {
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run",
                     format!("--user-data-dir={}", profile.display())]
        }}}});
        let (st, v) = call("POST", &format!("{}/session", d.base), None, Some(caps));
        assert_eq!(st, 200, "{v}");
        Session {
            d,
            id: v["value"]["sessionId"].as_str().unwrap().to_owned(),
        }
    }

    fn url(&self, p: &str) -> String {
        format!("{}/session/{}{p}", self.d.base, self.id)
    }

    fn post(&self, p: &str, body: Value) -> Value {
        let (st, v) = call("POST", &self.url(p), None, Some(body));
        assert_eq!(st, 200, "{p}: {v}");
        v["value"].clone()
    }

    fn find_all(&self, css: &str) -> Vec<String> {
        let v = self.post("/elements", json!({"using": "css selector", "value": css}));
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap().to_owned())
            .collect()
    }

    fn wait_for(&self, css: &str, n: usize) -> Vec<String> {
        let t0 = Instant::now();
        loop {
            let found = self.find_all(css);
            if found.len() == n {
                return found;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "expected {n} × {css}, found {}",
                found.len()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn text(&self, e: &str) -> String {
        let (_, v) = call("GET", &self.url(&format!("/element/{e}/text")), None, None);
        v["value"].as_str().unwrap_or_default().to_owned()
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = call("DELETE", &self.url(""), None, None);
    }
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
    let mut server = Command::new(WARDEN)
        .current_dir(dir.path())
        .args(["serve", "--db", "sqlite:a.db", "--listen", "127.0.0.1:0"])
        .args(["--policy", "policy.toml"])
        .env("WARDEN_ADMIN_TOKEN", ADMIN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(server.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("listening on") {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "server did not start"
        );
    }
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    let _server = Kill(server);
    let tok = |role: &str, name: &str, groups: Vec<&str>| {
        let (st, v) = call(
            "POST",
            &format!("{url}/tokens"),
            Some(ADMIN),
            Some(json!({"role": role, "name": name, "groups": groups})),
        );
        assert_eq!(st, 201);
        v["token"].as_str().unwrap().to_owned()
    };
    let bot = tok("agent", "bot", vec![]);
    let alice = tok("approver", "alice", vec!["security"]);

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
            "cat .env && echo '<script>alert(1)</script> ran' > marker",
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
    let input = s.wait_for("#token", 1).remove(0);
    s.post(&format!("/element/{input}/value"), json!({ "text": alice }));
    let btn = s.wait_for("#login-btn", 1).remove(0);
    s.post(&format!("/element/{btn}/click"), json!({}));
    let who = s.wait_for("#who", 1).remove(0);
    let t0 = Instant::now();
    while !s.text(&who).contains("alice") {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "login did not show the identity"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let reqs = s.wait_for(".req", 1);
    let shown = s.text(&reqs[0]);
    assert!(
        shown.contains("echo '<script>alert(1)</script> ran'"),
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
    s.wait_for(".req", 2);
    // Approve the waiting run's request in the browser.
    let target = s
        .find_all(&format!(".req[data-id='{id}'] .approve"))
        .remove(0);
    s.post(&format!("/element/{target}/click"), json!({}));
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
    s.wait_for(".req", 1);
}
