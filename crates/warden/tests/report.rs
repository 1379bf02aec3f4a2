//! `warden report` end to end on a real audit log: actions run through `warden run` (auto ones
//! that succeed and fail, a denied one, a deferred push, an unapproved credential read, network
//! allowed to a loopback server and denied to a blocked host, a run killed mid-action), plus
//! approval records as the log library writes them (for an intent, and server-side ones that
//! name only a request id). The text and JSON figures are checked against what the log holds;
//! the `--html` page is rendered by real headless Chromium and the screenshot checked non-blank.

#![cfg(target_os = "linux")]

#[path = "support/unread.rs"]
mod unread;

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use warden_audit::{AuditLog, IntentId, LogOptions};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

struct Ws {
    root: tempfile::TempDir,
}

impl Ws {
    fn new() -> Self {
        let root = tempfile::Builder::new()
            .prefix("report-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        std::fs::create_dir_all(root.path().join("ws/.git")).unwrap();
        std::fs::create_dir_all(root.path().join("home")).unwrap();
        Self { root }
    }
    fn ws(&self) -> PathBuf {
        self.root.path().join("ws")
    }
    fn log(&self) -> PathBuf {
        self.ws().join(".warden/audit/audit.jsonl")
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(WARDEN);
        c.args(args)
            .current_dir(self.ws())
            .env("HOME", self.root.path().join("home"))
            .env_remove("WARDEN_ORG_POLICY")
            .env_remove("WARDEN_SERVER")
            .env_remove("WARDEN_TOKEN")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdin(Stdio::null());
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
}

/// stderr with miette's wrapping and box drawing undone.
fn err(o: &Output) -> String {
    let s = String::from_utf8_lossy(&o.stderr).replace(['│', '×'], " ");
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A one-file HTTP/1.0 server on 127.0.0.1 for the allowed network request.
fn serve_hello() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut r = BufReader::new(s.try_clone().unwrap());
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" || h == "\n" {
                    break;
                }
            }
            let mut s = s;
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nhello\n");
        }
    });
    port
}

