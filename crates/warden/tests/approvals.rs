//! End-to-end tests of `warden serve` + `warden approvals` with real processes on loopback:
//! sync approve/deny/timeout, async quorum executed exactly once, replay across actions, self
//! approval, expired approvals, restarts, webhooks, and API robustness against hostile input.

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");
const ADMIN: &str = "wdn_test_admin_token_0123456789";

const POLICY: &str = r#"
[approvals.groups.security]
members = []
[approvals.groups.release]
members = ["rita"]
[[approvals.route]]
category = ["credential-access"]
groups = ["security"]
timeout = "60s"
[[approvals.route]]
category = ["quick"]
groups = ["security"]
timeout = "2s"
[[approvals.route]]
category = ["escalating"]
groups = ["security"]
escalate_to = "cto"
escalate_after = "1s"
timeout = "60s"
[[approvals.route]]
category = ["deploy"]
groups = ["release"]
quorum = 2
timeout = "60s"
"#;

#[path = "support/serve.rs"]
mod serve;

/// One or more `warden serve` replicas sharing one database.
struct Server {
    replicas: Vec<serve::Running>,
    next: std::cell::Cell<usize>,
    dir: PathBuf,
}

impl Server {
    /// Start one replica per `listens` entry, all on database `db`.
    fn start(dir: &Path, extra: &[&str], listens: &[String], db: &str) -> Server {
        if !dir.join("policy.toml").exists() {
            std::fs::write(dir.join("policy.toml"), POLICY).unwrap();
        }
        let replicas = listens
            .iter()
            .enumerate()
            .map(|(replica, listen)| {
                let mut args: Vec<String> = ["--db", db, "--listen", listen]
                    .into_iter()
                    .chain(["--policy", "policy.toml", "--events", "events.jsonl"])
                    .map(str::to_owned)
                    .collect();
                // `{replica}` in an argument names a per-replica file (e.g. each one's audit log).
                args.extend(
                    extra
                        .iter()
                        .map(|a| a.replace("{replica}", &replica.to_string())),
                );
                serve::serve(dir, ADMIN, args)
            })
            .collect();
        Server {
            replicas,
            next: std::cell::Cell::new(0),
            dir: dir.to_owned(),
        }
    }

    /// The replicas in turn, so every test crosses replicas when there are several.
    fn any_url(&self) -> String {
        let i = self.next.get();
        self.next.set(i + 1);
        self.replicas[i % self.replicas.len()].url.clone()
    }

    fn approvals(&self, token: &str, args: &[&str]) -> Command {
        let mut c = serve::approvals_cli(&self.any_url(), token, args);
        c.current_dir(&self.dir);
        c
    }

    fn cli(&self, token: &str, args: &[&str]) -> Output {
        self.approvals(token, args).output().unwrap()
    }

