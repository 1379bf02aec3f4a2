//! Slack approvals end to end with a real `warden serve`: a local HTTPS receiver (certificate
//! from a throw-away CA) stands in for Slack's incoming-webhook endpoint and for the click's
//! `response_url`; button clicks are signed as Slack signs them. Forged, old and replayed
//! clicks are refused, so are a Slack user outside the group, the requester, and a click for
//! another action; two members' clicks meet a quorum of two and the message is updated.

use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[path = "support/pg.rs"]
mod pg;
#[allow(dead_code, reason = "shared support; this file uses part of it")]
#[path = "support/serve.rs"]
mod serve;
#[path = "support/tls.rs"]
mod tls;

const ADMIN: &str = "wdn_test_admin_token_slack_0123456789";
const SECRET: &str = "slack-signing-secret-for-tests";

const POLICY: &str = r#"
[approvals.slack]
signing_secret_env = "SLACK_SIGNING_SECRET"
[approvals.slack.users]
UREQ = "agent-1"
[approvals.groups.security]
members = ["slack:UALICE", "slack:UBOB", "slack:UREQ"]
[approvals.groups.security.slack]
webhook_env = "SLACK_WEBHOOK_SECURITY"
[approvals.groups.other]
members = ["slack:UEVE"]
[[approvals.route]]
category = ["*"]
groups = ["security"]
quorum = 2
timeout = "60s"
"#;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

/// Slack's form-encoded interaction body for a click by `user` on `action` with `value`.
fn click_body(user: &str, action: &str, value: &str, response_url: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user, "username": user.to_lowercase()},
        "actions": [{"action_id": action, "block_id": "warden-decision", "value": value,
                     "type": "button"}],
        "response_url": response_url,
    });
    serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap()
}