fn records(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn intent_of(recs: &[Value], script_or_argv0: &str) -> Value {
    recs.iter()
        .find(|r| {
            r["kind"] == "intent"
                && (r["action"]["script"] == script_or_argv0
                    || r["action"]["argv"][0] == script_or_argv0)
        })
        .unwrap_or_else(|| panic!("no intent for {script_or_argv0}"))
        .clone()
}

/// Append a record the way the approval writers do (the real log library, hash chain and all).
fn append(log: &AuditLog, body: Value) {
    let Value::Object(m) = body else { panic!() };
    log.append("approval", m).unwrap();
    std::thread::sleep(Duration::from_millis(15));
}

/// Nearest-rank percentile.
fn nearest_rank(sorted: &[u64], p: usize) -> u64 {
    sorted[(p * sorted.len()).div_ceil(100).max(1) - 1]
}

/// Build the session's log; returns the workspace.
fn session() -> Ws {
    let w = Ws::new();
    let port = serve_hello();
    std::fs::create_dir_all(w.ws().join(".warden")).unwrap();
    std::fs::write(
        w.ws().join(".warden/policy.toml"),
        format!(
            "[network]\ndiscover_registries = false\ndiscover_git_remotes = false\nforges = false\n\
             allow = [\"127.0.0.1:{port}\"]\nallow_private = [\"127.0.0.1\"]\n"
        ),
    )
    .unwrap();
    let url = format!("http://127.0.0.1:{port}/hello");
    let runs: Vec<(Vec<&str>, Option<i32>)> = vec![
        (vec!["--", "echo", "hello"], Some(0)),
        (vec!["--", "sh", "-c", "exit 3"], Some(3)),
        (vec!["--shell", "rm -rf /"], Some(77)),
        (vec!["--shell", "git push origin main"], Some(75)),
        (vec!["--shell", "cat ~/.ssh/id_rsa"], Some(77)),
        (
            vec!["--", "curl", "-sf", "--noproxy", "", "-m", "10", &url],
            Some(0),
        ),
        (
            vec![
                "--",
                "curl",
                "-sf",
                "--noproxy",
                "",
                "-m",
                "10",
                "http://blocked.invalid/",
            ],
            None,
        ),
    ];
    for (args, code) in runs {
        let mut a = vec!["run"];
        a.extend_from_slice(&args);
        let o = w.run(&a);
        match code {
            Some(c) => assert_eq!(o.status.code(), Some(c), "{args:?}: {}", err(&o)),
            None => assert!(
                !matches!(o.status.code(), Some(0 | 75 | 77)),
                "{args:?} should fail: {}",
                err(&o)
            ),
        }
    }
    // A run killed after its intent is durable: its outcome is unknown.
    let mut child = w.cmd(&["run", "--", "sleep", "3"]).spawn().unwrap();
    let t0 = Instant::now();
    while !std::fs::read_to_string(w.log())
        .unwrap()
        .contains("\"argv\":[\"sleep\",\"3\"]")
    {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no intent for sleep"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // Approval records: the push (filed by `warden run`) is granted later by alice; three
    // requests decided on the approval server carry only their request id and groups.
    let recs = records(&w.log());
    let push = intent_of(&recs, "git push origin main");
    let log = AuditLog::open(
        &w.log(),
        LogOptions {
            checkpoint_every: 0,
            signer: None,
            origin: "warden/ws".into(),
            anchor: None,
        },
    )
    .unwrap();
    let id = IntentId {
        seq: push["seq"].as_u64().unwrap(),
        hash: push["hash"].as_str().unwrap().into(),
    };
    std::thread::sleep(Duration::from_millis(40));
    append(
        &log,
        Value::Object(warden_audit::records::approval_body(
            &id,
            "granted",
            Some("alice"),
        )),
    );
    let server = |id: &str, event: &str, extra: Value| {
        let mut m: Map<String, Value> = Map::new();
        m.insert("request_id".into(), id.into());
        m.insert("event".into(), event.into());
        if let Value::Object(e) = extra {
            m.extend(e);
        }
        append(&log, Value::Object(m));
    };
    server(
        "r-1",
        "requested",
        json!({"groups": ["security"], "category": "credential-access"}),
    );
    server(
        "r-2",
        "requested",
        json!({"groups": ["platform"], "category": "infrastructure-change"}),
    );
    server("r-2", "voted", json!({"by": "carol"}));
    server("r-2", "approved", json!({"by": "carol"}));
    server(
        "r-3",
        "requested",
        json!({"group": "platform", "category": "infrastructure-change"}),
    );
    // The same request filed twice still counts once.
    server("r-3", "requested", json!({"group": "platform"}));
    std::thread::sleep(Duration::from_millis(60));
    server("r-1", "denied", json!({"by": "bob"}));
    server("r-3", "approved", json!({"by": "dave"}));
    w
}

/// Milliseconds from each request to its first decision, per group, from the raw records.
fn decision_times(recs: &[Value]) -> BTreeMap<String, Vec<u64>> {
    let ts = |r: &Value| r["ts_ns"].as_u64().unwrap();
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let approvals: Vec<&Value> = recs.iter().filter(|r| r["kind"] == "approval").collect();
    // The push: requested by `warden run`, granted by alice; routed to "maintainers" by the
    // built-in default (`*` → maintainers).
    let push = intent_of(recs, "git push origin main")["seq"].clone();
    let of_push: Vec<&&Value> = approvals
        .iter()
        .filter(|r| r["intent_seq"] == push)
        .collect();
    let req = of_push.iter().find(|r| r["event"] == "requested").unwrap();
    let dec = of_push.iter().find(|r| r["event"] == "granted").unwrap();
    out.entry("maintainers".into())
        .or_default()
        .push((ts(dec) - ts(req)) / 1_000_000);
    for (id, group) in [
        ("r-1", "security"),
        ("r-2", "platform"),
        ("r-3", "platform"),
    ] {
        let mine: Vec<&&Value> = approvals.iter().filter(|r| r["request_id"] == id).collect();
        let req = mine.iter().find(|r| r["event"] == "requested").unwrap();
        let dec = mine
            .iter()
            .find(|r| r["event"] == "approved" || r["event"] == "denied")
            .unwrap();
        out.entry(group.into())
            .or_default()
            .push((ts(dec) - ts(req)) / 1_000_000);
    }
    for v in out.values_mut() {
        v.sort_unstable();
    }
    out
}

#[test]
fn the_report_figures_match_the_session_that_was_run() {
    let w = session();
    let recs = records(&w.log());
    let intents: Vec<&Value> = recs.iter().filter(|r| r["kind"] == "intent").collect();
    assert_eq!(intents.len(), 8);
    let degraded = recs
        .iter()
        .filter(|r| {
            r["kind"] == "outcome"
                && r["notes"].as_array().is_some_and(|n| {
                    n.iter()
                        .any(|x| x.as_str().unwrap().starts_with("not enforced"))
                })
        })
        .count() as u64;

    let o = w.run(&["report", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["actions"], 8);
    assert_eq!(r["records"], recs.len());
    assert_eq!(r["unreadable_lines"], 0);
    for (tier, n) in [("auto", 5), ("async", 1), ("sync", 1), ("deny", 1)] {
        let recorded = intents.iter().filter(|i| i["tier"] == tier).count();
        assert_eq!(recorded, n, "{tier} in the log");
        assert_eq!(r["tiers"][tier]["count"], n, "{tier}");
    }
    assert_eq!(r["tiers"]["automatic"]["share"], 0.625);
    assert_eq!(r["tiers"]["surfaced"]["share"], 0.375);
    assert_eq!(
        r["outcomes"],
        json!({"succeeded": 2, "failed": 2, "denied": 2, "deferred": 1, "did_not_run": 0,
               "other": 0, "unknown": 1, "degraded": degraded})
    );
    // Approvals: the push (granted), the credential read (unavailable: no server, no terminal),
    // r-1 (denied),
    // r-2 and r-3 (approved); r-3's duplicate request and r-2's vote do not count again.
    let a = &r["approvals"];
    assert_eq!(
        (
            &a["requested"],
            &a["granted"],
            &a["denied"],
            &a["expired"],
            &a["unavailable"],
            &a["pending"]
        ),
        (
            &json!(5),
            &json!(3),
            &json!(1),
            &json!(0),
            &json!(1),
            &json!(0)
        )
    );
    let times = decision_times(&recs);
    let got: Vec<(String, u64, u64, u64)> = a["time_to_decision"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["group"].as_str().unwrap().to_owned(),
                t["decisions"].as_u64().unwrap(),
                t["median_ms"].as_u64().unwrap(),
                t["p90_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, u64, u64, u64)> = times
        .iter()
        .map(|(g, v)| {
            (
                g.clone(),
                v.len() as u64,
                nearest_rank(v, 50),
                nearest_rank(v, 90),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        got.iter().map(|g| g.0.as_str()).collect::<Vec<_>>(),
        ["maintainers", "platform", "security"]
    );
    assert!(want[2].2 >= 60, "r-1 waited at least 60 ms: {want:?}");

    assert_eq!(
        r["top_rules"],
        json!([
            {"rule": "cred.files", "category": "credential-access", "tier": "sync", "count": 1},
            {"rule": "deny.rm-root", "category": "catastrophic", "tier": "deny", "count": 1},
            {"rule": "vcs.git-push", "category": "vcs-publish", "tier": "async", "count": 1},
        ])
    );
    assert_eq!(r["top_categories"].as_array().unwrap().len(), 3);
    assert_eq!(
        r["network"],
        json!([
            {"host": "127.0.0.1", "allowed": 1, "denied": 0,
             "methods": {"GET": {"allowed": 1, "denied": 0}}},
            {"host": "blocked.invalid", "allowed": 0, "denied": 1,
             "methods": {"GET": {"allowed": 0, "denied": 1}}},
        ])
    );
    let kinds: BTreeMap<String, u64> =
        serde_json::from_value(r["incident_counts"].clone()).unwrap();
    let mut want_kinds = BTreeMap::from([
        ("approval-unavailable".to_owned(), 1),
        ("denied-by-policy".to_owned(), 1),
        ("failed".to_owned(), 2),
        ("network-denied".to_owned(), 1),
        ("outcome-unknown".to_owned(), 1),
    ]);
    if degraded > 0 {
        want_kinds.insert("degraded".into(), degraded);
    }
    assert_eq!(kinds, want_kinds);
    let incidents = r["incidents"].as_array().unwrap();
    let by_action = |a: &str| {
        incidents
            .iter()
            .find(|i| i["action"].as_str().unwrap().starts_with(a))
            .unwrap_or_else(|| panic!("no incident for {a}: {incidents:?}"))
    };
    assert!(
        by_action("sh -c exit 3")["detail"]
            .as_str()
            .unwrap()
            .starts_with("exit 3")
    );
    assert_eq!(by_action("rm -rf /")["rule"], "deny.rm-root");
    let blocked = by_action("curl -sf --noproxy  -m 10 http://blocked.invalid/");
    assert!(
        blocked["kinds"]
            .as_array()
            .unwrap()
            .contains(&json!("network-denied"))
    );
    assert!(
        blocked["detail"]
            .as_str()
            .unwrap()
            .contains("network denied: blocked.invalid")
    );
    assert_eq!(by_action("sleep 3")["kinds"], json!(["outcome-unknown"]));

    // The text a person reads carries the same figures.
    let o = w.run(&["report"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for want in [
        "8 actions: 62.5% automatic, 37.5% surfaced",
        "approvals: 5 requested, 3 granted, 1 denied, 0 expired, 1 unavailable (nobody to ask), 0 pending",
        "outcomes: 2 succeeded, 2 failed, 2 denied, 1 deferred, 0 did not run, 1 unknown",
        "network: 1 allowed, 1 denied",
        "incidents: 5",
        "deny.rm-root  (deny, catastrophic)",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let platform = &times["platform"];
    assert!(
        text.contains(&format!(
            "platform            2 decisions  median {} ms",
            nearest_rank(platform, 50)
        )) || nearest_rank(platform, 50) >= 1000,
        "{text}"
    );

    // --top shortens the lists, keeping the first.
    let o = w.run(&["report", "--json", "--top", "1"]);
    let short: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(short["top_rules"], json!([r["top_rules"][0]]));
    assert_eq!(short["network"], json!([r["network"][0]]));

    // --log names the file explicitly; the same figures come back from elsewhere.
    let o = Command::new(WARDEN)
        .args(["report", "--json", "--log", w.log().to_str().unwrap()])
        .current_dir(w.root.path())
        .env("HOME", w.root.path().join("home"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let again: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(again["tiers"], r["tiers"]);
    assert_eq!(again["approvals"]["requested"], 5);
}

#[test]
fn since_keeps_only_the_window() {
    let w = session();
    let recs = records(&w.log());
    // From the allowed curl on: that run, the blocked one and the killed one; the push's
    // approval belongs to an earlier action, the server-side requests come after.
    let curl = recs
        .iter()
        .find(|r| {
            r["kind"] == "intent"
                && r["action"]["argv"][6]
                    .as_str()
                    .is_some_and(|u| u.starts_with("http://127.0.0.1"))
        })
        .unwrap();
    let ts = curl["ts_ns"].as_u64().unwrap();
    let out = Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("@{}.{:09}", ts / 1_000_000_000, ts % 1_000_000_000),
            "+%Y-%m-%dT%H:%M:%S.%NZ",
        ])
        .output()
        .unwrap();
    let since = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let o = w.run(&["report", "--json", "--since", &since]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["actions"], 3, "{r}");
    assert_eq!(r["tiers"]["auto"]["count"], 3);
    assert_eq!(r["approvals"]["requested"], 3);
    assert_eq!(r["approvals"]["granted"], 2);
    assert_eq!(r["approvals"]["denied"], 1);
    assert_eq!(r["approvals"]["expired"], 0);
    assert_eq!(r["network"].as_array().unwrap().len(), 2);
    // A duration back from now keeps everything; a date in the future keeps nothing.
    let r: Value =
        serde_json::from_slice(&w.run(&["report", "--json", "--since", "1h"]).stdout).unwrap();
    assert_eq!(r["actions"], 8);
    let r: Value =
        serde_json::from_slice(&w.run(&["report", "--json", "--since", "2999-01-01"]).stdout)
            .unwrap();
    assert_eq!(r["actions"], 0);
    assert_eq!(r["tiers"]["surfaced"]["share"], 0.0);
    // Bad input.
    let o = w.run(&["report", "--since", "last tuesday"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("not a duration or a date"), "{}", err(&o));
    let o = w.run(&["report", "--log", "/nonexistent/audit.jsonl"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("cannot read the audit log"), "{}", err(&o));
}

/// Screenshot `page` with headless Chromium at 1100×1400 into `png`.
fn screenshot(page: &Path, png: &Path, profile: &Path) {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "chromium is missing: run scripts/setup-approvals.sh"
    );
    let _ = std::fs::remove_file(png);
    let o = Command::new("/usr/bin/chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1100,1400",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--screenshot={}", png.display()),
            &format!("file://{}", page.display()),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        o.status.success() && png.is_file(),
        "chromium failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap());
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn the_html_page_is_self_contained_and_renders_in_headless_chromium() {
    let w = session();
    let page = w.root.path().join("report.html");
    let o = w.run(&["report", "--html", page.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("HTML report written to"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Self-contained: no scripts, no external resources; the only URL is SVG's namespace.
    for banned in ["<script", "<link", " src=", "@import", "url("] {
        assert!(!html.contains(banned), "{banned} in the page");
    }
    assert_eq!(
        html.matches("http").count(),
        html.matches("http://www.w3.org/2000/svg").count()
            + html.matches("http://blocked.invalid/").count()
            + html.matches("http://127.0.0.1").count(),
        "an external reference in the page"
    );
    assert!(
        html.matches("<svg").count() >= 4,
        "charts: tiers, approvals, rules, network"
    );
    for want in [
        "62.5%",
        "37.5%",
        "blocked.invalid",
        "deny.rm-root",
        "outcome-unknown",
    ] {
        assert!(html.contains(want), "{want} missing from the page");
    }

    // Rendered by real Chromium: the page fills the screenshot, a blank page of the same size
    // does not.
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let png = shots.join("report-screenshot.png");
    screenshot(&page, &png, &w.root.path().join("profile"));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(png_size(&bytes), (1100, 1400));
    let blank_page = w.root.path().join("blank.html");
    std::fs::write(&blank_page, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let blank_png = w.root.path().join("blank.png");
    screenshot(&blank_page, &blank_png, &w.root.path().join("profile"));
    let blank = std::fs::read(&blank_png).unwrap();
    assert_eq!(png_size(&blank), (1100, 1400));
    assert!(
        bytes.len() > 10 * blank.len(),
        "the report screenshot ({} bytes) is not much more than a blank page ({} bytes)",
        bytes.len(),
        blank.len()
    );
}

#[test]
fn every_command_in_docs_report_md_runs() {
    let w = session();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/replay");
    for (from, to) in [
        ("claude-session.jsonl", "session.jsonl"),
        ("commands.txt", "commands.txt"),
        ("commands.jsonl", "commands.jsonl"),
        ("draft.toml", "draft.toml"),
    ] {
        std::fs::copy(data.join(from), w.ws().join(to)).unwrap();
    }
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/report.md"))
            .unwrap();
    // Every line of the ```sh blocks.
    let mut commands = Vec::new();
    let mut in_sh = false;
    for line in doc.lines() {
        match (in_sh, line.trim()) {
            (false, "```sh") => in_sh = true,
            (true, "```") => in_sh = false,
            (true, l) if !l.is_empty() => commands.push(l.to_owned()),
            _ => {}
        }
    }
    assert!(commands.len() >= 9, "{commands:?}");
    assert!(commands.iter().any(|c| c.starts_with("warden replay")));
    assert!(commands.iter().any(|c| c.starts_with("warden report")));
    let bin_dir = Path::new(WARDEN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for c in &commands {
        assert!(c.contains("warden "), "not a warden command: {c}");
        let o = Command::new("sh")
            .args(["-c", c])
            .current_dir(w.ws())
            .env("PATH", &path)
            .env("HOME", w.root.path().join("home"))
            .env_remove("WARDEN_ORG_POLICY")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{c}: {}", err(&o));
        assert!(!o.stdout.is_empty(), "{c} printed nothing");
    }
    assert!(w.ws().join("report.html").is_file());
}

/// An auto action (a `make` whose Makefile plants a hook) that creates a repository where the
/// workspace had none: `warden run` warns, and the report lists it as a `warning` incident.
#[test]
fn a_repository_planted_by_an_auto_action_is_a_warning_incident() {
    let w = Ws::new();
    std::fs::remove_dir_all(w.ws().join(".git")).unwrap();
    std::fs::create_dir_all(w.ws().join(".warden")).unwrap();
    // The hook is written by make itself (`$(file …)`), not by a `sh -c` it runs: the exec
    // layer would refuse that shell (writing a git hook is above the granted `auto`), and this
    // test is about what the sandbox reports of a repository that did get planted.
    std::fs::write(
        w.ws().join("Makefile"),
        // Padded past what lookahead reads (the recipe's `$(file …)` is opaque to it, which
        // would ask a person first): this test is about what the sandbox reports afterwards.
        unread::script(
            "all: hook\nhook: init\n\t$(file >.git/hooks/post-checkout,touch /tmp/x)\ninit:\n\tgit init -q\n",
        ),
    )
    .unwrap();
    let o = w.run(&["run", "--", "make", "-s"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(err(&o).contains("hooks/post-checkout"), "{}", err(&o));
    let o = w.run(&["report", "--json"]);
    assert!(o.status.success(), "{}", err(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let incidents = report["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{report:#}");
    assert_eq!(incidents[0]["kinds"], json!(["warning"]), "{report:#}");
    let detail = incidents[0]["detail"].as_str().unwrap();
    assert!(detail.contains("hooks/post-checkout"), "{detail}");
}
