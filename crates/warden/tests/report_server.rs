//! `warden report --log` on the logs a real approval flow writes: a `warden serve --audit-log`
//! server (SQLite, loopback) sees a sync request approved and run by `warden run`, a sync request
//! denied, one left to expire, and an async request approved and executed by `warden approvals
//! worker`. The report of the server's log and of the workspace's log must give exact figures.

#![cfg(target_os = "linux")]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");
const ADMIN: &str = "wdn_test_admin_token_0123456789";

const POLICY: &str = r#"
[approvals.groups.security]
members = []
[[approvals.route]]
category = ["credential-access"]
groups = ["security"]
timeout = "60s"
[[approvals.route]]
category = ["quick"]
groups = ["security"]
timeout = "2s"
"#;

#[path = "support/serve.rs"]
mod serve;

struct Server {
    _serve: serve::Running,
    url: String,
    dir: PathBuf,
}

impl Server {
    fn start(dir: &Path) -> Server {
        std::fs::write(dir.join("policy.toml"), POLICY).unwrap();
        let serve = serve::serve(
            dir,
            ADMIN,
            [
                "--db",
                "sqlite:approvals.db",
                "--listen",
                "127.0.0.1:0",
                "--policy",
                "policy.toml",
                "--audit-log",
                "server-audit.jsonl",
            ],
        );
        Server {
            url: serve.url.clone(),
            _serve: serve,
            dir: dir.to_owned(),
        }
    }

    fn approvals(&self, token: &str, args: &[&str]) -> Command {
        let mut c = serve::approvals_cli(&self.url, token, args);
        c.current_dir(&self.dir);
        c
    }

    fn cli(&self, token: &str, args: &[&str]) -> Output {
        self.approvals(token, args).output().unwrap()
    }

    fn token(&self, role: &str, name: &str, groups: &str) -> String {
        serve::create_token(&self.url, ADMIN, role, name, groups)
    }

