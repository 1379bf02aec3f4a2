//! The reviewer's vote in the approval web UI, in real headless Chromium: a reviewer program
//! escalates with a reason that looks like HTML, and the approver sees the vote by
//! `reviewer:<name>` with that reason as text (never markup), then decides themselves.
//! Needs `chromium` and `chromedriver` (scripts/setup-approvals.sh installs them).

use serde_json::json;
use std::time::{Duration, Instant};

const ADMIN: &str = "wdn_ui_reviewer_admin_token_42";

#[allow(dead_code, reason = "shared support; this file uses part of it")]
#[path = "support/serve.rs"]
mod serve;
#[allow(dead_code, reason = "shared support; this file uses part of it")]
#[path = "support/webdriver.rs"]
mod webdriver;
use webdriver::{Driver, Session, call};

#[test]
fn the_reviewers_vote_and_reason_are_shown_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("reviewer.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\ncat >/dev/null\necho '{\"decision\":\"escalate\",\"reason\":\"<b>unsure</b> about prod\"}'\n",
    )
    .unwrap();
    let policy = format!(
        "[approvals.groups.security]\nmembers = []\n[[approvals.route]]\ncategory = [\"*\"]\ngroups = [\"security\"]\n\
         timeout = \"120s\"\n[approvals.reviewer]\nname = \"bot\"\ncommand = [\"sh\", \"{}\"]\n",
        script.display()
    );
    std::fs::write(dir.path().join("policy.toml"), policy).unwrap();
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
    let agent = serve::create_token(&url, ADMIN, "agent", "agent-1", "");
    let alice = serve::create_token(&url, ADMIN, "approver", "alice", "security");
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

    let driver = Driver::start();
    let s = Session::new(&driver, &dir.path().join("profile"));
    s.post("/url", json!({ "url": url }));
    let wait = |css: &str| {
        s.wait_for(css, |n| n == 1, Duration::from_secs(20), &mut || None)
            .remove(0)
    };
    let input = wait("#token");
    s.type_into(&input, &alice);
    s.click(&wait("#login-btn"));
    // The list is re-read on every change (SSE), so the vote shows whenever it lands.
    let vote = wait(&format!(".req[data-id='{id}'] .vote"));
    let shown = s.text(&vote);
    assert_eq!(
        shown, "vote by reviewer:bot: escalate — <b>unsure</b> about prod",
        "the reason is text, not markup"
    );
    assert!(
        s.find_all(".vote b").is_empty(),
        "HTML from the reviewer was rendered"
    );
    // Escalated, so a person decides.
    s.click(
        &s.find_all(&format!(".req[data-id='{id}'] .approve"))
            .remove(0),
    );
    let t0 = Instant::now();
    loop {
        let (_, v) = call("GET", &format!("{url}/requests/{id}"), Some(&alice), None);
        if v["status"] == "approved" {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "not approved: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
