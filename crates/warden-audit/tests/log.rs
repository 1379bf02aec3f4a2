//! The log under concurrency (threads sharing one handle, and several handles = separate open
//! file descriptions, as separate processes have), checkpoints every N records, and redaction
//! of what an intent record carries.

use serde_json::{Map, Value, json};
use std::sync::Arc;
use warden_audit::{AuditLog, LogOptions, NoteSigner, NoteVerifier, VerifyOptions, verify};

fn body(i: u64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("n".into(), i.into());
    m
}

#[test]
fn concurrent_writers_on_several_handles_keep_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/audit.jsonl");
    let signer = NoteSigner::generate("t").unwrap();
    let vkey = NoteVerifier::parse(&signer.verifier_text()).unwrap();
    let opts = |s: Option<NoteSigner>| LogOptions {
        checkpoint_every: 50,
        signer: s,
        origin: "o".into(),
        anchor: None,
    };
    let a = Arc::new(AuditLog::open(&path, opts(Some(signer))).unwrap());
    let b = Arc::new(AuditLog::open(&path, opts(None)).unwrap());
    let mut threads = Vec::new();
    for t in 0..16u64 {
        let log = if t % 2 == 0 {
            Arc::clone(&a)
        } else {
            Arc::clone(&b)
        };
        threads.push(std::thread::spawn(move || {
            (0..40)
                .map(|i| log.append("test", body(t * 1000 + i)).unwrap().seq)
                .collect::<Vec<_>>()
        }));
    }
    let mut seqs: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    seqs.sort_unstable();
    let before = seqs.len();
    seqs.dedup();
    assert_eq!(
        seqs.len(),
        before,
        "two records got the same sequence number"
    );
    let records = warden_audit::log::read_records(&path).unwrap();
    assert_eq!(records.iter().filter(|r| r["kind"] == "test").count(), 640);
    let checkpoints: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "checkpoint")
        .collect();
    assert!(
        checkpoints.len() >= 10,
        "a checkpoint every 50 records: {}",
        checkpoints.len()
    );
    // Checkpoints by the unsigned handle are unsigned; the signed ones verify with the key only
    // if every checkpoint is signed, so check the chain without the key and the signed ones
    // with it.
    let report = verify(&path, &VerifyOptions::default()).unwrap();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.records, records.len() as u64);
    let signed: Vec<&&Value> = checkpoints.iter().filter(|c| c["signed"] == true).collect();
    assert!(!signed.is_empty());
    for c in signed {
        let note = c["note"].as_str().unwrap();
        let body = vkey.open(note).unwrap();
        let cp = warden_audit::Checkpoint::parse(body).unwrap();
        assert_eq!(cp.size + 1, c["seq"].as_u64().unwrap());
    }
}

#[test]
fn intent_records_are_redacted_before_they_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&path, LogOptions::default()).unwrap();
    let token = format!("glpat-{}", "x1Y2".repeat(6));
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----",
        "QUJD".repeat(16)
    );
    let action = warden_policy::Action::Shell {
        script: format!("GITLAB_TOKEN={token} glab api; mysql -uroot -phunter2 db; echo '{pem}'"),
        cwd: None,
    };
    let ctx = warden_policy::Context {
        workspace: dir.path().into(),
        cwd: dir.path().into(),
        home: "/nonexistent".into(),
        sandboxed: true,
    };
    let decision = warden_policy::Policy::builtin().classify(&action, &ctx);
    let info = warden_audit::IntentInfo {
        rationale: Some(format!("use token {token}")),
        ..Default::default()
    };
    log.append(
        "intent",
        warden_audit::records::intent_body(&action, &decision, &info),
    )
    .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    for secret in [token.as_str(), "hunter2", "QUJDQUJD"] {
        assert!(!text.contains(secret), "{secret} reached the log: {text}");
    }
    let rec: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert!(
        rec["redactions"]["gitlab-token"].as_u64().unwrap() >= 2,
        "{}",
        rec["redactions"]
    );
    assert!(rec["redactions"]["private-key"].as_u64().unwrap() >= 1);
    assert_eq!(rec["tier"], json!(decision.tier.as_str()));
    assert!(verify(&path, &VerifyOptions::default()).unwrap().ok);
}

#[test]
fn reserved_fields_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(&dir.path().join("l"), LogOptions::default()).unwrap();
    let mut m = Map::new();
    m.insert("seq".into(), 5.into());
    assert!(log.append("x", m).is_err());
    // Floats have no canonical form.
    let mut m = Map::new();
    m.insert("f".into(), json!(1.5));
    assert!(log.append("x", m).is_err());
    // The log is still usable after a refused record.
    assert_eq!(log.append("x", body(1)).unwrap().seq, 1);
}

