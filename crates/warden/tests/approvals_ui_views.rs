//! The approver's web UI at a phone's width (390 px) and at desktop width, in real headless
//! Chromium over WebDriver against a real `warden serve`: three requests (a file write filed with
//! its content, an operation held inside a running action, and one whose action and rationale
//! carry HTML and a bidi override) show their diff, their parent action, a live countdown and
//! their explanation; the queue filters by agent; the keyboard moves, cancels, approves and denies
//! with a confirmation; decided requests move to the Decided view with who decided and why;
//! nothing from the server becomes markup and the page never scrolls sideways.
//! Screenshots land in `$WARDEN_UI_SCREENSHOTS` when set (docs/img/ holds two of them).
//! Needs `chromium` and `chromedriver` (scripts/setup-approvals.sh installs them).

use serde_json::{Value, json};
use sha2::Digest as _;
use std::time::{Duration, Instant};

const ADMIN: &str = "wdn_ui_views_admin_token_42";
const POLICY: &str = r#"
[approvals.groups.security]
members = []
[approvals.groups.release]
members = []
[[approvals.route]]
category = ["deploy"]
groups = ["release"]
timeout = "900s"
[[approvals.route]]
category = ["*"]
groups = ["security"]
timeout = "600s"
"#;
/// Markup a careless UI would render as an element that runs script.
const XSS: &str = "<img src=x onerror=\"window.pwned=1\">";

#[allow(dead_code, reason = "shared support; this file uses part of it")]
#[path = "support/serve.rs"]
mod serve;
#[allow(dead_code, reason = "shared support; this file uses part of it")]
#[path = "support/webdriver.rs"]
mod webdriver;
use webdriver::{Driver, Session, call};

fn file(url: &str, agent: &str, body: Value) -> String {
    let (st, v) = call("POST", &format!("{url}/requests"), Some(agent), Some(body));
    assert_eq!(st, 201, "{v}");
    // Distinct filing times, so the newest-first order is certain.
    std::thread::sleep(Duration::from_millis(5));
    v["id"].as_str().unwrap().to_owned()
}

fn status(url: &str, tok: &str, id: &str) -> Value {
    call("GET", &format!("{url}/requests/{id}"), Some(tok), None).1
}

