//! The audit log through the `warden audit` command line: keys, checkpoints, verification, and
//! adversarial edits (edit, delete, reorder, truncate, forge) that `verify` must catch, naming
//! the record; plus a crash test that SIGKILLs concurrent writers at random moments.

mod audit_support;

use audit_support::*;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};
use warden_audit::canonical::{encode, record_hash};

/// A log of 20 intent/outcome pairs from 2 writers, a signing key and a saved checkpoint.
fn setup() -> (Ws, String, std::path::PathBuf) {
    let ws = Ws::new();
    let (code, pubkey, err) = ws.run(&["audit", "keygen", "--name", "test-log"]);
    assert_eq!(code, 0, "{err}");
    let key = ws.home.path().join(".config/warden/audit.key");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let (code, _, err) = ws.run(&["audit", "__stress", "--count", "10", "--writers", "2"]);
    assert_eq!(code, 0, "{err}");
    let cp = ws.home.path().join("saved-checkpoint");
    let (code, note, err) = ws.run(&["audit", "checkpoint", "--out", cp.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(note.starts_with("warden/"), "{note}");
    assert!(
        note.contains("\n41\n"),
        "checkpoint covers the 41 records before it (the log's first, a seal declaring it anchored, and 40 written): {note}"
    );
    assert!(note.contains("\n\n\u{2014} test-log "), "{note}");
    (ws, pubkey.trim().to_owned(), cp)
}

fn verify(ws: &Ws, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["audit", "verify"];
    args.extend_from_slice(extra);
    let (code, out, err) = ws.run(&args);
    (code, format!("{out}{err}"))
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(p: &Path, l: &[String]) {
    std::fs::write(p, l.iter().map(|x| format!("{x}\n")).collect::<String>()).unwrap();
}

/// Rewrite the log's lines with `edit`, as an attacker with write access to the file would.
fn tamper(ws: &Ws, edit: impl FnOnce(&mut Vec<String>)) {
    let mut l = lines(&ws.log());
    edit(&mut l);
    write_lines(&ws.log(), &l);
}

/// Change the JSON record on line `idx` (0-based) with `edit`, leaving its hash as it was.
fn edit_record(l: &mut [String], idx: usize, edit: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&l[idx]).unwrap();
    edit(&mut v);
    l[idx] = v.to_string();
}

/// `warden audit verify EXTRA` must fail (exit 1) and its report must contain `names`.
fn assert_verify_fails_naming(ws: &Ws, extra: &[&str], names: &str) {
    let (code, out) = verify(ws, extra);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(names), "{out}");
}

/// Re-chain every record from `from` (0-based) on, fixing references to re-hashed intents:
/// what a forger without the key would do.
fn rechain(l: &mut [String], from: usize) {
    let mut renamed = std::collections::HashMap::<String, String>::new();
    let mut prev = if from == 0 {
        "0".repeat(64)
    } else {
        serde_json::from_str::<Value>(&l[from - 1]).unwrap()["hash"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for (i, line) in l.iter_mut().enumerate().skip(from) {
        let mut v: Value = serde_json::from_str(line).unwrap();
        let old = v["hash"].as_str().unwrap().to_owned();
        v["seq"] = (i as u64 + 1).into();
        v["prev"] = prev.clone().into();
        if let Some(new) = v
            .get("intent_hash")
            .and_then(Value::as_str)
            .and_then(|h| renamed.get(h))
        {
            v["intent_hash"] = new.clone().into();
        }
        let h = hex::encode(record_hash(&v).unwrap());
        renamed.insert(old, h.clone());
        v["hash"] = h.clone().into();
        *line = String::from_utf8(encode(&v).unwrap()).unwrap();
        prev = h;
    }
}

#[test]
fn an_untouched_log_verifies_with_key_and_saved_checkpoint() {
    let (ws, key, cp) = setup();
    let (code, out) = verify(&ws, &["--key", &key, "--against", cp.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok: 42 records, 2 checkpoints"), "{out}");
    // JSON report.
    let (code, out, _) = ws.run(&["audit", "verify", "--json"]);
    assert_eq!(code, 0);
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["ok"], true);
    assert_eq!(r["records"], 42);
    // tail and show.
    let (code, out, _) = ws.run(&["audit", "tail", "-n", "3"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.contains("checkpoint"), "{out}");
    let (code, out, _) = ws.run(&["audit", "tail", "-n", "2", "--json"]);
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok())
    );
    // Record 1 is the seal that declares the log anchored; record 2 the first intent.
    let (code, out, _) = ws.run(&["audit", "show", "1"]);
    assert_eq!(code, 0);
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (&r["kind"], &r["seal"], &r["size"]),
        (&"checkpoint".into(), &true.into(), &0.into())
    );
    let (code, out, _) = ws.run(&["audit", "show", "2"]);
    assert_eq!(code, 0);
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["kind"], "intent");
    assert_eq!(r["tier"], "auto");
    assert!(r["policy_digest"].as_str().unwrap().starts_with("sha256:"));
    let (code, _, _) = ws.run(&["audit", "show", "999"]);
    assert_eq!(code, 2);
    // keygen refuses to put the key in the workspace, and to overwrite.
    let inside = ws.path().join("k");
    let (code, _, err) = ws.run(&["audit", "keygen", "--out", inside.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = ws.run(&["audit", "keygen"]);
    assert_eq!(code, 2);
}

#[test]
fn inclusion_proofs_verify_against_a_saved_checkpoint() {
    let (ws, _, cp) = setup();
    let saved = warden_audit::Checkpoint::parse(&std::fs::read_to_string(&cp).unwrap()).unwrap();
    // More records after the checkpoint; the proof is for the checkpoint's tree size.
    assert_eq!(ws.run(&["audit", "__stress", "--count", "3"]).0, 0);
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    for seq in [1u64, 17, 40] {
        let (code, out, err) = ws.run(&[
            "audit",
            "proof",
            &seq.to_string(),
            "--size",
            &saved.size.to_string(),
        ]);
        assert_eq!(code, 0, "{err}");
        let p: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(p["root"].as_str().unwrap(), b64.encode(saved.root));
        let leaf = warden_audit::merkle::leaf_hash(
            &hex::decode(p["record_hash"].as_str().unwrap()).unwrap(),
        );
        let path: Vec<[u8; 32]> = p["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| b64.decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
            .collect();
        assert!(warden_audit::merkle::verify_inclusion(
            &leaf,
            seq - 1,
            saved.size,
            &path,
            &saved.root
        ));
        // The record the proof names is the one in the log.
        let (_, shown, _) = ws.run(&["audit", "show", &seq.to_string()]);
        let r: Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(r["hash"], p["record_hash"]);
    }
    // Beyond the tree: bad input.
    assert_eq!(ws.run(&["audit", "proof", "42", "--size", "41"]).0, 2);
}

#[test]
fn an_edited_record_is_named() {
    let (ws, _, _) = setup();
    tamper(&ws, |l| {
        edit_record(l, 4, |v| {
            v["ts_ns"] = (v["ts_ns"].as_u64().unwrap() - 1).into()
        });
    });
    assert_verify_fails_naming(&ws, &[], "record 5 (line 5): hash does not match");
}

#[test]
fn an_edited_record_with_a_recomputed_hash_breaks_the_chain_at_the_next() {
    let (ws, _, _) = setup();
    tamper(&ws, |l| {
        edit_record(l, 4, |v| {
            v["tier"] = "deny".into();
            v["hash"] = hex::encode(record_hash(v).unwrap()).into();
        });
    });
    assert_verify_fails_naming(&ws, &[], "record 6 (line 6): prev does not match");
}

#[test]
fn a_fully_rechained_forgery_is_caught_by_checkpoints_and_signatures() {
    let (ws, key, cp) = setup();
    let mut l = lines(&ws.log());
    // Turn a failure into a success: outcomes are named by nothing, so only hashes change.
    let idx = l
        .iter()
        .position(|x| x.contains("\"kind\":\"outcome\""))
        .unwrap();
    edit_record(&mut l, idx, |v| v["exit_code"] = 1.into());
    rechain(&mut l, idx);
    write_lines(&ws.log(), &l);
    // The chain is now self-consistent, but the in-log checkpoint's root is not.
    assert_verify_fails_naming(
        &ws,
        &[],
        "record 42 (line 42): checkpoint root does not match",
    );
    // The forger also recomputes the checkpoint's root and note body, but cannot re-sign.
    let leaves: Vec<[u8; 32]> = l[..41]
        .iter()
        .map(|x| {
            let v: Value = serde_json::from_str(x).unwrap();
            warden_audit::merkle::leaf_hash(&hex::decode(v["hash"].as_str().unwrap()).unwrap())
        })
        .collect();
    let root = warden_audit::merkle::root(&leaves);
    let mut c: Value = serde_json::from_str(&l[41]).unwrap();
    let old_root = c["root"].as_str().unwrap().to_owned();
    use base64::Engine as _;
    let new_root = base64::engine::general_purpose::STANDARD.encode(root);
    c["root"] = new_root.clone().into();
    c["note"] = c["note"]
        .as_str()
        .unwrap()
        .replace(&old_root, &new_root)
        .into();
    l[41] = c.to_string();
    rechain(&mut l, 41);
    write_lines(&ws.log(), &l);
    let (code, out) = verify(&ws, &["--no-anchor"]);
    assert_eq!(
        code, 0,
        "without a key or the head anchor the forgery is self-consistent: {out}"
    );
    // The head anchor `audit checkpoint` moved holds the true root.
    assert_verify_fails_naming(
        &ws,
        &[],
        "log rewritten: records 1..=42 no longer match the root of the sealed head",
    );
    assert_verify_fails_naming(
        &ws,
        &["--key", &key],
        "record 42 (line 42): checkpoint signature does not verify",
    );
    assert_verify_fails_naming(
        &ws,
        &["--against", cp.to_str().unwrap()],
        "log rewritten: records 1..=41",
    );
}

#[test]
fn a_deleted_record_is_named() {
    let (ws, _, _) = setup();
    tamper(&ws, |l| {
        l.remove(9);
    });
    assert_verify_fails_naming(
        &ws,
        &[],
        "record 11 (line 10): sequence number 11 where 10 was expected",
    );
}

#[test]
fn reordered_records_are_named() {
    let (ws, _, _) = setup();
    tamper(&ws, |l| l.swap(9, 10));
    assert_verify_fails_naming(
        &ws,
        &[],
        "record 11 (line 10): sequence number 11 where 10 was expected",
    );
}

#[test]
fn a_truncated_log_is_caught_by_the_saved_checkpoint() {
    let (ws, key, cp) = setup();
    tamper(&ws, |l| l.truncate(35));
    // The remaining chain is intact: only a checkpoint kept outside the log can tell — the saved
    // one, or the head anchor that `audit checkpoint` (a seal) moved.
    assert_eq!(verify(&ws, &["--no-anchor"]).0, 0);
    assert_verify_fails_naming(&ws, &[], "log truncated: the sealed head (anchor ");
    assert_verify_fails_naming(
        &ws,
        &["--key", &key, "--against", cp.to_str().unwrap()],
        "log truncated: the saved checkpoint covers 41 records but the log has 35 (records 36..=41 missing)",
    );
}

#[test]
fn forged_checkpoints_are_rejected() {
    let (ws, key, cp) = setup();
    // A checkpoint appended by someone with another key.
    let other_home = tempfile::tempdir().unwrap();
    let out = ws
        .cmd(&["audit", "keygen", "--name", "test-log"])
        .env("HOME", other_home.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = ws
        .cmd(&["audit", "checkpoint"])
        .env("HOME", other_home.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let forged_note = String::from_utf8(out.stdout).unwrap();
    assert_verify_fails_naming(
        &ws,
        &["--key", &key],
        "record 43 (line 43): checkpoint signature does not verify",
    );
    // A saved checkpoint forged with another key, or with its size edited after signing.
    let forged = ws.home.path().join("forged");
    std::fs::write(&forged, &forged_note).unwrap();
    let against_forged = ["--key", &key, "--against", forged.to_str().unwrap()];
    assert_verify_fails_naming(
        &ws,
        &against_forged,
        "saved checkpoint's signature does not verify",
    );
    let edited = std::fs::read_to_string(&cp)
        .unwrap()
        .replacen("\n41\n", "\n40\n", 1);
    std::fs::write(&forged, edited).unwrap();
    let (code, out) = verify(&ws, &against_forged);
    assert_eq!(code, 1, "{out}");
}

#[test]
fn an_outcome_whose_intent_was_removed_is_named() {
    let (ws, _, _) = setup();
    let mut intent_seq = 0;
    tamper(&ws, |l| {
        let idx = l
            .iter()
            .position(|x| x.contains("\"kind\":\"intent\""))
            .unwrap();
        intent_seq = idx + 1;
        l.remove(idx);
        rechain(l, idx);
        // Drop the checkpoint too, as a forger would.
        l.pop();
    });
    assert_verify_fails_naming(
        &ws,
        &[],
        &format!("names intent {intent_seq} which does not precede it"),
    );
}

#[test]
fn a_torn_tail_is_truncated_on_open_and_recorded() {
    let (ws, _, _) = setup();
    let before = std::fs::read(ws.log()).unwrap();
    let mut torn = before.clone();
    torn.extend_from_slice(b"{\"seq\":43,\"kind\":\"intent\",\"action\":{\"ar");
    std::fs::write(ws.log(), &torn).unwrap();
    assert_verify_fails_naming(&ws, &[], "torn final line");
    let (code, out, err) = ws.run(&["audit", "recover"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("truncated"), "{out}");
    let l = lines(&ws.log());
    let last: Value = serde_json::from_str(l.last().unwrap()).unwrap();
    assert_eq!(last["kind"], "recovery");
    assert_eq!(last["seq"], 43);
    assert_eq!(last["truncated_bytes"], 39);
    assert_eq!(verify(&ws, &[]).0, 0);
}

#[test]
fn intents_without_outcome_are_reported_as_outcome_unknown() {
    let ws = Ws::new();
    let log = warden_audit::AuditLog::open(&ws.log(), Default::default()).unwrap();
    let mut body = serde_json::Map::new();
    body.insert("tool".into(), "Bash".into());
    log.append("intent", body).unwrap();
    let (code, out) = verify(&ws, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("record 1: intent (Bash) has no outcome: outcome unknown"),
        "{out}"
    );
    let (_, out, _) = ws.run(&["audit", "tail"]);
    assert!(out.contains("[outcome unknown]"), "{out}");
}

/// Writers (3 processes × 4 threads) SIGKILLed at random moments, many times, with torn
/// writes injected; after recovery the log verifies and no outcome lacks its intent. Runs
/// ~20 s by default; `WARDEN_AUDIT_CRASH_SECS` sets the duration (hundreds of kills at 120).
#[test]
fn sigkilled_writers_leave_a_verifiable_log() {
    let secs: u64 = std::env::var("WARDEN_AUDIT_CRASH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let ws = Ws::new();
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let deadline = Instant::now() + Duration::from_secs(secs);
    // Three writer processes (4 threads each) on one log, each SIGKILLed at a random moment
    // up to 0.4 s after it started writing, and replaced at once.
    let kills = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let slots: Vec<_> = (0..3u64)
        .map(|i| {
            let kills = std::sync::Arc::clone(&kills);
            let mut cmd = ws.cmd(&["audit", "__stress", "--count", "0", "--writers", "4"]);
            cmd.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null());
            let mut r = rand() ^ (i << 32);
            std::thread::spawn(move || {
                while Instant::now() < deadline {
                    let mut child = cmd.spawn().unwrap();
                    let mut line = String::new();
                    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
                    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
                    assert_eq!(line.trim(), "ready");
                    r ^= r << 13;
                    r ^= r >> 7;
                    r ^= r << 17;
                    std::thread::sleep(Duration::from_micros(r % 400_000));
                    child.kill().unwrap(); // SIGKILL
                    child.wait().unwrap();
                    kills.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Meanwhile a crash can also tear a write (power loss): inject torn lines now and then,
    // while the writers keep going; the next append must repair them.
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(700));
        if ws.log().exists() {
            // Under the log's lock, as the crashed writer would have held it.
            let st = std::process::Command::new("flock")
                .arg(ws.log())
                .args([
                    "sh",
                    "-c",
                    "printf '%s' '{\"seq\":1,\"kind\":\"outc' >> \"$0\"",
                ])
                .arg(ws.log())
                .status()
                .unwrap();
            assert!(st.success());
        }
    }
    for s in slots {
        s.join().unwrap();
    }
    let kills = kills.load(std::sync::atomic::Ordering::Relaxed);
    let (code, _, err) = ws.run(&["audit", "recover"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = ws.run(&["audit", "verify", "--json"]);
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(code, 0, "after {kills} kills: {r:#}");
    assert!(kills >= 20, "only {kills} kills");
    let recovered = warden_audit::log::read_records(&ws.log())
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "recovery")
        .count();
    assert!(recovered >= 1, "no torn write was repaired");
    let records = r["records"].as_u64().unwrap();
    assert!(records > 100, "the writers wrote too little: {records}");
    // Unknown outcomes are possible (killed between intent and outcome) but bounded by the
    // number of writer threads killed.
    assert!(r["outcome_unknown"].as_array().unwrap().len() as u32 <= kills * 4);
    eprintln!(
        "{kills} kills, {records} records, {} outcome unknown",
        r["outcome_unknown"].as_array().unwrap().len()
    );
}

// The head anchor: every `warden run` seals the log (a checkpoint, and its note kept under
// `~/.config/warden/heads/`), so records cut off the log's end no longer go unnoticed.

/// `warden run -- true` in `ws`, `n` times.
fn runs(ws: &Ws, n: usize) {
    for _ in 0..n {
        let (code, _, err) = ws.run(&["run", "--", "true"]);
        assert_eq!(code, 0, "{err}");
    }
}

/// Cut the log to its first `keep` records and remove its `.sync` mark, as an attacker with
/// write access to the workspace's `.warden/audit/` would.
fn cut(ws: &Ws, keep: usize) {
    tamper(ws, |l| l.truncate(keep));
    let mut sync = ws.log().into_os_string();
    sync.push(".sync");
    std::fs::remove_file(sync).unwrap();
}

#[test]
fn an_untouched_log_after_runs_verifies_with_nothing_after_its_last_checkpoint() {
    let ws = Ws::new();
    runs(&ws, 2);
    // The seal declaring the new log anchored; then intent, outcome, seal; twice.
    assert_eq!(lines(&ws.log()).len(), 7);
    let (code, out) = verify(&ws, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("ok: 7 records, 3 checkpoints, 0 after the last checkpoint"),
        "{out}"
    );
    assert!(
        out.contains("head anchored: the log extends its sealed head of 7 records"),
        "{out}"
    );
    let (code, out, _) = ws.run(&["audit", "verify", "--json"]);
    assert_eq!(code, 0, "{out}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["after_last_checkpoint"], 0, "{r}");
    assert_eq!(r["anchored"], 7, "{r}");
    // The seal is a checkpoint record marked as such, signed when a key exists (none here).
    let last: Value = serde_json::from_str(lines(&ws.log()).last().unwrap()).unwrap();
    assert_eq!(last["kind"], "checkpoint");
    assert_eq!(last["seal"], true);
    assert_eq!(last["size"], 6);
}

#[test]
fn records_cut_off_after_a_run_are_named() {
    // Before: no checkpoint until the 1000th record, so the intent alone was a valid log:
    // `verify` passed (reporting only an unknown outcome) with the outcome cut off.
    let ws = Ws::new();
    runs(&ws, 1);
    // (The declaring seal and the intent.)
    cut(&ws, 2);
    assert_verify_fails_naming(&ws, &[], "log truncated: the sealed head (anchor ");
    assert_verify_fails_naming(
        &ws,
        &[],
        "covers 4 records but the log has 2 (records 3..=4 missing)",
    );
}

#[test]
fn whole_runs_cut_off_after_several_runs_are_named() {
    // Before: cutting at a run boundary left a log that verified with nothing to report.
    let ws = Ws::new();
    runs(&ws, 3);
    cut(&ws, 7);
    assert_verify_fails_naming(
        &ws,
        &[],
        "covers 10 records but the log has 7 (records 8..=10 missing)",
    );
    // A saved copy of the anchor checks the same; without any anchor the cut goes unseen.
    assert_eq!(verify(&ws, &["--no-anchor"]).0, 0);
}

#[test]
fn a_removed_anchor_of_a_sealed_log_is_named() {
    // Before: there was no anchor; the cut log verified.
    let ws = Ws::new();
    runs(&ws, 2);
    cut(&ws, 4);
    let heads = ws.home.path().join(".config/warden/heads");
    for e in std::fs::read_dir(&heads).unwrap() {
        std::fs::remove_file(e.unwrap().path()).unwrap();
    }
    assert_verify_fails_naming(
        &ws,
        &[],
        "the log was sealed (record 4) but its head anchor",
    );
}

#[test]
fn a_log_cut_before_its_first_run_sealed_without_its_anchor_is_named() {
    // Before: the first seal came at the end of the first run, so the log cut to the first
    // run's intent (the run killed before its seal, or the outcome cut off) with the anchor file
    // deleted held no seal and had no anchor: it verified. Now the log's first record is a seal
    // declaring it anchored.
    let ws = Ws::new();
    runs(&ws, 1);
    cut(&ws, 2);
    let heads = ws.home.path().join(".config/warden/heads");
    for e in std::fs::read_dir(&heads).unwrap() {
        std::fs::remove_file(e.unwrap().path()).unwrap();
    }
    assert_verify_fails_naming(
        &ws,
        &[],
        "the log was sealed (record 1) but its head anchor",
    );
}

#[test]
fn a_rewritten_record_after_runs_is_named() {
    // Before: an edited record was named by its hash (still is); a forger who re-chained the
    // records and recomputed the unsigned checkpoints got a log that verified.
    let ws = Ws::new();
    runs(&ws, 2);
    // Record 3 (line 3) is the first run's outcome (record 1 declares the log anchored).
    let pristine = lines(&ws.log());
    tamper(&ws, |l| edit_record(l, 2, |v| v["exit_code"] = 1.into()));
    assert_verify_fails_naming(
        &ws,
        &[],
        "record 3 (line 3): hash does not match the record's content (record edited)",
    );
    // The full forgery: outcome rewritten, chain and (unsigned) checkpoints recomputed.
    write_lines(&ws.log(), &pristine);
    tamper(&ws, |l| {
        edit_record(l, 2, |v| v["exit_code"] = 1.into());
        for i in 1..l.len() {
            rechain(l, i);
            let v: Value = serde_json::from_str(&l[i]).unwrap();
            if v["kind"] == "checkpoint" {
                let size = v["size"].as_u64().unwrap() as usize;
                let leaves: Vec<_> = l[..size]
                    .iter()
                    .map(|x| {
                        let r: Value = serde_json::from_str(x).unwrap();
                        let h = hex::decode(r["hash"].as_str().unwrap()).unwrap();
                        warden_audit::merkle::leaf_hash(&h)
                    })
                    .collect();
                let root = warden_audit::merkle::root(&leaves);
                let cp = warden_audit::Checkpoint {
                    origin: v["origin"].as_str().unwrap().to_owned(),
                    size: size as u64,
                    root,
                };
                edit_record(l, i, |v| {
                    use base64::Engine as _;
                    v["note"] = cp.body().into();
                    v["root"] = base64::engine::general_purpose::STANDARD
                        .encode(root)
                        .into();
                });
                rechain(l, i);
            }
        }
    });
    // The log alone holds together now.
    assert_eq!(
        verify(&ws, &["--no-anchor"]).0,
        0,
        "{}",
        verify(&ws, &["--no-anchor"]).1
    );
    assert_verify_fails_naming(
        &ws,
        &[],
        "log rewritten: records 1..=7 no longer match the root of the sealed head",
    );
}

/// Logs written by the record format before typed records (`tests/data/audit-v1/`, made with
/// the `warden` of commit 1a02414: runs that ran, were denied, deferred, unavailable, approved
/// through a server and run by its worker, a network denial and a signed checkpoint; and that
/// server's own log) still verify with their key, and `warden report` still reads them the same.
#[test]
fn logs_of_the_previous_record_format_still_verify_and_report() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/audit-v1");
    let ws = Ws::new();
    let key = data.join("verifier.pub");
    for (log, records) in [("workspace.jsonl", 27), ("server.jsonl", 13)] {
        // A copy: verify may write nothing, but the fixture must never be the file under test.
        let copy = ws.path().join(log);
        std::fs::copy(data.join(log), &copy).unwrap();
        let (code, out, err) = ws.run(&[
            "audit",
            "verify",
            "--json",
            "--log",
            copy.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{log}: {out}{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["records"], records, "{log}: {v}");
        // Every line reads as a typed record.
        let typed = warden_audit::read_entries(&copy).unwrap();
        assert_eq!(typed.len(), records, "{log}: {typed:#?}");
    }
    let copy = ws.path().join("workspace.jsonl");
    let (code, out, err) = ws.run(&["report", "--json", "--log", copy.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["actions"], 9, "{v}");
    let o = &v["outcomes"];
    assert_eq!(
        (&o["succeeded"], &o["denied"], &o["deferred"]),
        (&6.into(), &2.into(), &1.into()),
        "{v}"
    );
    let a = &v["approvals"];
    assert_eq!(
        (&a["requested"], &a["granted"], &a["unavailable"]),
        (&4.into(), &2.into(), &1.into()),
        "{v}"
    );
    assert_eq!(v["network"][0]["host"], "blocked.invalid", "{v}");
    assert_eq!(v["network"][0]["denied"], 1, "{v}");
}
