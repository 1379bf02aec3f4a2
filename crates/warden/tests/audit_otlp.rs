//! The audit log's OpenTelemetry export, received by real third-party OTLP decoders: the rotel
//! collector (its OTLP/HTTP receiver parses our protobuf and re-exports it) feeding a receiver
//! that decodes with the OpenTelemetry project's own Python protobuf classes. Also: JSON
//! encoding, deterministic ids, and a collector that goes down and comes back mid-run.

mod audit_support;
#[path = "support/tls.rs"]
mod tls;

use audit_support::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use warden_audit::records::{approval_body, intent_body, network_body, outcome_body};
use warden_audit::{AuditLog, IntentId, IntentInfo, LogOptions, NetworkInfo, OutcomeInfo};
use warden_policy::{Action, Context, Policy};

fn secret() -> String {
    format!("ghp_{}", "Zq7".repeat(12))
}

fn opts() -> LogOptions {
    LogOptions {
        checkpoint_every: 0,
        signer: None,
        origin: "warden/test".into(),
        anchor: None,
    }
}

fn intent(
    log: &AuditLog,
    policy: &Policy,
    ws: &Path,
    action: Action,
    info: IntentInfo,
) -> IntentId {
    let ctx = Context {
        workspace: ws.into(),
        cwd: ws.into(),
        home: "/nonexistent".into(),
        sandboxed: true,
    };
    let d = policy.classify(&action, &ctx);
    let a = log
        .append("intent", intent_body(&action, &d, &info))
        .unwrap();
    IntentId {
        seq: a.seq,
        hash: a.hash,
    }
}

fn outcome(log: &AuditLog, id: &IntentId, code: i32) {
    std::thread::sleep(Duration::from_millis(3));
    let o = OutcomeInfo {
        exit_code: Some(code),
        duration_ns: 2_000_000,
        ..Default::default()
    };
    log.append("outcome", outcome_body(id, &o)).unwrap();
}

/// A log with three finished actions (one with an approval and network decisions) and one
/// intent whose outcome is unknown.
fn scenario(ws: &Path, log_path: &Path) {
    let log = AuditLog::open(log_path, opts()).unwrap();
    let policy = Policy::builtin();
    let info = |tool: &str, call: &str| IntentInfo {
        tool: Some(tool.into()),
        tool_call_id: Some(call.into()),
        session: Some("sess-1".into()),
        agent: Some("test-agent".into()),
        rationale: Some("run the tests".into()),
        ..Default::default()
    };
    let a = intent(
        &log,
        &policy,
        ws,
        Action::Exec {
            argv: vec!["cargo".into(), "test".into()],
            cwd: None,
        },
        info("Bash", "call_1"),
    );
    outcome(&log, &a, 0);
    let b = intent(
        &log,
        &policy,
        ws,
        Action::Exec {
            argv: vec!["git".into(), "push".into(), "origin".into(), "main".into()],
            cwd: None,
        },
        info("Bash", "call_2"),
    );
    log.append("approval", approval_body(&b, "requested", None))
        .unwrap();
    log.append("approval", approval_body(&b, "granted", Some("alice")))
        .unwrap();
    let net = NetworkInfo {
        protocol: "connect".into(),
        host: "forge.example.invalid".into(),
        port: 443,
        method: None,
        allowed: true,
        rule: "forges".into(),
        ..Default::default()
    };
    log.append("network", network_body(&b, &net)).unwrap();
    outcome(&log, &b, 0);
    let c = intent(
        &log,
        &policy,
        ws,
        Action::Shell {
            script: format!(
                "curl -H 'Authorization: Bearer {}' https://api.example.invalid/x",
                secret()
            ),
            cwd: None,
        },
        info("Bash", "call_3"),
    );
    let denied = NetworkInfo {
        allowed: false,
        host: "api.example.invalid".into(),
        rule: "default-deny".into(),
        ..net
    };
    log.append("network", network_body(&c, &denied)).unwrap();
    outcome(&log, &c, 7);
    intent(
        &log,
        &policy,
        ws,
        Action::Tool {
            name: "mcp__db__query".into(),
            arguments: serde_json::json!({"sql": "select 1"}),
        },
        info("mcp__db__query", "call_4"),
    );
}