    fn spawn_cli(&self, token: &str, args: &[&str]) -> Child {
        self.approvals(token, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn token(&self, role: &str, name: &str, groups: &str) -> String {
        serve::create_token(&self.any_url(), ADMIN, role, name, groups)
    }

    /// Tokens for the agent `bot` and for `alice`, approver in group `security`: the parties of
    /// most cases.
    fn bot_and_alice(&self) -> (String, String) {
        let agent = self.token("agent", "bot", "");
        let alice = self.token("approver", "alice", "security");
        (agent, alice)
    }

    /// Files an async request in `category` to run `argv` as `agent`, with request `flags`; it
    /// must be deferred (exit 75). Returns the request id.
    fn file_async(&self, agent: &str, category: &str, flags: &[&str], argv: &[&str]) -> String {
        let o = self.cli(agent, &request("async", category, flags, argv));
        assert_eq!(
            o.status.code(),
            Some(75),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        trimmed_stdout(o)
    }

    /// Files an async request in `category` to run `echo ran >> out.txt` in workspace `ws`;
    /// it must be deferred (exit 75). Returns the request id.
    fn file_async_append(&self, agent: &str, category: &str, ws: &Path) -> String {
        let ws = ws.to_str().unwrap();
        let flags = ["--workspace", ws, "--cwd", ws];
        self.file_async(
            agent,
            category,
            &flags,
            &["sh", "-c", "echo ran >> out.txt"],
        )
    }

    /// Presents approval `ticket` as `agent` to run `argv` (category `credential-access`).
    fn with_ticket(&self, agent: &str, ticket: &str, argv: &[&str]) -> Output {
        let flags = ["--ticket", ticket];
        self.cli(agent, &request("async", "credential-access", &flags, argv))
    }

    /// Files a sync `credential-access` request for `argv` as `agent` in the background and
    /// waits until `approver` sees it pending. Returns the waiting client and the request id.
    fn spawn_sync_pending(&self, agent: &str, approver: &str, argv: &[&str]) -> (Child, String) {
        let req = self.spawn_cli(agent, &request("sync", "credential-access", &[], argv));
        let id = self.wait_pending(approver);
        (req, id)
    }

    /// `warden approvals status ID --json` as `token` sees it.
    fn status(&self, token: &str, id: &str) -> Value {
        let o = self.cli(token, &["status", id, "--json"]);
        serde_json::from_slice(&o.stdout).unwrap()
    }

    fn api(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!("{}{path}", self.any_url());
        let resp = match (method, body) {
            ("GET", _) => {
                let mut r = agent.get(&url);
                if let Some(t) = token {
                    r = r.header("Authorization", &format!("Bearer {t}"));
                }
                r.call()
            }
            (_, b) => {
                let mut r = agent.post(&url).header("Content-Type", "application/json");
                if let Some(t) = token {
                    r = r.header("Authorization", &format!("Bearer {t}"));
                }
                r.send(b.unwrap_or(b""))
            }
        };
        let mut resp = resp.unwrap();
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    fn pending_ids(&self, token: &str) -> Vec<String> {
        let (st, v) = self.api("GET", "/requests?status=pending", Some(token), None);
        assert_eq!(st, 200, "{v}");
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    }

    fn wait_pending(&self, token: &str) -> String {
        let t0 = Instant::now();
        loop {
            if let Some(id) = self.pending_ids(token).into_iter().next() {
                return id;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "no pending request appeared"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("events.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

#[path = "support/pg.rs"]
mod pg;
use pg::{Pg, free_port};

/// The storage a behavioural case runs against: SQLite with one server, or PostgreSQL with two
/// replicas.
struct Backend {
    pg: Option<Pg>,
}

impl Backend {
    fn replicas(&self) -> usize {
        if self.pg.is_some() { 2 } else { 1 }
    }

    fn start(&self, dir: &Path, extra: &[&str]) -> Server {
        let listens = vec!["127.0.0.1:0".to_owned(); self.replicas()];
        self.start_on(dir, extra, &listens)
    }

    /// A server in a new temporary directory (returned first, so it outlives the server).
    fn start_fresh(&self, extra: &[&str]) -> (tempfile::TempDir, Server) {
        let dir = tempfile::tempdir().unwrap();
        let s = self.start(dir.path(), extra);
        (dir, s)
    }

    fn start_on(&self, dir: &Path, extra: &[&str], listens: &[String]) -> Server {
        let db = match &self.pg {
            Some(pg) => pg.url(),
            None => "sqlite:approvals.db".to_owned(),
        };
        Server::start(dir, extra, listens, &db)
    }
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $case() { super::$case(&super::Backend { pg: None }); } )*
        }
        mod postgres {
            $( #[test] fn $case() { super::$case(&super::Backend { pg: Some(super::Pg::start()) }); } )*
        }
    };
}

on_both_backends!(
    warden_run_waits_for_the_server_then_runs,
    sync_request_blocks_until_approved_then_proceeds,
    denied_and_timed_out_sync_requests_never_proceed,
    async_quorum_two_of_three_runs_exactly_once,
    approval_for_one_action_never_authorises_another_and_is_single_use,
    self_approval_is_refused,
    expired_approval_is_refused,
    restart_mid_way_loses_no_pending_request,
    webhook_fires_on_routing_and_decision,
    escalation_group_may_decide_only_after_the_delay,
    api_rejects_hostile_input_with_clear_4xx,
    every_step_is_an_approval_record_in_a_verifiable_audit_log,
    an_unwatched_request_expires_on_its_own,
    the_server_shows_what_will_run_not_what_the_agent_says,
    a_claim_below_the_servers_classification_is_raised_and_routed_by_the_server,
    an_action_the_servers_policy_denies_is_refused_on_filing,
);

/// The arguments of `warden approvals request --tier TIER --category CATEGORY FLAGS -- ARGV`.
fn request<'a>(
    tier: &'a str,
    category: &'a str,
    flags: &[&'a str],
    argv: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["request", "--tier", tier, "--category", category];
    args.extend(flags);
    args.push("--");
    args.extend(argv);
    args
}

/// What a command printed, without the trailing newline (an id, a token).
fn trimmed_stdout(o: Output) -> String {
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

fn wait_child(c: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let t0 = Instant::now();
    loop {
        if let Some(s) = c.try_wait().unwrap() {
            return Some(s);
        }
        if t0.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stderr_of(c: &mut Child) -> String {
    let mut s = String::new();
    c.stderr.take().unwrap().read_to_string(&mut s).unwrap();
    s
}

fn sync_request_blocks_until_approved_then_proceeds(b: &Backend) {
    let (_dir, s) = b.start_fresh(&[]);
    let (agent, alice) = s.bot_and_alice();
    let (mut req, id) = s.spawn_sync_pending(&agent, &alice, &["cat", ".env"]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        req.try_wait().unwrap().is_none(),
        "sync request must block until decided"
    );
    let o = s.cli(&alice, &["approve", &id, "--comment", "ok"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let st = wait_child(&mut req, Duration::from_secs(20)).expect("request did not finish");
    assert_eq!(st.code(), Some(0), "{}", stderr_of(&mut req));
    assert_eq!(s.status(&alice, &id)["status"], "consumed");
    let kinds: Vec<String> = s
        .events()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    for k in ["requested", "voted", "decided", "consumed"] {
        assert!(
            kinds.iter().any(|x| x == k),
            "missing {k} event in {kinds:?}"
        );
    }
}

/// `warden run` itself goes through the server when `WARDEN_SERVER`/`WARDEN_TOKEN` are set: a
/// `sync` action waits for the approver and then runs in the sandbox; an `async` one is parked
/// with a ticket (exit 75).
fn warden_run_waits_for_the_server_then_runs(b: &Backend) {
    let (dir, s) = b.start_fresh(&[]);
    let (agent, alice) = s.bot_and_alice();
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(ws.join(".git")).unwrap();
    std::fs::write(ws.join(".env"), "canary-from-env\n").unwrap();
    let run = |args: &[&str]| {
        Command::new(WARDEN)
            .current_dir(&ws)
            .env("HOME", serve::test_home())
            .arg("run")
            .args(args)
            .env("WARDEN_SERVER", s.any_url())
            .env("WARDEN_TOKEN", &agent)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut sync = run(&["--", "cat", ".env"]);
    let id = s.wait_pending(&alice);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        sync.try_wait().unwrap().is_none(),
        "a sync action waits for the approver"
    );
    let o = s.cli(&alice, &["approve", &id]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let st = wait_child(&mut sync, Duration::from_secs(30)).expect("warden run did not finish");
    let mut out = String::new();
    sync.stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(st.code(), Some(0), "{}", stderr_of(&mut sync));
    assert_eq!(out, "canary-from-env\n", "the approved action ran");

    let mut parked = run(&["--", "git", "push", "origin", "main"]);
    let st = wait_child(&mut parked, Duration::from_secs(30)).expect("warden run did not finish");
    let err = stderr_of(&mut parked);
    assert_eq!(st.code(), Some(75), "{err}");
    let pending = s.pending_ids(ADMIN);
    assert!(
        pending.iter().any(|p| err.contains(p.as_str())),
        "the ticket {pending:?} is printed: {err}"
    );
}

fn denied_and_timed_out_sync_requests_never_proceed(b: &Backend) {
    let (_dir, s) = b.start_fresh(&[]);
    let (agent, alice) = s.bot_and_alice();
    let (mut req, id) = s.spawn_sync_pending(&agent, &alice, &["cat", "id_rsa"]);
    let o = s.cli(&alice, &["deny", &id, "--comment", "no way"]);
    assert!(o.status.success());
    let st = wait_child(&mut req, Duration::from_secs(20)).unwrap();
    assert_eq!(st.code(), Some(77));
    assert!(stderr_of(&mut req).contains("no way"));
    // Approving after the denial changes nothing.
    let o = s.cli(&alice, &["approve", &id]);
    assert!(!o.status.success());

    let t0 = Instant::now();
    // `auto` by the server's own policy, so the filed category (2 s timeout) routes it: a
    // `kubectl apply` would be routed by the server's classification (30 min) instead.
    let o = s.cli(&agent, &request("sync", "quick", &[], &["make", "deploy"]));
    assert_eq!(
        o.status.code(),
        Some(77),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(t0.elapsed() >= Duration::from_secs(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("timeout"));
    let (_, list) = s.api("GET", "/requests?status=expired", Some(&alice), None);
    assert_eq!(list.as_array().unwrap().len(), 1);
}

fn async_quorum_two_of_three_runs_exactly_once(b: &Backend) {
    let (dir, s) = b.start_fresh(&[]);
    let ws = dir.path().join("ws");
    std::fs::create_dir(&ws).unwrap();
    let agent = s.token("agent", "bot", "");
    let a = s.token("approver", "ann", "release");
    let b = s.token("approver", "ben", "release");
    let r = s.token("approver", "rita", ""); // member through the governance file
    let outsider = s.token("approver", "olga", "security");
    let id = s.file_async_append(&agent, "deploy", &ws);
    assert_eq!(id.len(), 32);
    let o = s.cli(&outsider, &["approve", &id]);
    assert!(!o.status.success(), "a non-member must not count");
    assert!(s.cli(&a, &["approve", &id]).status.success());
    assert!(
        !s.cli(&a, &["approve", &id]).status.success(),
        "one person, one vote"
    );
    // One approval of two: a worker runs nothing.
    let o = s.cli(&agent, &["worker", "--once"]);
    assert!(o.status.success());
    assert!(!ws.join("out.txt").exists());
    assert!(s.cli(&r, &["approve", &id]).status.success());
    let o = s.cli(&b, &["approve", &id]);
    assert!(!o.status.success(), "vote after the decision is refused");
    // Three racing workers: exactly one runs it.
    let mut ws_children: Vec<Child> = (0..3)
        .map(|_| s.spawn_cli(&agent, &["worker", "--once"]))
        .collect();
    for c in &mut ws_children {
        assert!(wait_child(c, Duration::from_secs(30)).unwrap().success());
    }
    assert_eq!(
        std::fs::read_to_string(ws.join("out.txt")).unwrap(),
        "ran\n"
    );
    let v = s.status(&agent, &id);
    assert_eq!(v["status"], "consumed");
    assert_eq!(v["outcome"]["exit_code"], 0);
    assert!(s.cli(&agent, &["worker", "--once"]).status.success());
    assert_eq!(
        std::fs::read_to_string(ws.join("out.txt")).unwrap(),
        "ran\n"
    );
    assert!(s.events().iter().any(|e| e["event"] == "executed"));
}

fn approval_for_one_action_never_authorises_another_and_is_single_use(b: &Backend) {
    let (dir, s) = b.start_fresh(&[]);
    let (agent, alice) = s.bot_and_alice();
    let id = s.file_async(&agent, "credential-access", &[], &["cat", "a.env"]);
    assert!(s.cli(&alice, &["approve", &id]).status.success());
    // Replay for B: refused, and the approval stays unused.
    let o = s.with_ticket(&agent, &id, &["cat", "b.env"]);
    assert_eq!(o.status.code(), Some(77));
    assert!(String::from_utf8_lossy(&o.stderr).contains("different action"));
    // Same argv from another directory is another action too.
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let o = s.cli(
        &agent,
        &request(
            "async",
            "x",
            &["--cwd", sub.to_str().unwrap(), "--ticket", &id],
            &["cat", "a.env"],
        ),
    );
    assert_eq!(o.status.code(), Some(77));
    // A forged approval (wrong digest) is refused at vote time.
    let id2 = s.file_async(&agent, "credential-access", &[], &["cat", "c.env"]);
    let (st, _) = s.api(
        "POST",
        &format!("/requests/{id2}/approve"),
        Some(&alice),
        Some(br#"{"action_digest":"00"}"#),
    );
    assert_eq!(st, 409);
    // A itself: once.
    let o = s.with_ticket(&agent, &id, &["cat", "a.env"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = s.with_ticket(&agent, &id, &["cat", "a.env"]);
    assert_eq!(o.status.code(), Some(77));
    // Another agent cannot use someone else's approval.
    let mallory = s.token("agent", "mallory", "");
    let id3 = s.file_async(&agent, "credential-access", &[], &["cat", "d.env"]);
    assert!(s.cli(&alice, &["approve", &id3]).status.success());
    let o = s.with_ticket(&mallory, &id3, &["cat", "d.env"]);
    assert_ne!(o.status.code(), Some(0));
}

fn self_approval_is_refused(b: &Backend) {
    let (_dir, s) = b.start_fresh(&[]);
    let carol_agent = s.token("agent", "carol", "");
    let carol = s.token("approver", "carol", "security");
    let id = s.file_async(&carol_agent, "credential-access", &[], &["cat", ".env"]);
    let o = s.cli(&carol, &["approve", &id]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("separation of duties"));
    let o = s.cli(&carol_agent, &["approve", &id]);
    assert!(!o.status.success(), "agent tokens never approve");
    // The admin filing and approving its own request: refused too.
    let id = s.file_async(ADMIN, "unrouted", &[], &["true"]);
    let o = s.cli(ADMIN, &["approve", &id]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("separation of duties"));
    assert_eq!(s.status(ADMIN, &id)["status"], "pending");
}

fn expired_approval_is_refused(b: &Backend) {
    let (_dir, s) = b.start_fresh(&["--approval-ttl", "1s"]);
    let (agent, alice) = s.bot_and_alice();
    let id = s.file_async(&agent, "credential-access", &[], &["cat", ".env"]);
    assert!(s.cli(&alice, &["approve", &id]).status.success());
    std::thread::sleep(Duration::from_millis(1600));
    let o = s.with_ticket(&agent, &id, &["cat", ".env"]);
    assert_eq!(o.status.code(), Some(77));
    assert!(String::from_utf8_lossy(&o.stderr).contains("expired"));
    assert_eq!(s.status(&agent, &id)["status"], "expired");
}

fn restart_mid_way_loses_no_pending_request(b: &Backend) {
    let dir = tempfile::tempdir().unwrap();
    let listens: Vec<String> = (0..b.replicas())
        .map(|_| format!("127.0.0.1:{}", free_port()))
        .collect();
    let s = b.start_on(dir.path(), &[], &listens);
    let (agent, alice) = s.bot_and_alice();
    let (mut req, id) = s.spawn_sync_pending(&agent, &alice, &["cat", ".env"]);
    drop(s);
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        req.try_wait().unwrap().is_none(),
        "the waiter survives the outage"
    );
    let s = b.start_on(dir.path(), &[], &listens);
    assert_eq!(s.pending_ids(&alice), vec![id.clone()]);
    assert!(s.cli(&alice, &["approve", &id]).status.success());
    let st = wait_child(&mut req, Duration::from_secs(30)).unwrap();
    assert_eq!(st.code(), Some(0), "{}", stderr_of(&mut req));
    // The bootstrap admin token was not replaced on restart.
    let (st, _) = s.api("GET", "/whoami", Some(ADMIN), None);
    assert_eq!(st, 200);
}

fn webhook_fires_on_routing_and_decision(b: &Backend) {
    let dir = tempfile::tempdir().unwrap();
    let hook = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook_port = hook.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in hook.incoming() {
            let mut conn = conn.unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = vec![0u8; 8192];
            let mut got = Vec::new();
            while let Ok(n) = conn.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                if let Some(p) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                    let body = String::from_utf8_lossy(&got[p + 4..]).to_string();
                    if body.ends_with('}') {
                        break;
                    }
                }
            }
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            let _ = tx.send(String::from_utf8_lossy(&got).to_string());
        }
    });
    let policy = format!(
        "{POLICY}\n[approvals.groups.hooked]\nwebhook = \"http://127.0.0.1:{hook_port}/hook\"\n[[approvals.route]]\ncategory = [\"hooked\"]\ngroups = [\"hooked\"]\n"
    );
    std::fs::write(dir.path().join("policy.toml"), policy).unwrap();
    let s = b.start(dir.path(), &[]);
    let agent = s.token("agent", "bot", "");
    let h = s.token("approver", "hank", "hooked");
    // `auto` by the server's own policy, so the filed category routes it (a `git push` would be
    // routed by the server's classification instead).
    let id = s.file_async(&agent, "hooked", &[], &["make", "deploy"]);
    let first = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(first.starts_with("POST /hook"), "{first}");
    let body: Value = serde_json::from_str(first.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert!(body["text"].as_str().unwrap().contains(&id));
    assert!(s.cli(&h, &["deny", &id]).status.success());
    let second = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(second.contains("denied"), "{second}");
}

/// One API call that must be answered with `status`: method, path, bearer token, body (GET sends
/// none), the status, and what the case is (named when it fails).
type ApiCase<'a> = (&'a str, &'a str, Option<&'a str>, &'a [u8], u16, &'a str);

/// Sends each case in turn; each must get its status.
fn assert_statuses(s: &Server, cases: &[ApiCase<'_>]) {
    for &(method, path, token, body, status, case) in cases {
        let (st, v) = s.api(method, path, token, Some(body));
        assert_eq!(st, status, "{case}: {method} {path} answered {v}");
    }
}

fn api_rejects_hostile_input_with_clear_4xx(b: &Backend) {
    let (_dir, s) = b.start_fresh(&[]);
    let (agent, alice) = s.bot_and_alice();
    let (st, v) = s.api("GET", "/requests", None, None);
    assert_eq!(st, 401);
    assert!(v["error"].as_str().unwrap().contains("Bearer"));
    let good = json!({"tier":"sync","category":"c","rule":"r","action_text":"t","action":{"kind":"exec","argv":["echo","t"]},"cwd":"/","workspace":"/","policy_digest":""});
    let mut bad_tier = good.clone();
    bad_tier["tier"] = json!("auto");
    let bad_tier = bad_tier.to_string();
    // The server renders and classifies the action itself: one it cannot read is refused.
    let mut no_action = good.clone();
    no_action["action"] = json!({});
    let no_action = no_action.to_string();
    let mut relative = good.clone();
    relative["cwd"] = json!("src");
    let relative = relative.to_string();
    #[rustfmt::skip] // one case a line
    let malformed: [ApiCase<'_>; 8] = [
        ("POST", "/requests", Some(&agent), no_action.as_bytes(), 400, "action of no known kind"),
        ("POST", "/requests", Some(&agent), relative.as_bytes(), 400, "relative cwd"),
        ("GET", "/requests", Some("wdn_forged"), b"", 401, "forged token"),
        ("GET", "/requests", Some(""), b"", 401, "empty token"),
        ("POST", "/requests", Some(&agent), b"{not json", 400, "not JSON"),
        ("POST", "/requests", Some(&agent), b"", 400, "empty body"),
        ("POST", "/requests", Some(&agent), br#"{"tier":5}"#, 400, "numeric tier"),
        ("POST", "/requests", Some(&agent), bad_tier.as_bytes(), 400, "tier auto"),
    ];
    assert_statuses(&s, &malformed);
    let mut huge = good.clone();
    huge["action_text"] = json!("x".repeat(200_000));
    let (st, v) = s.api(
        "POST",
        "/requests",
        Some(&agent),
        Some(huge.to_string().as_bytes()),
    );
    assert_eq!(st, 413);
    // Regression: the server used to close the connection with the oversized body unread, and the
    // kernel's reset could destroy the 413 before the client read it (a flaky transport error).
    let mut bigger = good.clone();
    bigger["action_text"] = json!("y".repeat(900_000));
    for _ in 0..20 {
        let body = bigger.to_string();
        assert_eq!(
            s.api("POST", "/requests", Some(&agent), Some(body.as_bytes()))
                .0,
            413
        );
    }
    // Regression (schemathesis): the 413 is the API's JSON error, as documented, not plain text.
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("length limit")),
        "{v}"
    );
    // Regression (schemathesis): `status=` (empty) is not a status; it used to list everything.
    let (st, v) = s.api("GET", "/requests?status=", Some(&alice), None);
    assert_eq!(st, 400, "{v}");
    // Regression (schemathesis): bad query parameters get the JSON error, out-of-range waits a 400.
    for q in ["timeout=-1", "timeout=61", "timeout=x"] {
        let (st, v) = s.api(
            "GET",
            &format!("/requests/nope/wait?{q}"),
            Some(&alice),
            None,
        );
        assert_eq!(st, 400, "{q}: {v}");
        assert!(v["error"].is_string(), "{q}: {v}");
    }
    let good = good.to_string();
    #[rustfmt::skip] // one case a line
    let forbidden_or_unknown: [ApiCase<'_>; 5] = [
        ("POST", "/requests", Some(&alice), good.as_bytes(), 403, "an approver files a request"),
        ("GET", "/requests/nope", Some(&alice), b"", 404, "unknown request"),
        ("GET", "/requests?status=bogus", Some(&alice), b"", 400, "unknown status"),
        ("POST", "/tokens", Some(&alice), br#"{"name":"x","role":"admin"}"#, 403, "approver mints"),
        ("POST", "/tokens", Some(ADMIN), br#"{"name":"x","role":"god"}"#, 400, "unknown role"),
    ];
    assert_statuses(&s, &forbidden_or_unknown);
    // Token names as the OpenAPI document states them (found by schemathesis: a name of
    // U+0085 alone was refused, and lengths count characters, not bytes).
    let long_ok = format!(r#"{{"name":"{}","role":"agent"}}"#, "é".repeat(200));
    let too_long = format!(r#"{{"name":"{}","role":"agent"}}"#, "é".repeat(201));
    #[rustfmt::skip] // one case a line
    let names: [ApiCase<'_>; 5] = [
        ("POST", "/tokens", Some(ADMIN), br#"{"name":"\u0085","role":"agent"}"#, 201, "NEL is no ASCII space"),
        ("POST", "/tokens", Some(ADMIN), long_ok.as_bytes(), 201, "200 characters of 2 bytes"),
        ("POST", "/tokens", Some(ADMIN), too_long.as_bytes(), 400, "201 characters"),
        ("POST", "/tokens", Some(ADMIN), br#"{"name":" \t\r\n\u000b\f","role":"agent"}"#, 400, "blank"),
        ("POST", "/tokens", Some(ADMIN), br#"{"name":"","role":"agent"}"#, 400, "empty"),
    ];
    assert_statuses(&s, &names);
    let (st, r) = s.api("POST", "/requests", Some(&agent), Some(good.as_bytes()));
    assert_eq!(st, 201);
    let id = r["id"].as_str().unwrap();
    let mo = s.token("approver", "mo", "maintainers");
    let other = s.token("agent", "other", "");
    let (this, approve) = (format!("/requests/{id}"), format!("/requests/{id}/approve"));
    let consume = format!("/requests/{id}/consume");
    #[rustfmt::skip] // one case a line
    let refused: [ApiCase<'_>; 5] = [
        ("POST", &approve, Some(&alice), b"{}", 403, "not routed to alice's group"),
        ("POST", &approve, Some(&mo), b"{}", 400, "digest required"),
        ("POST", &approve, Some(&mo), br#"{"action_digest":"x","extra":1}"#, 400, "extra field"),
        ("POST", &consume, Some(&agent), b"[]", 400, "outcome not an object"),
        // Another agent cannot even see it.
        ("GET", &this, Some(&other), b"", 404, "another agent's request"),
    ];
    assert_statuses(&s, &refused);
    let (st, doc) = s.api("GET", "/openapi.json", None, None);
    assert_eq!(st, 200);
    assert!(doc["paths"]["/requests/{id}/wait"].is_object());
    // Still healthy after all that.
    assert_eq!(s.api("GET", "/whoami", Some(&agent), None).0, 200);
}

fn escalation_group_may_decide_only_after_the_delay(b: &Backend) {
    let (_dir, s) = b.start_fresh(&[]);
    let agent = s.token("agent", "bot", "");
    let boss = s.token("approver", "boss", "cto");
    // An action the server's own policy runs unasked (`auto`), so the filed category routes it:
    // a `terraform apply` would be routed by the server's classification instead.
    let id = s.file_async(&agent, "escalating", &[], &["make", "deploy"]);
    let o = s.cli(&boss, &["approve", &id]);
    assert!(!o.status.success(), "escalation group before the delay");
    std::thread::sleep(Duration::from_millis(1300));
    let o = s.cli(&boss, &["approve", &id, "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "approved");
}

/// `warden audit verify` on `log`; returns the report.
fn audit_verify(cwd: &Path, log: &Path) -> Value {
    let o = Command::new(WARDEN)
        .current_dir(cwd)
        .env("HOME", serve::test_home())
        .args(["audit", "verify", "--json", "--log"])
        .arg(log)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    assert!(
        o.status.success() && v["ok"] == true,
        "{} does not verify: {v} {}",
        log.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    v
}

fn log_records(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A sync approval, a denial, an expiry and an async execution each leave `approval` records
/// (request id, action digest, decider, decision) in the server's hash-chained audit log (one
/// per replica, each verifying on its own), and the worker's execution is in the workspace log.
fn every_step_is_an_approval_record_in_a_verifiable_audit_log(b: &Backend) {
    let (dir, s) = b.start_fresh(&["--audit-log", "audit-{replica}.jsonl"]);
    let (agent, alice) = s.bot_and_alice();
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(ws.join(".git")).unwrap();
    std::fs::write(ws.join(".env"), "canary\n").unwrap();

    // 1. sync, approved: `warden run` waits, then runs.
    let mut run = Command::new(WARDEN)
        .current_dir(&ws)
        .env("HOME", serve::test_home())
        .args(["run", "--", "cat", ".env"])
        .env("WARDEN_SERVER", s.any_url())
        .env("WARDEN_TOKEN", &agent)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let approved = s.wait_pending(&alice);
    assert!(s.cli(&alice, &["approve", &approved]).status.success());
    let st = wait_child(&mut run, Duration::from_secs(30)).expect("warden run did not finish");
    assert_eq!(st.code(), Some(0), "{}", stderr_of(&mut run));

    // 2. sync, denied.
    let (mut req, denied) = s.spawn_sync_pending(&agent, &alice, &["cat", "id_rsa"]);
    assert!(
        s.cli(&alice, &["deny", &denied, "--comment", "no keys"])
            .status
            .success()
    );
    assert_eq!(
        wait_child(&mut req, Duration::from_secs(30))
            .unwrap()
            .code(),
        Some(77)
    );

    // 3. sync, nobody decides before the 2 s timeout.
    let mut req = s.spawn_cli(&agent, &request("sync", "quick", &[], &["cat", "token"]));
    let expired = s.wait_pending(&alice);
    assert_eq!(
        wait_child(&mut req, Duration::from_secs(30))
            .unwrap()
            .code(),
        Some(77)
    );

    // 4. async, approved, run by the worker.
    let executed = s.file_async_append(&agent, "credential-access", &ws);
    assert!(s.cli(&alice, &["approve", &executed]).status.success());
    let o = s.cli(&agent, &["worker", "--once"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(ws.join("out.txt")).unwrap(),
        "ran\n"
    );

    // Every replica's log verifies; together they hold every step.
    let mut records = vec![];
    for r in 0..b.replicas() {
        let log = dir.path().join(format!("audit-{r}.jsonl"));
        audit_verify(dir.path(), &log);
        records.extend(log_records(&log));
    }
    let digest_of = |id: &str| -> String {
        let (st, v) = s.api("GET", &format!("/requests/{id}"), Some(ADMIN), None);
        assert_eq!(st, 200, "{v}");
        v["action_digest"].as_str().unwrap().to_owned()
    };
    let has = |id: &str, event: &str, by: Option<&str>, decision: &str| {
        let digest = digest_of(id);
        let found = records.iter().any(|r| {
            r["kind"] == "approval"
                && r["request_id"] == id
                && r["action_digest"] == digest.as_str()
                && r["event"] == event
                && r["decision"] == decision
                && by.is_none_or(|b| r["by"] == b)
        });
        assert!(
            found,
            "no approval record {event}/{decision} by {by:?} for {id} in {records:#?}"
        );
    };
    has(&approved, "requested", Some("bot"), "pending");
    has(&approved, "vote", Some("alice"), "approve");
    has(&approved, "granted", Some("alice"), "approved");
    has(&approved, "consumed", Some("bot"), "consumed");
    has(&denied, "vote", Some("alice"), "deny");
    has(&denied, "denied", Some("alice"), "denied");
    has(&expired, "requested", Some("bot"), "pending");
    has(&expired, "expired", None, "expired");
    has(&executed, "granted", Some("alice"), "approved");
    has(&executed, "executed", Some("bot"), "executed");
    let exec = records
        .iter()
        .find(|r| r["event"] == "executed" && r["request_id"] == executed.as_str())
        .unwrap();
    assert_eq!(exec["outcome"]["exit_code"], 0);
    // Nothing was approved that was denied or expired.
    for id in [&denied, &expired] {
        assert!(
            !records
                .iter()
                .any(|r| r["request_id"] == id.as_str() && r["event"] == "granted"),
            "{id} granted?"
        );
    }
    // The denial's comment is kept, and each request's intent names its id and digest.
    assert!(records.iter().any(|r| r["request_id"] == denied.as_str()
        && r["event"] == "vote"
        && r["comment"] == "no keys"));
    assert!(records.iter().any(|r| r["kind"] == "intent"
        && r["request_id"] == executed.as_str()
        && r["action_digest"] == digest_of(&executed).as_str()));

    // The workspace's own log: `warden run`'s records and the worker's execution, verifying.
    let ws_log = ws.join(".warden/audit/audit.jsonl");
    audit_verify(&ws, &ws_log);
    let wrecs = log_records(&ws_log);
    // `warden run`'s grant names the server's request and the digest it was bound to.
    assert!(
        wrecs.iter().any(|r| r["kind"] == "approval"
            && r["event"] == "granted"
            && r["by"] == "alice"
            && r["decision"] == "approved"
            && r["request_id"] == approved.as_str()
            && r["action_digest"] == digest_of(&approved).as_str()),
        "{wrecs:#?}"
    );
    let intent = wrecs
        .iter()
        .find(|r| r["kind"] == "intent" && r["request_id"] == executed.as_str())
        .expect("the worker wrote an intent naming the request");
    assert_eq!(intent["action_digest"], digest_of(&executed).as_str());
    let seq = intent["seq"].clone();
    for (event, by) in [("granted", "alice"), ("consumed", "bot")] {
        assert!(
            wrecs.iter().any(|r| r["kind"] == "approval"
                && r["intent_seq"] == seq
                && r["event"] == event
                && r["by"] == by
                && r["request_id"] == executed.as_str()),
            "no {event} record in the workspace log: {wrecs:#?}"
        );
    }
    let out = wrecs
        .iter()
        .find(|r| r["kind"] == "outcome" && r["intent_seq"] == seq)
        .expect("the worker's outcome");
    assert_eq!(out["exit_code"], 0, "{out}");
}

/// The server's sweeper expires a pending request past its deadline even when nobody reads or
/// waits on it (the sweeper asks the store for due requests only); others stay pending.
fn an_unwatched_request_expires_on_its_own(b: &Backend) {
    let (_dir, s) = b.start_fresh(&[]);
    let agent = s.token("agent", "bot", "");
    let file = |category: &str| {
        let body = json!({"tier":"async","category":category,"rule":"r","action_text":"echo",
            "action":{"kind":"exec","argv":["echo"]},"cwd":"/","workspace":"/","policy_digest":"p"});
        let (st, v) = s.api(
            "POST",
            "/requests",
            Some(&agent),
            Some(body.to_string().as_bytes()),
        );
        assert_eq!(st, 201, "{v}");
        v["id"].as_str().unwrap().to_owned()
    };
    let quick = file("quick"); // 2 s timeout
    let slow = file("credential-access"); // 60 s timeout
    let t0 = Instant::now();
    loop {
        let expired: Vec<String> = s
            .events()
            .iter()
            .filter(|e| e["event"] == "expired")
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        if expired.contains(&quick) {
            assert!(!expired.contains(&slow), "{expired:?}");
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "the quick request never expired on its own"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(t0.elapsed() >= Duration::from_millis(1500), "expired early");
    let (_, v) = s.api("GET", &format!("/requests/{slow}"), Some(ADMIN), None);
    assert_eq!(v["status"], "pending");
}

/// Files `body` (a request as JSON) as `token` straight through the API, as a hostile agent
/// would; returns the server's view.
fn file_raw(s: &Server, token: &str, body: &Value) -> Value {
    let (st, v) = s.api(
        "POST",
        "/requests",
        Some(token),
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(st, 201, "{v}");
    v
}

/// A request for `action` in workspace `ws` claiming `tier`, `category`, `rule`, `reasons` and
/// `text`.
fn claim(ws: &Path, action: Value, tier: &str, category: &str, rule: &str, text: &str) -> Value {
    let ws = ws.to_str().unwrap();
    json!({"tier": tier, "category": category, "rule": rule,
        "reasons": ["a harmless push of reviewed commits"], "action_text": text,
        "action": action, "cwd": ws, "workspace": ws, "policy_digest": "p"})
}

fn the_server_shows_what_will_run_not_what_the_agent_says(b: &Backend) {
    // Before: the server stored the agent's `action_text` as given; `approvals show` and the web
    // UI showed `git push origin main` while the worker ran `sh -c 'echo HIDDEN > pwned'`.
    let (dir, s) = b.start_fresh(&["--audit-log", "audit-{replica}.jsonl"]);
    let (agent, alice) = s.bot_and_alice();
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(ws.join(".git")).unwrap();
    let hidden = json!({"kind": "exec", "argv": ["sh", "-c", "echo HIDDEN > pwned"]});
    let v = file_raw(
        &s,
        &agent,
        &claim(
            &ws,
            hidden,
            "async",
            "credential-access",
            "vcs.git-push",
            "git push origin main",
        ),
    );
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(v["action_text"], "sh -c 'echo HIDDEN > pwned'", "{v}");
    assert_eq!(v["claimed"]["action_text"], "git push origin main", "{v}");
    let notes = v["discrepancies"].to_string();
    assert!(notes.contains("git push origin main"), "{v}");
    // What the approver reads, on the command line and through the API the web UI uses.
    let o = s.cli(&alice, &["show", &id]);
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(
        shown.contains("action   sh -c 'echo HIDDEN > pwned'"),
        "{shown}"
    );
    assert!(!shown.contains("action   git push"), "{shown}");
    assert!(
        shown.contains("warning  the filed action text \"git push origin main\""),
        "{shown}"
    );
    let (_, pending) = s.api("GET", "/requests?status=pending", Some(&alice), None);
    assert_eq!(pending[0]["action_text"], "sh -c 'echo HIDDEN > pwned'");
    let o = s.cli(&alice, &["list"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("sh -c 'echo HIDDEN > pwned'"));
    // Approved as shown, it runs as shown.
    assert!(s.cli(&alice, &["approve", &id]).status.success());
    let o = s.cli(&agent, &["worker", "--once"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(ws.join("pwned")).unwrap(),
        "HIDDEN\n"
    );
    // A line break would have pushed the real command out of a one-line view: it is escaped.
    let two_lines = json!({"kind": "exec",
        "argv": ["sh", "-c", "git push origin main\necho HIDDEN > pwned"]});
    let v = file_raw(
        &s,
        &agent,
        &claim(
            &ws,
            two_lines,
            "async",
            "credential-access",
            "r",
            "git push origin main",
        ),
    );
    assert_eq!(
        v["action_text"], "sh -c $'git push origin main\\necho HIDDEN > pwned'",
        "{v}"
    );
    // So is a right-to-left override, and a shell-string action shows the `sh -c` that runs it.
    let bidi = json!({"kind": "exec", "argv": ["cat", "notes\u{202e}vne.txt"]});
    let v = file_raw(
        &s,
        &agent,
        &claim(&ws, bidi, "async", "credential-access", "r", ""),
    );
    assert_eq!(v["action_text"], "cat $'notes\\u202evne.txt'", "{v}");
    let shell = json!({"kind": "shell", "script": "make && make check"});
    let v = file_raw(
        &s,
        &agent,
        &claim(&ws, shell, "async", "credential-access", "r", ""),
    );
    assert_eq!(v["action_text"], "sh -c 'make && make check'", "{v}");
    // Facts bound into the action beyond its kind's fields (a request body's digest) are shown.
    let post = json!({"kind": "net", "host": "127.0.0.1", "port": 80, "method": "POST",
        "path": "/submit", "body_sha256": "ab12"});
    let v = file_raw(
        &s,
        &agent,
        &claim(&ws, post, "async", "credential-access", "r", ""),
    );
    assert_eq!(
        v["action_text"], "POST 127.0.0.1:80/submit [body_sha256=\"ab12\"]",
        "{v}"
    );
    // The server's audit log holds the rendered text, the claim and the discrepancy.
    let intent = (0..b.replicas())
        .flat_map(|r| log_records(&dir.path().join(format!("audit-{r}.jsonl"))))
        .find(|r| r["kind"] == "intent" && r["request_id"] == id.as_str())
        .expect("the request's intent record");
    assert_eq!(
        intent["action_text"], "sh -c 'echo HIDDEN > pwned'",
        "{intent}"
    );
    assert_eq!(
        intent["claimed"]["action_text"], "git push origin main",
        "{intent}"
    );
    assert!(
        intent["discrepancies"]
            .to_string()
            .contains("git push origin main")
    );
}

fn a_claim_below_the_servers_classification_is_raised_and_routed_by_the_server(b: &Backend) {
    // Before: the server took the agent's tier, category, rule and reasons as given: a
    // `terraform apply` filed as `async` in category `quick` was routed to `security` with a
    // 2 s timeout, showing the agent's rule and its reassuring reasons.
    let (dir, s) = b.start_fresh(&["--audit-log", "audit-{replica}.jsonl"]);
    let (agent, alice) = s.bot_and_alice();
    let pat = s.token("approver", "pat", "platform");
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(ws.join(".git")).unwrap();
    let apply = json!({"kind": "exec", "argv": ["terraform", "apply"]});
    let v = file_raw(
        &s,
        &agent,
        &claim(
            &ws,
            apply,
            "async",
            "quick",
            "docs.harmless",
            "terraform apply",
        ),
    );
    let id = v["id"].as_str().unwrap().to_owned();
    // The server's own classification: tier, category, rule, reasons, and so the route.
    assert_eq!(v["tier"], "sync", "{v}");
    assert_eq!(v["category"], "infrastructure-change", "{v}");
    assert_eq!(v["rule"], "infra.terraform", "{v}");
    assert_eq!(v["groups"], json!(["platform"]), "{v}");
    assert!(!v["reasons"].to_string().contains("harmless"), "{v}");
    assert_eq!(v["claimed"]["tier"], "async");
    assert_eq!(v["claimed"]["category"], "quick");
    assert_eq!(v["claimed"]["rule"], "docs.harmless");
    let notes = v["discrepancies"].to_string();
    assert!(
        notes.contains("filed as async, but the server's policy classifies it sync"),
        "{v}"
    );
    assert!(notes.contains("raised"), "{v}");
    assert!(notes.contains("docs.harmless"), "{v}");
    // Routed accordingly: the claimed route's approvers cannot decide it; platform's can.
    let o = s.cli(&alice, &["approve", &id]);
    assert!(!o.status.success(), "the claimed route's group decided it");
    let vote = json!({"action_digest": v["action_digest"]}).to_string();
    let (st, r) = s.api(
        "POST",
        &format!("/requests/{id}/approve"),
        Some(&alice),
        Some(vote.as_bytes()),
    );
    assert_eq!(st, 403, "{r}");
    assert!(
        r["error"].as_str().unwrap().contains("not in the groups"),
        "{r}"
    );
    // A sync request is not the worker's: approved, it waits for its agent, never runs unasked.
    assert!(s.cli(&pat, &["approve", &id]).status.success());
    let o = s.cli(&agent, &["worker", "--once"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(s.status(&agent, &id)["status"], "approved");
    // Recorded: the events file and the server's audit log carry the discrepancy.
    let requested = s
        .events()
        .into_iter()
        .find(|e| e["event"] == "requested" && e["id"] == id.as_str())
        .unwrap();
    assert_eq!(requested["tier"], "sync");
    assert!(requested["discrepancies"].to_string().contains("raised"));
    let intent = (0..b.replicas())
        .flat_map(|r| log_records(&dir.path().join(format!("audit-{r}.jsonl"))))
        .find(|r| r["kind"] == "intent" && r["request_id"] == id.as_str())
        .expect("the request's intent record");
    assert_eq!(intent["tier"], "sync", "{intent}");
    assert_eq!(intent["claimed"]["tier"], "async", "{intent}");
    assert!(
        intent["discrepancies"].to_string().contains("raised"),
        "{intent}"
    );
    // A stricter claim than the server's reading keeps its tier (a repository may ask for more)
    // but cannot steer routing away from what the server's policy wants approved.
    let push = json!({"kind": "exec", "argv": ["git", "push", "origin", "main"]});
    let v = file_raw(
        &s,
        &agent,
        &claim(&ws, push, "sync", "quick", "r", "git push origin main"),
    );
    assert_eq!(v["tier"], "sync", "{v}");
    assert_eq!(v["category"], "vcs-publish", "{v}");
    assert_eq!(v["rule"], "vcs.git-push", "{v}");
}

fn an_action_the_servers_policy_denies_is_refused_on_filing(b: &Backend) {
    // Before: `rm -rf /` filed as `async` was routed and could be approved and run by a worker.
    let (dir, s) = b.start_fresh(&[]);
    let (agent, alice) = s.bot_and_alice();
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(ws.join(".git")).unwrap();
    let rm = json!({"kind": "exec", "argv": ["rm", "-rf", "/"]});
    let v = file_raw(&s, &agent, &claim(&ws, rm, "async", "quick", "r", "ls"));
    let id = v["id"].as_str().unwrap();
    assert_eq!(v["status"], "denied", "{v}");
    assert_eq!(v["tier"], "deny", "{v}");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("refused: the server's policy denies")
    );
    assert!(!s.cli(&alice, &["approve", id]).status.success());
    // The command line is told at once (77), not deferred.
    let o = s.cli(&agent, &request("async", "quick", &[], &["rm", "-rf", "/"]));
    assert_eq!(
        o.status.code(),
        Some(77),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A one-response HTTP origin on loopback that answers every request with `body`.
fn loopback_origin(body: &'static str) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut r = std::io::BufReader::new(s);
            loop {
                let mut h = String::new();
                if std::io::BufRead::read_line(&mut r, &mut h).unwrap_or(0) == 0
                    || h.trim().is_empty()
                {
                    break;
                }
            }
            let mut s = r.into_inner();
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// An approved `async` action run by the worker goes through the governed path like any run:
/// its outcome in the workspace log carries the digest of its output, and the fetch it made
/// through the egress proxy (to a loopback origin the workspace policy allows) is a `network`
/// record of its intent. (Before, the worker ran the action as a child `warden sandbox`: the
/// outcome had an exit code only, and no network records.)
#[test]
fn the_worker_records_output_digest_and_network_like_any_run() {
    let (dir, s) = Backend { pg: None }.start_fresh(&[]);
    let (agent, alice) = s.bot_and_alice();
    let port = loopback_origin("fetched through the proxy\n");
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(ws.join(".git")).unwrap();
    std::fs::create_dir_all(ws.join(".warden")).unwrap();
    std::fs::write(
        ws.join(".warden/policy.toml"),
        format!(
            "version = 1\n[network]\nallow = [\"127.0.0.1:{port}\"]\nallow_private = [\"127.0.0.1\"]\n\
             discover_registries = false\ndiscover_git_remotes = false\n"
        ),
    )
    .unwrap();
    let w = ws.to_str().unwrap();
    // `--noproxy ''`: curl would otherwise go direct to a loopback address, which inside the
    // sandbox is the sandbox's own.
    let script = format!(
        "curl -sSf --noproxy '' -m 20 http://127.0.0.1:{port}/report > got.txt && echo fetched"
    );
    let id = s.file_async(
        &agent,
        "credential-access",
        &["--workspace", w, "--cwd", w],
        &["sh", "-c", &script],
    );
    assert!(s.cli(&alice, &["approve", &id]).status.success());
    let o = s.cli(&agent, &["worker", "--once"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(ws.join("got.txt")).unwrap(),
        "fetched through the proxy\n",
        "worker: {}\nlog: {}",
        String::from_utf8_lossy(&o.stderr),
        std::fs::read_to_string(ws.join(".warden/audit/audit.jsonl")).unwrap_or_default()
    );

    let log = ws.join(".warden/audit/audit.jsonl");
    audit_verify(&ws, &log);
    let recs = log_records(&log);
    let intent = recs
        .iter()
        .find(|r| r["kind"] == "intent" && r["request_id"] == id.as_str())
        .expect("the worker's intent");
    let of_intent = |kind: &str| -> Vec<&Value> {
        recs.iter()
            .filter(|r| r["kind"] == kind && r["intent_seq"] == intent["seq"])
            .collect()
    };
    let outcome = of_intent("outcome");
    assert_eq!(outcome.len(), 1, "{recs:#?}");
    let outcome = outcome[0];
    assert_eq!(outcome["disposition"], "ran", "{outcome}");
    assert_eq!(outcome["exit_code"], 0, "{outcome}");
    assert_eq!(outcome["stdout_bytes"], "fetched\n".len(), "{outcome}");
    assert_eq!(
        outcome["stdout_sha256"],
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest("fetched\n")),
        "{outcome}"
    );
    let net = of_intent("network");
    assert!(
        net.iter()
            .any(|n| n["allowed"] == true && n["host"] == "127.0.0.1" && n["port"] == port),
        "{recs:#?}"
    );
}

/// `warden serve --audit-log` seals its log's head within a second of each write, so records cut
/// off the log's end are named by `warden audit verify`. Before: the server's log was never
/// sealed, so cutting its last records (here a denial's) left a shorter log that verified. (The
/// log's first record, the seal declaring it anchored, alone would not tell: the cut log still
/// extends that.)
#[test]
fn the_servers_audit_log_is_sealed_so_a_cut_end_is_named() {
    let (dir, s) = Backend { pg: None }.start_fresh(&["--audit-log", "server-audit.jsonl"]);
    let (agent, alice) = s.bot_and_alice();
    let id = s.file_async(&agent, "credential-access", &[], &["cat", "id_rsa"]);
    assert!(s.cli(&alice, &["deny", &id]).status.success());
    let log = dir.path().join("server-audit.jsonl");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let recs = log_records(&log);
        let denied = recs
            .iter()
            .position(|r| r["kind"] == "approval" && r["decision"] == "denied");
        let sealed = recs.last().is_some_and(|r| r["seal"] == true);
        if let Some(denied) = denied
            && sealed
            && denied + 1 < recs.len()
        {
            break;
        }
        assert!(Instant::now() < deadline, "never sealed: {recs:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The anchor is stored just after the seal record (without an fsync of its own): wait until
    // it covers the denial before stopping the server, which a kill in between would leave
    // lagging — by design, and not what this test is about.
    let anchored = |out: &str| {
        out.split("sealed head of ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<usize>().ok())
    };
    loop {
        let o = Command::new(WARDEN)
            .current_dir(dir.path())
            .env("HOME", serve::test_home())
            .args(["audit", "verify", "--log"])
            .arg(&log)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let denied = log_records(&log)
            .iter()
            .position(|r| r["kind"] == "approval" && r["decision"] == "denied")
            .unwrap();
        if anchored(&out).is_some_and(|n| n > denied + 1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the anchor never covered the denial: {out}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(s);
    audit_verify(dir.path(), &log);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let denied = lines
        .iter()
        .position(|l| l.contains("\"decision\":\"denied\""))
        .unwrap();
    // Cut from the denial on, and drop the `.sync` mark, as someone with write access to the
    // log's directory would.
    std::fs::write(&log, lines[..denied].join("\n") + "\n").unwrap();
    let _ = std::fs::remove_file(dir.path().join("server-audit.jsonl.sync"));
    let o = Command::new(WARDEN)
        .current_dir(dir.path())
        .env("HOME", serve::test_home())
        .args(["audit", "verify", "--log"])
        .arg(&log)
        .output()
        .unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!o.status.success(), "the cut log verified: {out}");
    assert!(out.contains("log truncated: the sealed head"), "{out}");
}