#[test]
fn lazy_appends_skip_the_sync_and_the_next_durable_append_covers_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&path, LogOptions::default()).unwrap();
    let (syncs0, _) = log.commit_stats();
    let intent = log.append("intent", body(1)).unwrap();
    let (syncs1, _) = log.commit_stats();
    assert_eq!(syncs1, syncs0 + 1, "an intent waits for fdatasync");
    let mut outcome = body(2);
    outcome.insert("intent_seq".into(), json!(intent.seq));
    outcome.insert("intent_hash".into(), json!(intent.hash));
    log.append_lazy("outcome", outcome).unwrap();
    assert_eq!(log.commit_stats().0, syncs1, "an outcome does not");
    // The lazy record is in the file at once (it survives a crash of this process) and chained.
    let text = std::fs::read_to_string(&path).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["kind"], "outcome");
    assert_eq!(last["prev"], json!(intent.hash));
    log.append("intent", body(3)).unwrap();
    assert_eq!(log.commit_stats().0, syncs1 + 1);
    let report = verify(&path, &VerifyOptions::default()).unwrap();
    assert!(report.ok, "{:?}", report.problems);
}

/// The group commit's hand-offs (leader, syncer) under a mix of durable and lazy appends on two
/// handles: every append returns (no lost wake-up), once, with its own sequence number, and the
/// log holds exactly those records in one chain.
#[test]
fn mixed_durable_and_lazy_appends_all_return_and_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let a = Arc::new(AuditLog::open(&path, LogOptions::default()).unwrap());
    let b = Arc::new(AuditLog::open(&path, LogOptions::default()).unwrap());
    let threads: Vec<_> = (0..32u64)
        .map(|t| {
            let log = Arc::clone(if t % 2 == 0 { &a } else { &b });
            std::thread::spawn(move || {
                (0..60u64)
                    .map(|i| {
                        let n = t * 1000 + i;
                        let r = if (t + i) % 3 == 0 {
                            log.append_lazy("test", body(n))
                        } else {
                            log.append("test", body(n))
                        };
                        (r.unwrap().seq, n)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut got: Vec<(u64, u64)> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    got.sort_unstable();
    let records = warden_audit::log::read_records(&path).unwrap();
    assert_eq!(records.len(), got.len());
    for (rec, (seq, n)) in records.iter().zip(&got) {
        assert_eq!(rec["seq"].as_u64(), Some(*seq));
        assert_eq!(
            rec["n"].as_u64(),
            Some(*n),
            "record {seq} is not the one returned"
        );
    }
    let report = verify(&path, &VerifyOptions::default()).unwrap();
    assert!(report.ok, "{:?}", report.problems);
}

/// A nested decision (an exec or request inside a running action) must name an intent that
/// precedes it, like an outcome: one naming a forged intent is reported by `verify`.
#[test]
fn a_nested_record_must_name_an_intent_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&path, LogOptions::default()).unwrap();
    let action = warden_policy::Action::Exec {
        argv: vec!["make".into(), "test".into()],
        cwd: None,
    };
    let ctx = warden_policy::Context {
        workspace: dir.path().into(),
        cwd: dir.path().into(),
        home: "/nonexistent".into(),
        sandboxed: true,
    };
    let policy = warden_policy::Policy::builtin();
    let decision = policy.classify(&action, &ctx);
    let intent = log
        .append(
            "intent",
            warden_audit::records::intent_body(&action, &decision, &Default::default()),
        )
        .unwrap();
    let push = warden_policy::Action::Exec {
        argv: vec!["git".into(), "push".into()],
        cwd: None,
    };
    let nested = |hash: &str| {
        let d = policy.classify(&push, &ctx);
        warden_audit::Record::Nested(warden_audit::Nested {
            intent: warden_audit::IntentId {
                seq: intent.seq,
                hash: hash.to_owned(),
            },
            layer: warden_audit::NestedLayer::Exec,
            action: push.clone(),
            tier: d.tier,
            granted: decision.tier,
            rule: d.rule,
            category: d.category,
            reasons: d.reasons,
            answer: warden_audit::NestedAnswer::Refuse,
            held: None,
            by: None,
            ticket: None,
        })
    };
    log.append_record(nested(&intent.hash)).unwrap();
    assert!(verify(&path, &VerifyOptions::default()).unwrap().ok);
    log.append_record(nested(&"0".repeat(64))).unwrap();
    let report = verify(&path, &VerifyOptions::default()).unwrap();
    assert!(!report.ok);
    assert!(
        report.problems[0]
            .message
            .contains("nested names intent 1 which does not precede it"),
        "{:?}",
        report.problems
    );
}