fn hex_of(v: &Value) -> String {
    v.as_str().unwrap_or("").to_owned()
}

/// Everything a well-formed export must show, whatever carried it.
fn check_export(reqs: &[Value], log_path: &Path) {
    let records = warden_audit::log::read_records(log_path).unwrap();
    let spans = spans(reqs);
    let logs = logs(reqs);
    assert_eq!(spans.len(), 3, "one span per finished action: {spans:#?}");
    let decisions: Vec<&Value> = logs
        .iter()
        .filter(|l| l["event_name"] == "warden.policy.decision")
        .collect();
    assert_eq!(
        decisions.len(),
        4,
        "one decision per intent, including the unfinished one"
    );
    for span in &spans {
        assert_eq!(span["name"], "execute_tool Bash");
        assert_eq!(
            attr_str(span, "gen_ai.operation.name"),
            Some("execute_tool")
        );
        assert_eq!(attr_str(span, "gen_ai.tool.name"), Some("Bash"));
        let call = attr_str(span, "gen_ai.tool.call.id").unwrap();
        assert!(call.starts_with("call_"));
        let seq = attr_int(span, "warden.intent.seq").unwrap() as u64;
        let intent = records.iter().find(|r| r["seq"] == seq).unwrap();
        assert_eq!(attr_str(span, "warden.tier"), intent["tier"].as_str());
        assert_eq!(attr_str(span, "warden.rule"), intent["rule"].as_str());
        assert_eq!(
            attr_str(span, "warden.category"),
            intent["category"].as_str()
        );
        assert_eq!(
            attr_str(span, "warden.intent.hash"),
            intent["hash"].as_str()
        );
        // The decision record carries this span's ids and precedes the action's start.
        let d = decisions
            .iter()
            .find(|d| attr_int(d, "warden.intent.seq") == Some(seq as i64))
            .expect("decision for the span");
        assert_eq!(hex_of(&d["trace_id"]), hex_of(&span["trace_id"]));
        assert_eq!(hex_of(&d["span_id"]), hex_of(&span["span_id"]));
        assert_eq!(hex_of(&span["trace_id"]).len(), 32);
        assert_eq!(hex_of(&span["span_id"]).len(), 16);
        assert!(
            num(&d["time_unix_nano"]) < num(&span["start_time_unix_nano"]),
            "decision after start"
        );
        assert!(num(&span["start_time_unix_nano"]) <= num(&span["end_time_unix_nano"]));
        assert_eq!(attr_str(d, "gen_ai.tool.call.id"), Some(call));
    }
    // The failing action's span has an error status.
    let failed = spans
        .iter()
        .find(|s| attr_int(s, "warden.exit_code") == Some(7))
        .unwrap();
    assert_eq!(failed["status"]["code"], "STATUS_CODE_ERROR");
    // Approvals and network decisions are log records tied to their action's span.
    let push_span = spans
        .iter()
        .find(|s| attr_str(s, "gen_ai.tool.call.id") == Some("call_2"))
        .unwrap();
    let approvals: Vec<&Value> = logs
        .iter()
        .filter(|l| l["event_name"] == "warden.approval")
        .collect();
    assert_eq!(approvals.len(), 2);
    assert!(
        approvals
            .iter()
            .all(|a| a["span_id"] == push_span["span_id"])
    );
    assert!(
        approvals
            .iter()
            .any(|a| attr_str(a, "warden.approval.by") == Some("alice"))
    );
    let nets: Vec<&Value> = logs
        .iter()
        .filter(|l| l["event_name"] == "warden.network.decision")
        .collect();
    assert_eq!(nets.len(), 2);
    let denied = serde_json::json!({"bool_value": false});
    assert!(
        nets.iter()
            .any(|n| attr(n, "warden.network.allowed") == Some(&denied)
                && attr_str(n, "server.address") == Some("api.example.invalid"))
    );
    // The secret in the third command never left the machine.
    let all = serde_json::to_string(reqs).unwrap();
    assert!(!all.contains(&secret()), "secret exported");
    // Arguments are opt-in.
    assert!(
        spans
            .iter()
            .all(|s| attr(s, "gen_ai.tool.call.arguments").is_none())
    );
}