/// POST `body` to the interactions endpoint with the given timestamp and signature.
fn post(url: &str, body: &str, ts: i64, sig: &str) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .post(format!("{url}/integrations/slack/interactions"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Slack-Request-Timestamp", ts.to_string())
        .header("X-Slack-Signature", sig)
        .send(body.as_bytes())
        .unwrap();
    let status = r.status().as_u16();
    let v = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap_or(Value::Null);
    (status, v)
}

fn signed(url: &str, body: &str) -> (u16, Value) {
    let ts = now();
    let sig = warden_approvals::slack::sign(SECRET.as_bytes(), &ts.to_string(), body.as_bytes());
    post(url, body, ts, &sig)
}

fn show(url: &str, id: &str) -> Value {
    let o = serve::approvals_cli(url, ADMIN, &["--json", "show", id])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn all_text(v: &Value) -> String {
    let mut out = String::new();
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => {
                out.push_str(s);
                out.push('\n');
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(v, &mut out);
    out
}

#[test]
fn slack_buttons_vote_with_verified_signatures_membership_and_quorum() {
    let SlackStandIn {
        dir,
        pki,
        slack,
        hook,
    } = slack_stand_in();
    let response_url = format!("https://127.0.0.1:{}/actions/T000/1/respond", slack.port);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.current_dir(dir.path())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--policy",
            "policy.toml",
        ])
        .args(["--db", "sqlite:a.db"])
        .env("WARDEN_ADMIN_TOKEN", ADMIN)
        .env("WARDEN_CA_FILE", &pki.ca)
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env("SLACK_WEBHOOK_SECURITY", &hook)
        .stdout(Stdio::null());
    let s = serve::start_and_read(cmd, "warden serve: listening on ");
    let agent = serve::create_token(&s.url, ADMIN, "agent", "agent-1", "");
    let o = serve::approvals_cli(
        &s.url,
        &agent,
        &[
            "request",
            "--tier",
            "async",
            "--category",
            "deploy",
            "--rationale",
            "ship the fix",
            "--",
            // An action the server's own policy runs `auto`, so the filed category routes it
            // (the server classifies a `git push` itself and routes it by its own category).
            "make",
            "deploy",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(
        o.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let id = String::from_utf8(o.stdout).unwrap().trim().to_owned();
    let r = show(&s.url, &id);
    let digest = r["action_digest"].as_str().unwrap().to_owned();

    // The Block Kit message reached the (stand-in) incoming webhook over HTTPS.
    let posted = slack.rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        posted.head.starts_with("POST /services/T000/B000/XXXX "),
        "{}",
        posted.head
    );
    let msg: Value = serde_json::from_slice(&posted.body).unwrap();
    let text = all_text(&msg);
    for want in [
        "make deploy",
        "Tier: async",
        "Category: deploy",
        "Rule: ",
        "Workspace: ",
        "Expires: ",
        "Agent's rationale: ship the fix",
        digest.as_str(),
    ] {
        assert!(text.contains(want), "message lacks {want:?}: {msg:#}");
    }
    let buttons = &msg["blocks"].as_array().unwrap().last().unwrap()["elements"];
    assert_eq!(buttons[0]["action_id"], "approve");
    assert_eq!(buttons[1]["action_id"], "deny");
    let value = buttons[0]["value"].as_str().unwrap().to_owned();
    assert_eq!(value, format!("{id}:{digest}"));

    let alice = click_body("UALICE", "approve", &value, &response_url);
    // Forged: signed with another secret.
    let ts = now();
    let forged =
        warden_approvals::slack::sign(b"not-the-secret", &ts.to_string(), alice.as_bytes());
    assert_eq!(post(&s.url, &alice, ts, &forged).0, 401);
    // Correctly signed but more than five minutes old.
    let old = ts - 301;
    let sig_old =
        warden_approvals::slack::sign(SECRET.as_bytes(), &old.to_string(), alice.as_bytes());
    assert_eq!(post(&s.url, &alice, old, &sig_old).0, 401);
    // No signature at all.
    assert_eq!(post(&s.url, &alice, ts, "").0, 401);
    // A Slack user outside the routed group, and the requester (mapped to `agent-1`).
    let (st, v) = signed(
        &s.url,
        &click_body("UEVE", "approve", &value, &response_url),
    );
    assert_eq!(st, 403, "{v}");
    let (st, v) = signed(
        &s.url,
        &click_body("UREQ", "approve", &value, &response_url),
    );
    assert_eq!(st, 403, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("separation of duties"),
        "{v}"
    );
    // A click bound to another action's digest.
    let other = format!("{id}:{}", "0".repeat(64));
    let (st, v) = signed(
        &s.url,
        &click_body("UBOB", "approve", &other, &response_url),
    );
    assert_eq!(st, 409, "{v}");
    assert!(show(&s.url, &id)["votes"].as_array().unwrap().is_empty());

    // Alice: the first of two approvals.
    let ts = now();
    let sig = warden_approvals::slack::sign(SECRET.as_bytes(), &ts.to_string(), alice.as_bytes());
    let (st, v) = post(&s.url, &alice, ts, &sig);
    assert_eq!((st, v["status"].as_str()), (200, Some("pending")), "{v}");
    // The same signed click again: a replay.
    assert_eq!(post(&s.url, &alice, ts, &sig).0, 401);

    // The refused clicks were each told why (ephemeral), then Alice's vote updated the message.
    let mut updates = Vec::new();
    while let Ok(m) = slack.rx.recv_timeout(Duration::from_secs(3)) {
        assert!(
            m.head.starts_with("POST /actions/T000/1/respond "),
            "{}",
            m.head
        );
        updates.push(serde_json::from_slice::<Value>(&m.body).unwrap());
    }
    assert!(
        updates.iter().any(|u| u["response_type"] == "ephemeral"
            && u["text"].as_str().unwrap().contains("separation of duties")),
        "{updates:#?}"
    );
    assert!(
        updates.iter().any(|u| u["replace_original"] == true
            && all_text(u).contains("pending, 1 of 2 approvals")
            && all_text(u).contains("slack:UALICE approve")),
        "{updates:#?}"
    );

    // Bob: the quorum is met; the message says so, without buttons.
    let (st, v) = signed(
        &s.url,
        &click_body("UBOB", "approve", &value, &response_url),
    );
    assert_eq!((st, v["status"].as_str()), (200, Some("approved")), "{v}");
    let done: Value =
        serde_json::from_slice(&slack.rx.recv_timeout(Duration::from_secs(10)).unwrap().body)
            .unwrap();
    assert!(all_text(&done).contains("Warden: approved"), "{done:#}");
    assert!(
        !all_text(&done).contains("Approve\n"),
        "buttons left: {done:#}"
    );
    let r = show(&s.url, &id);
    let voters: Vec<&str> = r["votes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["approver"].as_str().unwrap())
        .collect();
    assert_eq!(voters, ["slack:UALICE", "slack:UBOB"]);
}

#[test]
fn a_secret_written_in_the_file_or_a_half_destination_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, why) in [
        (
            "[approvals.groups.g.slack]\nwebhook_env = \"https://hooks.example.invalid/services/T/B/X\"\n",
            "names an environment variable",
        ),
        (
            "[approvals.groups.g.slack]\nbot_token_env = \"SLACK_BOT\"\n",
            "either `webhook_env` or `bot_token_env` with `channel`",
        ),
    ] {
        let policy = format!(
            "[approvals.slack]\nsigning_secret_env = \"S\"\n[approvals.groups.g]\nmembers = []\n{extra}"
        );
        std::fs::write(dir.path().join("policy.toml"), policy).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_warden"))
            .current_dir(dir.path())
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--policy",
                "policy.toml",
            ])
            .args(["--db", "sqlite:a.db"])
            .env("WARDEN_ADMIN_TOKEN", ADMIN)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success());
        assert!(err.contains(why) && err.contains("policy.toml:"), "{err}");
    }
}

