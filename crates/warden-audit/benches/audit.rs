//! Benchmarks of the write-ahead log, reported in one run with their ratios:
//!
//! 1. one durable append (group commit machinery, canonical encoding, hashing, redaction,
//!    `write` + `fdatasync` under `flock`) against a bare `write` + `fdatasync` of the same
//!    bytes (target ≤ 1.2×);
//! 2. records per second with 1, 8 and 64 concurrent writer threads sharing one log with
//!    group commit (target ≥ 50,000/s at 64).
//!
//! Run: `cargo bench -p warden-audit --bench audit` (or `bench/audit.sh`). `AUDIT_BENCH_DIR`
//! picks the directory (default: a temporary directory; put it on the disk you care about),
//! `AUDIT_BENCH_SECS` the seconds per concurrency level (default 3).

use serde_json::{Map, Value};
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use warden_audit::{AuditLog, LogOptions};

fn body(i: u64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("tool".into(), "Bash".into());
    m.insert("tier".into(), "auto".into());
    m.insert("rule".into(), "build.tools".into());
    m.insert(
        "action".into(),
        serde_json::json!({"kind": "exec", "argv": ["cargo", "test", format!("case-{i}")]}),
    );
    m.insert(
        "reasons".into(),
        serde_json::json!(["cargo test: builds or tests locally [build.tools]"]),
    );
    m
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and wants speed.
    let quick = !std::env::args().any(|a| a == "--bench");
    let base = std::env::var_os("AUDIT_BENCH_DIR").map(std::path::PathBuf::from);
    let dir = match &base {
        Some(b) => tempfile::tempdir_in(b).expect("AUDIT_BENCH_DIR must exist"),
        None => tempfile::tempdir().expect("temporary directory"),
    };
    let secs: u64 = std::env::var("AUDIT_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let rounds = if quick { 20 } else { 300 };

    // 1. Single durable append vs bare write + fdatasync, interleaved to share disk noise.
    let log = AuditLog::open(&dir.path().join("single.jsonl"), LogOptions::default()).unwrap();
    let bare_path = dir.path().join("bare.jsonl");
    let mut bare = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&bare_path)
        .unwrap();
    let mut t_log = Vec::with_capacity(rounds);
    let mut t_bare = Vec::with_capacity(rounds);
    for i in 0..rounds as u64 {
        let t = Instant::now();
        log.append("intent", body(i)).unwrap();
        t_log.push(t.elapsed());
        // The same bytes as the record just written.
        let line = std::fs::read(log.path()).unwrap();
        let last = line[..line.len() - 1]
            .rsplit(|b| *b == b'\n')
            .next()
            .unwrap()
            .to_vec();
        let t = Instant::now();
        bare.write_all(&last).unwrap();
        bare.write_all(b"\n").unwrap();
        bare.sync_data().unwrap();
        t_bare.push(t.elapsed());
    }
    let (ml, mb) = (median(t_log), median(t_bare));
    println!("single append, median of {rounds}:");
    println!(
        "  bare write+fdatasync : {:>9.1} µs",
        mb.as_secs_f64() * 1e6
    );
    println!(
        "  durable log append   : {:>9.1} µs",
        ml.as_secs_f64() * 1e6
    );
    println!(
        "  ratio                : {:>9.3}x (target <= 1.2x)",
        ml.as_secs_f64() / mb.as_secs_f64()
    );

    // 2. Throughput with concurrent writers (group commit).
    println!("concurrent writers, {secs} s each (one log, group commit):");
    let mut one = 0.0;
    for writers in [1usize, 8, 64] {
        let log = Arc::new(
            AuditLog::open(
                &dir.path().join(format!("w{writers}.jsonl")),
                LogOptions::default(),
            )
            .unwrap(),
        );
        let dur = if quick {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(secs)
        };
        let start = Instant::now();
        let until = start + dur;
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    while Instant::now() < until {
                        log.append("intent", body(w as u64 * 1_000_000 + n))
                            .unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        let rate = total as f64 / start.elapsed().as_secs_f64();
        if writers == 1 {
            one = rate;
        }
        let (syncs, synced) = log.commit_stats();
        println!(
            "  {writers:>2} writers: {rate:>10.0} records/s  ({:.1}x of 1 writer; {:.1} records per fdatasync){}",
            rate / one,
            synced as f64 / syncs.max(1) as f64,
            if writers == 64 {
                "  (target >= 50000/s)"
            } else {
                ""
            }
        );
        let report = warden_audit::verify(log.path(), &Default::default()).unwrap();
        assert!(report.ok, "benchmark log does not verify");
    }
}