#[test]
fn export_through_rotel_to_a_protobuf_decoder() {
    let ws = Ws::new();
    scenario(ws.path(), &ws.log());
    let rx_dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(&rx_dir.path().join("rx.jsonl"), 0);
    let rotel = Rotel::start(&format!("http://127.0.0.1:{}", rx.port));
    let (code, out, err) = ws.run(&[
        "audit",
        "export",
        "--otlp",
        &format!("http://127.0.0.1:{}", rotel.http_port),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("exported 11 records"), "{out}");
    let ok = wait_until(Duration::from_secs(20), || {
        let r = rx.requests();
        spans(&r).len() >= 3 && logs(&r).len() >= 8
    });
    let reqs = rx.requests();
    assert!(ok, "rotel did not forward everything: {reqs:#?}");
    assert!(
        reqs.iter().all(|r| r.get("error").is_none()),
        "decode errors: {reqs:#?}"
    );
    assert!(
        reqs.iter()
            .all(|r| r["user_agent"].as_str().unwrap_or("").contains("Rotel"))
    );
    check_export(&reqs, &ws.log());
    // A second export from the same cursor sends nothing new.
    let (code, out, _) = ws.run(&[
        "audit",
        "export",
        "--otlp",
        &format!("http://127.0.0.1:{}", rotel.http_port),
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("exported 0 records"), "{out}");
}

#[test]
fn json_and_protobuf_exports_decode_to_the_same_ids() {
    let ws = Ws::new();
    scenario(ws.path(), &ws.log());
    let dir = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for (proto, cursor) in [("http/json", "c-json"), ("http/protobuf", "c-proto")] {
        let rx = Receiver::start(&dir.path().join(format!("{cursor}.jsonl")), 0);
        let cursor = dir.path().join(cursor);
        let (code, out, err) = ws.run(&[
            "audit",
            "export",
            "--otlp",
            &format!("http://127.0.0.1:{}", rx.port),
            "--protocol",
            proto,
            "--cursor",
            cursor.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{out}{err}");
        let reqs = rx.requests();
        assert!(
            reqs.iter().all(|r| r.get("error").is_none()),
            "{proto}: {reqs:#?}"
        );
        assert!(reqs.iter().any(|r| {
            r["content_type"]
                == proto
                    .replace("http/", "application/")
                    .replace("protobuf", "x-protobuf")
        }));
        check_export(&reqs, &ws.log());
        let set: BTreeSet<(String, String, String)> = spans(&reqs)
            .iter()
            .map(|s| {
                (
                    hex_of(&s["trace_id"]),
                    hex_of(&s["span_id"]),
                    s["name"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        ids.push(set);
    }
    assert_eq!(ids[0], ids[1], "re-exports must carry identical ids");
}

#[test]
fn env_endpoint_and_headers_are_honoured_and_bad_endpoints_fail() {
    let ws = Ws::new();
    scenario(ws.path(), &ws.log());
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(&dir.path().join("rx.jsonl"), 0);
    let out = ws
        .cmd(&["audit", "export"])
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{}", rx.port),
        )
        .env("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=k%3D1,x-tenant=t")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reqs = rx.requests();
    assert!(!reqs.is_empty());
    assert!(
        reqs.iter()
            .all(|r| r["headers"]["x-api-key"] == "k=1" && r["headers"]["x-tenant"] == "t")
    );
    // No endpoint anywhere: bad input.
    let (code, _, err) = ws.run(&["audit", "export"]);
    assert_eq!(code, 2, "{err}");
    // A collector that is down: failure, and the cursor does not move.
    let ws2 = Ws::new();
    scenario(ws2.path(), &ws2.log());
    let port = free_port();
    let (code, _, err) = ws2.run(&[
        "audit",
        "export",
        "--otlp",
        &format!("http://127.0.0.1:{port}"),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        !ws2.path()
            .join(".warden/audit/audit.jsonl.otlp-cursor")
            .exists()
    );
}

#[test]
fn collector_down_and_restarted_mid_run_loses_nothing() {
    let ws = Ws::new();
    let log_path = ws.log();
    let log = Arc::new(AuditLog::open(&log_path, opts()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rx.jsonl");
    let mut rx = Receiver::start(&out, 0);
    let port = rx.port;
    let settings = warden_audit::OtlpSettings::resolve(
        &Default::default(),
        &|_| None,
        Some(&format!("http://127.0.0.1:{port}")),
        None,
    )
    .unwrap()
    .unwrap();
    let settings = warden_audit::OtlpSettings {
        batch: 16,
        timeout: Duration::from_secs(2),
        ..settings
    };
    let exporter =
        warden_audit::Exporter::new(&log_path, settings).spawn(Duration::from_millis(50));
    // A writer appends intent/outcome pairs throughout, at a bounded pace: as fast as the disk
    // allowed, a fast disk wrote more (~10,000 records) than the exporter sent in the wait below,
    // and the test failed on the machine rather than on the exporter.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let log = Arc::clone(&log);
        let stop = Arc::clone(&stop);
        let ws = ws.path().to_path_buf();
        std::thread::spawn(move || {
            let policy = Policy::builtin();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 800 {
                std::thread::sleep(Duration::from_millis(4));
                let id = intent(
                    &log,
                    &policy,
                    &ws,
                    Action::Exec {
                        argv: vec!["make".into(), format!("t{n}")],
                        cwd: None,
                    },
                    IntentInfo::default(),
                );
                outcome(&log, &id, 0);
                n += 1;
            }
        })
    };
    // The collector goes down twice, for a while, and comes back on the same port.
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(700));
        rx.stop();
        std::thread::sleep(Duration::from_millis(1200));
        rx = Receiver::start(&out, port);
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let records = warden_audit::log::read_records(&log_path).unwrap();
    let total = records.len() as u64;
    assert!(total > 40, "the writer wrote too little: {total}");
    // Everything arrives eventually.
    let ok = wait_until(Duration::from_secs(30), || {
        let r = rx.requests();
        let seen: BTreeSet<i64> = logs(&r)
            .iter()
            .filter_map(|l| attr_int(l, "warden.record.seq"))
            .collect();
        seen.len() as u64 >= total / 2
    });
    let stats = exporter.shutdown();
    assert!(ok, "not everything arrived: {stats:?}");
    assert!(stats.failures > 0, "the outage was not noticed: {stats:?}");
    let reqs = rx.requests();
    assert!(reqs.iter().all(|r| r.get("error").is_none()));
    // Every intent's decision and every outcome's span arrived; in order of first arrival.
    let mut log_first: Vec<i64> = Vec::new();
    let mut log_count: BTreeMap<i64, u32> = BTreeMap::new();
    for l in logs(&reqs) {
        let s = attr_int(&l, "warden.record.seq").unwrap();
        if log_count
            .insert(s, log_count.get(&s).copied().unwrap_or(0) + 1)
            .is_none()
        {
            log_first.push(s);
        }
    }
    let span_seqs: BTreeSet<i64> = spans(&reqs)
        .iter()
        .filter_map(|s| attr_int(s, "warden.outcome.seq"))
        .collect();
    for r in &records {
        let seq = r["seq"].as_i64().unwrap();
        match r["kind"].as_str().unwrap() {
            "intent" => assert!(log_count.contains_key(&seq), "decision {seq} lost"),
            "outcome" => assert!(span_seqs.contains(&seq), "span of outcome {seq} lost"),
            _ => {}
        }
    }
    assert!(
        log_first.windows(2).all(|w| w[0] < w[1]),
        "records arrived out of order"
    );
    // Duplicates only come from batches in flight when the collector died (at least once).
    let dups: u32 = log_count.values().map(|c| c - 1).sum();
    assert!(dups <= 2 * 16, "too many duplicates: {dups}");
    // The cursor names the last record.
    let cursor: Value = serde_json::from_str(
        &std::fs::read_to_string(warden_audit::Cursor::for_log(&log_path).path()).unwrap(),
    )
    .unwrap();
    assert_eq!(cursor["seq"].as_u64(), Some(total));
}

#[test]
fn warden_run_exports_its_own_span_and_decision_in_the_background() {
    let ws = Ws::new();
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(&dir.path().join("rx.jsonl"), 0);
    let out = ws
        .cmd(&["run", "--rationale", "list the workspace", "--", "ls", "-a"])
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{}", rx.port),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No `warden audit export`: the run itself shipped its records on the way out.
    let reqs = rx.requests();
    let spans = spans(&reqs);
    let span = spans
        .iter()
        .find(|s| attr_str(s, "gen_ai.operation.name") == Some("execute_tool"))
        .unwrap_or_else(|| panic!("no execute_tool span in {reqs:?}"));
    assert_eq!(attr_str(span, "warden.tier"), Some("auto"));
    let decisions: Vec<Value> = logs(&reqs)
        .into_iter()
        .filter(|l| l.to_string().contains("warden.policy.decision"))
        .collect();
    assert_eq!(decisions.len(), 1, "{reqs:?}");
    assert!(
        ws.path()
            .join(".warden/audit/audit.jsonl.otlp-cursor")
            .exists(),
        "the cursor moved"
    );
}

/// OTLP over `https://`: a collector with a certificate from a private CA receives and decodes
/// everything when `WARDEN_CA_FILE` names that CA; without it (or with another CA) the export
/// fails and the cursor stays put. (The old exporter's ureq had no TLS at all.)
#[test]
fn export_over_https_trusts_the_configured_ca_and_refuses_an_unknown_one() {
    let dir = tempfile::tempdir().unwrap();
    let pki = tls::make_pki(dir.path(), "collector");
    let other = tls::make_pki(dir.path(), "other");
    let rx = Receiver::start_tls(&dir.path().join("rx.jsonl"), &pki.cert, &pki.key);
    let url = format!("https://127.0.0.1:{}", rx.port);
    for ca in [None, Some(&other.ca)] {
        let ws = Ws::new();
        scenario(ws.path(), &ws.log());
        let mut c = ws.cmd(&["audit", "export", "--otlp", &url]);
        c.env_remove("WARDEN_CA_FILE");
        if let Some(ca) = ca {
            c.env("WARDEN_CA_FILE", ca);
        }
        let out = c.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "exported to an untrusted collector"
        );
        assert!(
            !ws.path()
                .join(".warden/audit/audit.jsonl.otlp-cursor")
                .exists()
        );
    }
    assert!(rx.requests().is_empty(), "an untrusted export arrived");
    let ws = Ws::new();
    scenario(ws.path(), &ws.log());
    let out = ws
        .cmd(&["audit", "export", "--otlp", &url])
        .env("WARDEN_CA_FILE", &pki.ca)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("exported 11 records"), "{stdout}");
    let reqs = rx.requests();
    assert!(reqs.iter().all(|r| r.get("error").is_none()), "{reqs:#?}");
    check_export(&reqs, &ws.log());
}
