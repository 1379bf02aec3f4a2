//! Single sign-on for the approval web UI against a real OpenID provider (node-oidc-provider from
//! npm, run locally; scripts/setup-oidc.sh installs it) in real headless Chromium: the approver
//! signs in at the provider, comes back signed in as their verified email with the provider's
//! groups, and approves; a person whose groups do not include the routed one sees nothing and
//! cannot approve. Needs node, chromium and chromedriver.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN: &str = "wdn_sso_test_admin_token_42";
const CLIENT_SECRET: &str = "sso-test-client-secret";

#[allow(dead_code, reason = "shared support; this file uses part of it")]
#[path = "support/serve.rs"]
mod serve;
#[allow(dead_code, reason = "shared support; this file uses part of it")]
#[path = "support/webdriver.rs"]
mod webdriver;
use webdriver::{Driver, Kill, Session, call};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The OpenID provider on `port`, sending people back to `redirect`.
fn provider(port: u16, redirect: &str) -> Kill {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
    assert!(
        dir.join("node_modules/oidc-provider").is_dir(),
        "oidc-provider is not installed: run scripts/setup-oidc.sh"
    );
    let mut child = Command::new("node")
        .current_dir(&dir)
        .arg("provider.mjs")
        .env("PORT", port.to_string())
        .env("REDIRECT_URI", redirect)
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node must be installed (scripts/setup-oidc.sh)");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready", "the provider did not start");
    // Keep reading: a provider writing to a closed pipe would die mid-login.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    Kill(child)
}

fn wait1(s: &Session<'_>, css: &str) -> String {
    s.wait_for(css, |n| n >= 1, Duration::from_secs(20), &mut || None)
        .remove(0)
}