/// The bot-token destination: `chat.postMessage` on the configured Web API base over HTTPS, with
/// the token from its environment variable as a bearer token and the channel in the body.
#[test]
fn a_bot_token_destination_posts_with_chat_post_message() {
    let dir = tempfile::tempdir().unwrap();
    let pki = tls::make_pki(dir.path(), "slack-api");
    let api = tls::https_receiver(&pki, r#"{"ok":true,"channel":"C0TEST","ts":"1.2"}"#);
    let policy = format!(
        r#"
[approvals.slack]
signing_secret_env = "SLACK_SIGNING_SECRET"
api_url = "https://127.0.0.1:{}/api"
[approvals.groups.security]
members = ["slack:UALICE"]
[approvals.groups.security.slack]
bot_token_env = "SLACK_BOT_TOKEN"
channel = "C0TEST"
[[approvals.route]]
category = ["*"]
groups = ["security"]
"#,
        api.port
    );
    std::fs::write(dir.path().join("policy.toml"), policy).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.current_dir(dir.path())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--policy",
            "policy.toml",
        ])
        .args(["--db", "sqlite:a.db"])
        .env("WARDEN_ADMIN_TOKEN", ADMIN)
        .env("WARDEN_CA_FILE", &pki.ca)
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env("SLACK_BOT_TOKEN", "xoxb-test-token")
        .stdout(Stdio::null());
    let s = serve::start_and_read(cmd, "warden serve: listening on ");
    let agent = serve::create_token(&s.url, ADMIN, "agent", "agent-1", "");
    let o = serve::approvals_cli(
        &s.url,
        &agent,
        &[
            "request",
            "--tier",
            "async",
            "--category",
            "deploy",
            "--",
            "make",
            "deploy",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(
        o.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let got = api.rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        got.head.starts_with("POST /api/chat.postMessage "),
        "{}",
        got.head
    );
    assert!(
        got.head
            .lines()
            .any(|l| l.eq_ignore_ascii_case("authorization: Bearer xoxb-test-token")),
        "{}",
        got.head
    );
    let body: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(body["channel"], "C0TEST");
    assert!(all_text(&body).contains("make deploy"), "{body:#}");
    // Delivered once: the API said ok.
    assert!(api.rx.recv_timeout(Duration::from_secs(2)).is_err());

    // Approved outside Slack (the command line here, as the web UI does over the same API):
    // the posted message is updated in place with the outcome, by its channel and `ts`.
    // (Before, only a click in Slack updated it: nothing reached chat.update.)
    let id = String::from_utf8(o.stdout).unwrap().trim().to_owned();
    let alice = serve::create_token(&s.url, ADMIN, "approver", "alice", "security");
    let o = serve::approvals_cli(&s.url, &alice, &["approve", &id])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = api.rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        got.head.starts_with("POST /api/chat.update "),
        "{}",
        got.head
    );
    assert!(
        got.head
            .lines()
            .any(|l| l.eq_ignore_ascii_case("authorization: Bearer xoxb-test-token")),
        "{}",
        got.head
    );
    let body: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(
        (body["channel"].as_str(), body["ts"].as_str()),
        (Some("C0TEST"), Some("1.2"))
    );
    let text = all_text(&body);
    assert!(
        text.contains("Warden: approved") && text.contains("alice approve"),
        "{body:#}"
    );
    assert!(!text.contains("Approve\n"), "buttons left: {body:#}");
}