fn wait_status(url: &str, tok: &str, id: &str, want: &str) -> Value {
    let t0 = Instant::now();
    loop {
        let v = status(url, tok, id);
        if v["status"] == want {
            return v;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "not {want}: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_n(s: &Session<'_>, css: &str, n: usize) -> Vec<String> {
    s.wait_for(css, |f| f == n, Duration::from_secs(20), &mut || None)
}

fn selected(s: &Session<'_>) -> String {
    s.execute("return document.querySelector('.req.selected').dataset.id")
        .as_str()
        .unwrap()
        .to_owned()
}

/// The page's scroll width against the viewport's: equal means no sideways scrolling.
fn no_sideways_scroll(s: &Session<'_>, width: u32, when: &str) {
    let v = s.execute(
        "return [document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]",
    );
    let (doc, body, inner) = (
        v[0].as_u64().unwrap(),
        v[1].as_u64().unwrap(),
        v[2].as_u64().unwrap(),
    );
    assert_eq!(inner, u64::from(width), "viewport width");
    assert!(
        doc <= inner && body <= inner,
        "{when}: the page scrolls sideways at {width} px ({doc}/{body} > {inner})"
    );
}

fn exercise(width: u32, height: u32, shot: &str) {
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
    let coder = tok("agent", "coder-bot", "");
    let deployer = tok("agent", "deploy-bot", "");
    let alice = tok("approver", "alice", "security,release");

    // Markup and a right-to-left override in the action and in the rationale.
    let hostile = file(
        &url,
        &coder,
        json!({"tier":"async","category":"network","rule":"net.unknown",
            "reasons":[format!("reason {XSS}")],
            "rationale":format!("{XSS} rename \u{202E}gnp.exe"),
            "action":{"kind":"exec","argv":["echo",XSS,"\u{202E}txt.exe"]},
            "cwd":"/srv/app","workspace":"/srv/app","policy_digest":"p"}),
    );

    // A `git push` held inside a running `make deploy`.
    let nested = file(
        &url,
        &deployer,
        json!({"tier":"sync","category":"deploy","rule":"deploy.push",
            "reasons":["`make deploy` ran `git push origin main`"],
            "rationale":"release 2.4 after the green pipeline",
            "action":{"kind":"exec","argv":["make","deploy"]},
            "nested_action":{"kind":"exec","argv":["git","push","origin","main"]},
            "cwd":"/srv/release","workspace":"/srv/release","policy_digest":"p"}),
    );
    // A file write filed with its content: the server checks it against the bound digest and
    // shows the diff.
    let before = "[server]\nport = 8080\nworkers = 4\nlog = \"info\"\n";
    let after = "[server]\nport = 8443\nworkers = 4\nlog = \"info\"\ntls = true\n";
    let sha = hex::encode(sha2::Sha256::digest(after.as_bytes()));
    let write = file(
        &url,
        &coder,
        json!({"tier":"sync","category":"config-change","rule":"writes.config",
            "reasons":["changes the service configuration"],
            "rationale":"serve over TLS as the ticket asks",
            "action":{"kind":"write","path":"/srv/app/config.toml","content_sha256":sha},
            "proposed":{"before":before,"after":after},
            "cwd":"/srv/app","workspace":"/srv/app","policy_digest":"p"}),
    );
    let driver = Driver::start();
    let s = Session::new(&driver, &dir.path().join("profile"));
    s.set_size(width, height);
    s.post("/url", json!({ "url": url }));
    let input = wait_n(&s, "#token", 1).remove(0);
    s.type_into(&input, &alice);
    s.click(&wait_n(&s, "#login-btn", 1).remove(0));
    let reqs = wait_n(&s, ".req", 3);
    no_sideways_scroll(&s, width, "the queue");

    // Newest first; the first is selected.
    let order: Vec<String> = reqs
        .iter()
        .map(|e| {
            s.execute(&format!(
                "return document.querySelectorAll('.req')[{}].dataset.id",
                reqs.iter().position(|x| x == e).unwrap()
            ))
            .as_str()
            .unwrap()
            .to_owned()
        })
        .collect();
    assert_eq!(order, [write.clone(), nested.clone(), hostile.clone()]);
    assert_eq!(selected(&s), write);

    // A live countdown on each pending request.
    let counts = wait_n(&s, ".countdown", 3);
    let first = s.text(&counts[0]);
    assert!(first.starts_with("expires in "), "{first}");
    let t0 = Instant::now();
    while s.text(&counts[0]) == first {
        assert!(t0.elapsed() < Duration::from_secs(5), "countdown not live");
        std::thread::sleep(Duration::from_millis(200));
    }
    let nested_left = s.text(&s.find_all(&format!(".req[data-id='{nested}'] .countdown"))[0]);
    assert!(
        nested_left.starts_with("expires in 14m") || nested_left.starts_with("expires in 15m"),
        "the deploy route's 900 s timeout: {nested_left}"
    );

    // The diff of what will be written.
    let diff = s.text(&s.find_all(&format!(".req[data-id='{write}'] .diff"))[0]);
    for want in [
        "--- /srv/app/config.toml (now)",
        "+++ /srv/app/config.toml (proposed)",
        "-port = 8080",
        "+port = 8443",
        "+tls = true",
        " workers = 4",
    ] {
        assert!(diff.contains(want), "diff lacks {want:?}: {diff}");
    }
    assert_eq!(
        s.find_all(&format!(".req[data-id='{write}'] .diff .add"))
            .len(),
        2
    );
    // The held operation and the action it belongs to.
    let held = s.text(&s.find_all(&format!(".req[data-id='{nested}'] .nested"))[0]);
    let parent = s.text(&s.find_all(&format!(".req[data-id='{nested}'] .parent"))[0]);
    assert_eq!(
        (held.as_str(), parent.as_str()),
        ("git push origin main", "make deploy")
    );

    // Markup stays text; the bidi override is shown as a code point, never applied.
    let card = s.text(&s.find_all(&format!(".req[data-id='{hostile}']"))[0]);
    assert!(card.contains(XSS), "the markup is shown as text: {card}");
    let rationale = s.text(&s.find_all(&format!(".req[data-id='{hostile}'] .rationale"))[0]);
    assert_eq!(
        rationale,
        format!("Agent's rationale: {XSS} rename ⟨U+202E⟩gnp.exe")
    );
    assert!(!card.contains('\u{202E}'), "a raw bidi override: {card:?}");
    assert!(s.find_all("#queue img").is_empty(), "markup was rendered");
    assert_eq!(s.execute("return window.pwned === undefined"), json!(true));

    // The explanation, opened from the keyboard (o) on the selected request: the server's own
    // trace, command by command, and the deciding rule's text.
    s.press("o");
    let trace = wait_n(
        &s,
        &format!(".req[data-id='{write}'] details[open] .commands li"),
        1,
    );
    assert!(s.text(&trace[0]).contains(" · "), "{}", s.text(&trace[0]));
    let rule = s.text(&s.find_all(&format!(".req[data-id='{write}'] .rule-text"))[0]);
    assert!(rule.starts_with("Deciding rule "), "{rule}");
    no_sideways_scroll(&s, width, "with an explanation open");
    s.execute("window.scrollTo(0, 0)");
    s.screenshot(&dir.path().join(format!("{shot}.png")));
    if let Ok(out) = std::env::var("WARDEN_UI_SCREENSHOTS") {
        std::fs::copy(
            dir.path().join(format!("{shot}.png")),
            std::path::Path::new(&out).join(format!("{shot}.png")),
        )
        .unwrap();
    }
    // The hostile request's reasons stay text too.
    s.press("ojjo");
    assert_eq!(selected(&s), hostile);
    wait_n(&s, &format!(".req[data-id='{hostile}'] details[open]"), 1);
    let reasons = s.text(&s.find_all(&format!(".req[data-id='{hostile}'] .reasons"))[0]);
    assert!(reasons.contains(XSS), "{reasons}");
    assert!(s.find_all("#queue img").is_empty(), "markup was rendered");
    no_sideways_scroll(&s, width, "with the hostile explanation open");
    s.press("o");

    // Filter by agent: only the deploy bot's request; then every agent again.
    s.click(&s.find_all("#f-agent option[value='deploy-bot']")[0]);
    let only = wait_n(&s, ".req", 1);
    assert_eq!(
        s.execute("return document.querySelector('.req').dataset.id"),
        json!(nested)
    );
    let _ = only;
    s.click(&s.find_all("#f-group option[value='security']")[0]);
    wait_n(&s, ".req", 0);
    s.click(&s.find_all("#f-agent option[value='']")[0]);
    wait_n(&s, ".req", 2);
    s.click(&s.find_all("#f-group option[value='']")[0]);
    wait_n(&s, ".req", 3);

    // Keyboard: k moves up; d asks, Escape cancels (nothing is decided); a asks, y approves.
    s.press("kk");
    assert_eq!(selected(&s), write);
    s.press("j");
    assert_eq!(selected(&s), nested);
    s.press("d");
    let confirm = wait_n(&s, "#confirm:not([hidden])", 1).remove(0);
    assert!(s.text(&confirm).contains("Deny git push origin main"));
    s.press("\u{E00C}"); // Escape
    wait_n(&s, "#confirm:not([hidden])", 0);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(status(&url, &alice, &nested)["status"], "pending");
    s.press("a");
    let confirm = wait_n(&s, "#confirm:not([hidden])", 1).remove(0);
    assert!(s.text(&confirm).contains("Approve git push origin main"));
    s.press("y");
    let v = wait_status(&url, &alice, &nested, "approved");
    assert_eq!(v["votes"][0]["approver"], "alice");
    wait_n(&s, ".req", 2);
    // d then Enter denies the request now selected.
    let target = selected(&s);
    s.press("d\u{E007}");
    wait_status(&url, &alice, &target, "denied");
    wait_n(&s, ".req", 1);

    // The Decided view: who decided, when and why.
    s.click(&wait_n(&s, "#tab-decided", 1)[0]);
    wait_n(&s, ".req", 2);
    let decided = s.text(&s.find_all(&format!(".req[data-id='{nested}']"))[0]);
    assert!(
        decided.contains("vote by alice: approve")
            && decided.contains("approved at ")
            && decided.contains("approved by 1 of 1 needed"),
        "{decided}"
    );
    no_sideways_scroll(&s, width, "the decided view");
    if let Ok(out) = std::env::var("WARDEN_UI_SCREENSHOTS") {
        s.screenshot(&std::path::Path::new(&out).join(format!("{shot}-decided.png")));
    }
}

#[test]
fn the_queue_works_at_a_phones_width() {
    exercise(390, 844, "approvals-phone");
}

#[test]
fn the_queue_works_at_desktop_width() {
    exercise(1280, 900, "approvals-desktop");
}

/// The diff shown is only ever of content the approval binds: content that does not match the
/// action's digest, or filed with an action that is not a write, is not shown (and the request
/// says why); content no digest binds is shown with a warning.
#[test]
fn a_diff_is_shown_only_for_content_the_action_binds() {
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
    let agent = serve::create_token(&url, ADMIN, "agent", "coder-bot", "");
    let filed = |action: Value, proposed: Value| {
        let (st, v) = call(
            "POST",
            &format!("{url}/requests"),
            Some(&agent),
            Some(
                json!({"tier":"sync","category":"c","rule":"r","action":action,
                "proposed":proposed,"cwd":"/w","workspace":"/w","policy_digest":"p"}),
            ),
        );
        assert_eq!(st, 201, "{v}");
        v
    };
    let honest = hex::encode(sha2::Sha256::digest(b"x = 2\n"));
    let v = filed(
        json!({"kind":"write","path":"/w/a.toml","content_sha256":honest}),
        json!({"before":"x = 1\n","after":"x = 2\n"}),
    );
    assert_eq!(
        v["diff"].as_str().unwrap(),
        "--- /w/a.toml (now)\n+++ /w/a.toml (proposed)\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
    );
    // The digest binds `x = 2`; the filer shows `x = 3`.
    let v = filed(
        json!({"kind":"write","path":"/w/a.toml","content_sha256":honest}),
        json!({"after":"x = 3\n"}),
    );
    assert!(v.get("diff").is_none(), "{v}");
    assert!(
        v["discrepancies"]
            .to_string()
            .contains("does not match the action's `content_sha256`"),
        "{v}"
    );
    // An edit: both the replaced and the replacing text are bound.
    let (old, new) = ("port = 1", "port = 2");
    let sha = |t: &str| hex::encode(sha2::Sha256::digest(t.as_bytes()));
    let v = filed(
        json!({"kind":"write","path":"/w/b.toml","old_sha256":sha(old),"new_sha256":sha(new)}),
        json!({"before":"port = 9","after":new}),
    );
    assert!(v.get("diff").is_none(), "a forged `before`: {v}");
    let v = filed(
        json!({"kind":"write","path":"/w/b.toml","old_sha256":sha(old),"new_sha256":sha(new)}),
        json!({"before":old,"after":new}),
    );
    assert!(v["diff"].as_str().unwrap().contains("+port = 2"), "{v}");
    // Not a write; and content nothing binds.
    let v = filed(json!({"kind":"exec","argv":["true"]}), json!({"after":"x"}));
    assert!(v.get("diff").is_none(), "{v}");
    assert!(
        v["discrepancies"].to_string().contains("not a file write"),
        "{v}"
    );
    let v = filed(
        json!({"kind":"write","path":"/w/c.toml"}),
        json!({"after":"y\n"}),
    );
    assert!(v["diff"].as_str().unwrap().contains("+y"), "{v}");
    assert!(
        v["discrepancies"]
            .to_string()
            .contains("not bound into the action"),
        "{v}"
    );
}