/// Sign in through the provider's login form as `who`; returns once the UI shows them.
fn sign_in(s: &Session<'_>, url: &str, who: &str) {
    s.post("/url", json!({ "url": format!("{url}/") }));
    s.click(&wait1(s, "#sso"));
    let login = wait1(s, "input[name=login]");
    s.type_into(&login, who);
    s.type_into(&wait1(s, "input[name=password]"), "any password");
    s.click(&wait1(s, "button[type=submit]"));
    let t0 = Instant::now();
    loop {
        if let Some(w) = s.find_all("#who").first()
            && s.text(w).contains(who)
        {
            return;
        }
        // A consent step, if the provider shows one.
        if let Some(b) = s.find_all("button[type=submit][autofocus]").first()
            && s.find_all("#token").is_empty()
        {
            s.click(b);
        }
        if t0.elapsed() > Duration::from_secs(30) {
            let (_, at) = call("GET", &s.url("/url"), None, None);
            let (_, page) = call("GET", &s.url("/source"), None, None);
            panic!("{who} was not signed in; at {at}: {page}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `POST path` from the page with the token the UI holds; returns the status.
fn post_from_page(s: &Session<'_>, path: &str, body: Value) -> i64 {
    let v = s.post(
        "/execute/async",
        json!({"script": "const done = arguments[arguments.length - 1];
            fetch(arguments[0], {method: 'POST', headers: {'Authorization': 'Bearer ' +
              sessionStorage.getItem('warden-token'), 'Content-Type': 'application/json'},
              body: JSON.stringify(arguments[1])}).then(r => done(r.status), e => done(String(e)));",
            "args": [path, body]}),
    );
    v.as_i64().unwrap_or_else(|| panic!("{v}"))
}

/// The provider and a `warden serve` signing people in through it, with `extra` lines in
/// `[approvals.oidc]`; returns the server's URL and both processes (stopped when dropped).
fn sso_server(dir: &Path, extra: &str) -> (String, Kill, serve::Running) {
    let (op_port, port) = (free_port(), free_port());
    let url = format!("http://127.0.0.1:{port}");
    let op = provider(op_port, &format!("{url}/auth/callback"));
    let policy = format!(
        r#"
[approvals.groups.security]
members = []
[[approvals.route]]
category = ["*"]
groups = ["security"]
timeout = "120s"
[approvals.oidc]
issuer = "http://127.0.0.1:{op_port}"
client_id = "warden"
client_secret_env = "WARDEN_OIDC_CLIENT_SECRET"
redirect_url = "{url}/auth/callback"
scopes = ["email", "groups"]
{extra}
"#
    );
    std::fs::write(dir.join("policy.toml"), policy).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.current_dir(dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--policy", "policy.toml", "--db", "sqlite:a.db"])
        .env("WARDEN_ADMIN_TOKEN", ADMIN)
        .env("WARDEN_OIDC_CLIENT_SECRET", CLIENT_SECRET)
        .stdout(Stdio::null());
    let server = serve::start_and_read(cmd, "warden serve: listening on ");
    (url, op, server)
}

/// A token minted at sign-in ends with the configured session lifetime (here shorter than the
/// ID token's hour): refused afterwards, and the page asks to sign in again. (Before, such a
/// token never expired.)
#[test]
fn a_sign_in_ends_with_its_session_lifetime() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _op, _server) = sso_server(dir.path(), "session_lifetime = \"5s\"");
    let driver = Driver::start();
    let s = Session::new(&driver, &dir.path().join("profile"));
    sign_in(&s, &url, "alice@example.com");
    // The token was minted before the page showed the identity: 5 s from here is past its end.
    let t0 = Instant::now();
    let token = s
        .execute("return sessionStorage.getItem('warden-token')")
        .as_str()
        .unwrap()
        .to_owned();
    let (st, v) = call("GET", &format!("{url}/whoami"), Some(&token), None);
    assert_eq!(
        (st, v["name"].as_str()),
        (200, Some("alice@example.com")),
        "{v}"
    );
    std::thread::sleep(Duration::from_secs(6).saturating_sub(t0.elapsed()));
    let (st, v) = call("GET", &format!("{url}/whoami"), Some(&token), None);
    assert_eq!(st, 401, "{v}");
    assert!(v["error"].as_str().unwrap().contains("expired"), "{v}");
    // The page drops the token and shows the sign-in again.
    s.post("/refresh", json!({}));
    wait1(&s, "#sso");
    let t0 = Instant::now();
    while s.execute("return document.getElementById('login').offsetParent !== null") != json!(true)
    {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "sign-in not shown again"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        s.execute("return sessionStorage.getItem('warden-token')"),
        Value::Null
    );
}

#[test]
fn people_sign_in_with_the_provider_and_only_the_routed_group_may_approve() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _op, _server) = sso_server(dir.path(), "");
    let agent = serve::create_token(&url, ADMIN, "agent", "agent-1", "");
    let (st, v) = call(
        "POST",
        &format!("{url}/requests"),
        Some(&agent),
        Some(
            json!({"tier":"async","category":"deploy","rule":"r","reasons":[],
            "action_text":"make deploy","action":{"kind":"exec","argv":["make","deploy"]},
            "cwd":"/w","workspace":"/w","policy_digest":"p"}),
        ),
    );
    assert_eq!(st, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    let digest = v["action_digest"].as_str().unwrap().to_owned();

    let driver = Driver::start();
    // Mallory is in `other`: signed in, but the request is not hers to see or decide.
    {
        let s = Session::new(&driver, &dir.path().join("profile-mallory"));
        sign_in(&s, &url, "mallory@example.com");
        std::thread::sleep(Duration::from_secs(1));
        assert!(s.find_all(".req").is_empty(), "mallory sees the request");
        let status = post_from_page(
            &s,
            &format!("/requests/{id}/approve"),
            json!({"action_digest": digest}),
        );
        assert!(
            status == 403 || status == 404,
            "mallory's approval: {status}"
        );
    }
    // Alice is in `security`: she sees it and approves it in the browser.
    let s = Session::new(&driver, &dir.path().join("profile-alice"));
    sign_in(&s, &url, "alice@example.com");
    assert!(
        s.text(&wait1(&s, "#who")).contains("groups: security"),
        "the provider's groups claim"
    );
    s.click(&wait1(&s, &format!(".req[data-id='{id}'] .approve")));
    let t0 = Instant::now();
    let r = loop {
        let (_, r) = call("GET", &format!("{url}/requests/{id}"), Some(ADMIN), None);
        if r["status"] == "approved" {
            break r;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "not approved: {r}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let voters: Vec<&str> = r["votes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["approver"].as_str().unwrap())
        .collect();
    assert_eq!(voters, ["alice@example.com"]);
    // A login state works once: replaying the callback is refused.
    let (st, _) = call(
        "GET",
        &format!("{url}/auth/callback?code=forged&state=never-issued"),
        None,
        None,
    );
    assert_eq!(st, 401);
}