    /// The first pending request's id, waiting for one to appear.
    fn wait_pending(&self, token: &str) -> String {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let t0 = Instant::now();
        loop {
            let mut resp = agent
                .get(format!("{}/requests?status=pending", self.url))
                .header("Authorization", &format!("Bearer {token}"))
                .call()
                .unwrap();
            let v: Value =
                serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
            if let Some(id) = v.as_array().and_then(|a| a.first()) {
                return id["id"].as_str().unwrap().to_owned();
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "no pending request appeared"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn wait_child(c: &mut Child) -> std::process::ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(s) = c.try_wait().unwrap() {
            return s;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "child did not end");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn report(cwd: &Path, log: &Path) -> (Value, String) {
    let run = |json: bool| {
        let mut c = Command::new(WARDEN);
        c.current_dir(cwd).arg("report").arg("--log").arg(log);
        if json {
            c.arg("--json");
        }
        let o = c.output().unwrap();
        assert!(
            o.status.success(),
            "warden report: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    (serde_json::from_str(&run(true)).unwrap(), run(false))
}

fn count(v: &Value, path: &[&str]) -> u64 {
    let mut x = v;
    for k in path {
        x = &x[*k];
    }
    x.as_u64()
        .unwrap_or_else(|| panic!("{path:?} not a count in {v:#}"))
}

#[test]
fn report_of_a_real_approval_server_log_and_workspace_log() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path());
    let agent = s.token("agent", "bot", "");
    let alice = s.token("approver", "alice", "security");
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(ws.join(".git")).unwrap();
    std::fs::write(ws.join(".env"), "canary\n").unwrap();

    // 1. sync, approved: `warden run` waits for alice, then runs.
    let mut run = Command::new(WARDEN)
        .current_dir(&ws)
        .env("HOME", dir.path())
        .args(["run", "--", "cat", ".env"])
        .env("WARDEN_SERVER", &s.url)
        .env("WARDEN_TOKEN", &agent)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let approved = s.wait_pending(&alice);
    assert!(s.cli(&alice, &["approve", &approved]).status.success());
    assert_eq!(wait_child(&mut run).code(), Some(0));

    // 2. sync, denied.
    let request = |category: &str, cmd: &[&str]| {
        let mut args = vec!["request", "--tier", "sync", "--category", category, "--"];
        args.extend(cmd);
        s.approvals(&agent, &args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut req = request("credential-access", &["cat", "id_rsa"]);
    let denied = s.wait_pending(&alice);
    assert!(
        s.cli(&alice, &["deny", &denied, "--comment", "no keys"])
            .status
            .success()
    );
    assert_eq!(wait_child(&mut req).code(), Some(77));

    // 3. sync, nobody decides within the route's 2 s.
    let mut req = request("quick", &["cat", "token"]);
    let _expired = s.wait_pending(&alice);
    assert_eq!(wait_child(&mut req).code(), Some(77));

    // 4. async, approved, executed by the worker (exit status 3, so the outcome is checked).
    let ws_s = ws.to_str().unwrap();
    let o = s.cli(
        &agent,
        &[
            "request",
            "--tier",
            "async",
            "--category",
            "credential-access",
            "--workspace",
            ws_s,
            "--cwd",
            ws_s,
            "--",
            "sh",
            "-c",
            "echo ran >> out.txt; exit 3",
        ],
    );
    assert_eq!(o.status.code(), Some(75));
    let executed = String::from_utf8(o.stdout).unwrap().trim().to_owned();
    assert!(s.cli(&alice, &["approve", &executed]).status.success());
    let o = s.cli(&agent, &["worker", "--once"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(ws.join("out.txt")).unwrap(),
        "ran\n"
    );

    // The server's log: four requests, each one action.
    let (r, text) = report(dir.path(), &dir.path().join("server-audit.jsonl"));
    assert_eq!(count(&r, &["actions"]), 4, "{r:#}");
    assert_eq!(count(&r, &["tiers", "sync", "count"]), 3, "{r:#}");
    assert_eq!(count(&r, &["tiers", "async", "count"]), 1, "{r:#}");
    assert_eq!(count(&r, &["tiers", "auto", "count"]), 0, "{r:#}");
    let a = &r["approvals"];
    assert_eq!(
        [
            count(a, &["requested"]),
            count(a, &["granted"]),
            count(a, &["denied"]),
            count(a, &["expired"]),
            count(a, &["pending"]),
        ],
        [4, 2, 1, 1, 0],
        "{r:#}"
    );
    // Three decisions (two grants, one denial) by the one route's group.
    let times = a["time_to_decision"].as_array().unwrap();
    assert_eq!(times.len(), 1, "{r:#}");
    assert_eq!(times[0]["group"], "security");
    assert_eq!(times[0]["decisions"], 3);
    let o = &r["outcomes"];
    // The denied and the expired request did not run; the async one ran and failed (exit 3);
    // the sync one was handed to `warden run`, whose outcome is in the workspace's log.
    assert_eq!(count(o, &["denied"]), 2, "{r:#}");
    assert_eq!(count(o, &["failed"]), 1, "{r:#}");
    assert_eq!(count(o, &["succeeded"]), 0, "{r:#}");
    assert_eq!(count(o, &["unknown"]), 0, "{r:#}");
    let kinds = &r["incident_counts"];
    assert_eq!(kinds["denied-by-approver"], 1, "{r:#}");
    assert_eq!(kinds["approval-expired"], 1, "{r:#}");
    assert_eq!(kinds["failed"], 1, "{r:#}");
    assert!(text.contains("approvals: 4 requested, 2 granted, 1 denied, 1 expired, 0 pending"));
    assert!(
        text.contains("4 actions: 0.0% automatic, 100.0% surfaced"),
        "{text}"
    );
    assert!(text.contains("security            3 decisions"), "{text}");
    assert!(
        text.contains("denied by alice; not run: denied by alice: no keys"),
        "{text}"
    );
    assert!(
        text.contains("exit 3; executed by bot after approval"),
        "{text}"
    );

    // The workspace's log: `warden run`'s action and the worker's execution of the async one.
    let (w, text) = report(&ws, &ws.join(".warden/audit/audit.jsonl"));
    assert_eq!(count(&w, &["actions"]), 2, "{w:#}");
    // `cat .env` is sync under the workspace's policy; the worker's intent is classified
    // afresh there (a workspace write: auto), whatever tier it was filed with.
    assert_eq!(count(&w, &["tiers", "sync", "count"]), 1, "{w:#}");
    assert_eq!(count(&w, &["tiers", "auto", "count"]), 1, "{w:#}");
    assert_eq!(count(&w, &["outcomes", "succeeded"]), 1, "{w:#}");
    assert_eq!(count(&w, &["outcomes", "failed"]), 1, "{w:#}");
    assert_eq!(count(&w, &["approvals", "granted"]), 2, "{w:#}");
    assert_eq!(count(&w, &["approvals", "denied"]), 0, "{w:#}");
    assert_eq!(count(&w, &["approvals", "pending"]), 0, "{w:#}");
    let incident = &w["incidents"].as_array().unwrap()[0];
    assert_eq!(incident["kinds"], serde_json::json!(["failed"]), "{w:#}");
    assert!(
        incident["detail"].as_str().unwrap().contains("exit 3"),
        "{w:#}"
    );
    assert!(text.contains("incidents: 1"), "{text}");
}