/// A decision in the web UI on a request whose incoming-webhook message nobody clicked: a
/// webhook's message cannot be edited, so the outcome follows as a new message.
#[test]
fn a_decision_outside_slack_is_posted_to_an_unclicked_webhook_message() {
    let SlackStandIn {
        dir,
        pki,
        slack,
        hook,
    } = slack_stand_in();
    let s = slack_server(dir.path(), &pki.ca, &hook, "sqlite:a.db");
    let id = file_deploy(&s.url);
    let first: Value =
        serde_json::from_slice(&slack.rx.recv_timeout(Duration::from_secs(10)).unwrap().body)
            .unwrap();
    assert!(all_text(&first).contains("approval requested"), "{first:#}");
    let bob = serve::create_token(&s.url, ADMIN, "approver", "bob", "security");
    let o = serve::approvals_cli(&s.url, &bob, &["deny", &id, "--comment", "not on a Sunday"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = slack.rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        got.head.starts_with("POST /services/T000/B000/XXXX "),
        "{}",
        got.head
    );
    let msg: Value = serde_json::from_slice(&got.body).unwrap();
    let text = all_text(&msg);
    assert!(
        text.contains("Warden: denied") && text.contains("not on a Sunday"),
        "{msg:#}"
    );
    assert!(!text.contains("Approve\n"), "buttons left: {msg:#}");
}

/// A request the server's policy denies is refused as it is filed: its Slack group is told so
/// once, without buttons. (Before, it got "approval requested" with Approve / Deny buttons,
/// then — a webhook's message cannot be edited — a second message saying it was denied.)
#[test]
fn a_request_refused_at_filing_is_announced_once_as_denied() {
    let SlackStandIn {
        dir,
        pki,
        slack,
        hook,
    } = slack_stand_in();
    let s = slack_server(dir.path(), &pki.ca, &hook, "sqlite:a.db");
    // Claimed `async`; the server's own classification denies it.
    let o = file_as_agent(&s.url, "build", &["rm", "-rf", "/"]);
    assert!(
        !o.status.success(),
        "a refused request must not look filed for approval: {o:?}"
    );
    let got = slack
        .rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{e}: {o:?}"));
    let msg: Value = serde_json::from_slice(&got.body).unwrap();
    let text = all_text(&msg);
    assert!(text.contains("Warden: denied"), "{msg:#}");
    assert!(!text.contains("approval requested"), "{msg:#}");
    assert!(
        !text.contains("Approve\n"),
        "buttons on a refused request: {msg:#}"
    );
    assert!(
        slack.rx.recv_timeout(Duration::from_secs(2)).is_err(),
        "a second message for a refused request"
    );
}

/// `warden serve` with the Slack policy above, its webhook at `hook`, on database `db`.
fn slack_server(
    dir: &std::path::Path,
    ca: &std::path::Path,
    hook: &str,
    db: &str,
) -> serve::Running {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.current_dir(dir)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--policy",
            "policy.toml",
        ])
        .args(["--db", db])
        .env("WARDEN_ADMIN_TOKEN", ADMIN)
        .env("WARDEN_CA_FILE", ca)
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env("SLACK_WEBHOOK_SECURITY", hook)
        .stdout(Stdio::null());
    serve::start_and_read(cmd, "warden serve: listening on ")
}

/// File `make deploy` (async, routed to `security`) as `agent-1`; its request id.
fn file_deploy(url: &str) -> String {
    let o = file_as_agent(url, "deploy", &["make", "deploy"]);
    assert_eq!(
        o.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

/// `warden approvals request --tier async --category CATEGORY -- ARGV` as `agent-1`.
fn file_as_agent(url: &str, category: &str, argv: &[&str]) -> std::process::Output {
    let agent = serve::create_token(url, ADMIN, "agent", "agent-1", "");
    let mut args = vec!["request", "--tier", "async", "--category", category, "--"];
    args.extend_from_slice(argv);
    serve::approvals_cli(url, &agent, &args).output().unwrap()
}

/// A directory with the Slack policy above and a local HTTPS receiver standing in for Slack;
/// `hook` is the receiver's incoming-webhook URL.
struct SlackStandIn {
    dir: tempfile::TempDir,
    pki: tls::TestPki,
    slack: tls::HttpsReceiver,
    hook: String,
}

fn slack_stand_in() -> SlackStandIn {
    let dir = tempfile::tempdir().unwrap();
    let pki = tls::make_pki(dir.path(), "slack");
    let slack = tls::https_receiver(&pki, "ok");
    std::fs::write(dir.path().join("policy.toml"), POLICY).unwrap();
    let hook = format!("https://127.0.0.1:{}/services/T000/B000/XXXX", slack.port);
    SlackStandIn {
        dir,
        pki,
        slack,
        hook,
    }
}

/// A captured click replayed after the server restarts, or to a second server on the same
/// database, is refused: the signatures seen are kept in the store. (Before, they were kept in
/// the process: a restarted or second server accepted the replay.)
fn replay_is_refused_across_restarts_and_replicas(db: &str) {
    let SlackStandIn {
        dir,
        pki,
        slack,
        hook,
    } = slack_stand_in();
    let respond = format!("https://127.0.0.1:{}/actions/T000/1/respond", slack.port);
    let first = slack_server(dir.path(), &pki.ca, &hook, db);
    let id = file_deploy(&first.url);
    let digest = show(&first.url, &id)["action_digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let click = click_body("UALICE", "approve", &format!("{id}:{digest}"), &respond);
    let ts = now();
    let sig = warden_approvals::slack::sign(SECRET.as_bytes(), &ts.to_string(), click.as_bytes());
    let (st, v) = post(&first.url, &click, ts, &sig);
    assert_eq!((st, v["status"].as_str()), (200, Some("pending")), "{v}");
    // A second server on the same database refuses the replay.
    let second = slack_server(dir.path(), &pki.ca, &hook, db);
    let (st, v) = post(&second.url, &click, ts, &sig);
    assert_eq!(st, 401, "{v}");
    assert!(v["error"].as_str().unwrap().contains("replay"), "{v}");
    // So does the first one after a restart.
    drop(first);
    drop(second);
    let again = slack_server(dir.path(), &pki.ca, &hook, db);
    let (st, v) = post(&again.url, &click, ts, &sig);
    assert_eq!(st, 401, "{v}");
    assert!(v["error"].as_str().unwrap().contains("replay"), "{v}");
    // Alice's one vote stands.
    let votes = show(&again.url, &id)["votes"].as_array().unwrap().len();
    assert_eq!(votes, 1);
}

#[test]
fn a_replayed_click_is_refused_after_a_restart_and_by_a_second_server_on_sqlite() {
    replay_is_refused_across_restarts_and_replicas("sqlite:a.db");
}

#[test]
fn a_replayed_click_is_refused_after_a_restart_and_by_a_second_server_on_postgres() {
    let pg = pg::Pg::start();
    replay_is_refused_across_restarts_and_replicas(&pg.url());
}
