//! Benchmarks of the write-ahead log, reported in one run with their ratios:
//!
//! 1. one durable append (group commit machinery, canonical encoding, hashing, redaction,
//!    `write` + `fdatasync` under `flock`) against a bare `write` + `fdatasync` of the same
//!    bytes (target ≤ 1.2×);
//! 2. records per second with 1, 8 and 64 concurrent writers sharing one log with group commit
//!    (target ≥ 50,000/s at 64), both as threads of one process sharing one handle and as
//!    separate processes (each its own handle; the file lock orders them), since many agents
//!    on one machine are many `warden` processes.
//!
//! Run: `cargo bench -p warden-audit --bench audit` (or `bench/audit.sh`). `AUDIT_BENCH_DIR`
//! picks the directory (default: a temporary directory; put it on the disk you care about),
//! `AUDIT_BENCH_SECS` the seconds per concurrency level (default 3), `AUDIT_BENCH_MODES`
//! (`threads,processes`) and `AUDIT_BENCH_LEVELS` (`1,8,64`) what runs, and
//! `AUDIT_BENCH_RECORDS` a fixed count of records per writer instead of a time (for
//! instruction counts under callgrind).

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
    if let Some(path) = std::env::var_os("AUDIT_BENCH_CHILD") {
        return child(std::path::Path::new(&path));
    }
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

    // 2. Throughput with concurrent writers (group commit), as threads sharing one handle and
    // as processes sharing the file (each with its own handle and the file lock).
    println!("concurrent writers, {secs} s each (one log, group commit):");
    let dur = if quick {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(secs)
    };
    let modes = std::env::var("AUDIT_BENCH_MODES").unwrap_or_else(|_| "threads,processes".into());
    let levels: Vec<usize> = std::env::var("AUDIT_BENCH_LEVELS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 8, 64]);
    for mode in modes.split(',').map(str::trim) {
        let mut one = 0.0;
        for &writers in &levels {
            let path = dir.path().join(format!("{mode}-{writers}.jsonl"));
            let (total, secs_taken, syncs, synced) = match mode {
                "threads" => run_threads(&path, writers, dur),
                "processes" => run_processes(&path, writers, dur),
                other => panic!("AUDIT_BENCH_MODES: unknown mode {other:?}"),
            };
            let rate = total as f64 / secs_taken;
            if one == 0.0 {
                one = rate;
            }
            println!(
                "  {writers:>2} writer {mode:<9}: {rate:>10.0} records/s  ({:.1}x of {}; {:.1} records per fdatasync){}",
                rate / one,
                levels[0],
                synced as f64 / syncs.max(1) as f64,
                if writers == 64 {
                    "  (target >= 50000/s)"
                } else {
                    ""
                }
            );
            let report = warden_audit::verify(&path, &Default::default()).unwrap();
            assert!(
                report.ok,
                "benchmark log does not verify: {:?}",
                report.problems
            );
            assert_eq!(
                report.records, total,
                "records missing from the benchmark log"
            );
        }
    }
}

/// Records each writer appends instead of running for a time (`AUDIT_BENCH_RECORDS`): for
/// instruction counts under callgrind, where time runs differently.
fn fixed_records() -> Option<u64> {
    std::env::var("AUDIT_BENCH_RECORDS")
        .ok()
        .and_then(|s| s.parse().ok())
}

/// Append until `until` (or a fixed count); returns the records appended.
fn writer_loop(log: &AuditLog, id: u64, until: Instant) -> u64 {
    let mut n = 0u64;
    match fixed_records() {
        Some(count) => {
            while n < count {
                log.append("intent", body(id * 1_000_000 + n)).unwrap();
                n += 1;
            }
        }
        None => {
            while Instant::now() < until {
                log.append("intent", body(id * 1_000_000 + n)).unwrap();
                n += 1;
            }
        }
    }
    n
}

/// `writers` threads sharing one handle: (records, seconds, fdatasyncs, records they synced).
fn run_threads(path: &std::path::Path, writers: usize, dur: Duration) -> (u64, f64, u64, u64) {
    let log = Arc::new(AuditLog::open(path, LogOptions::default()).unwrap());
    let start = Instant::now();
    let until = start + dur;
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || writer_loop(&log, w as u64, until))
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let secs = start.elapsed().as_secs_f64();
    let (syncs, synced) = log.commit_stats();
    (total, secs, syncs, synced)
}

fn unix_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// `writers` processes (this executable again, see [`child`]) each opening the log: they all
/// start and stop at the same wall-clock instants, so that process start-up is not measured.
fn run_processes(path: &std::path::Path, writers: usize, dur: Duration) -> (u64, f64, u64, u64) {
    let exe = std::env::current_exe().unwrap();
    let start = unix_ns() + 300_000_000 + writers as u128 * 20_000_000;
    let end = start + dur.as_nanos();
    let children: Vec<_> = (0..writers)
        .map(|w| {
            std::process::Command::new(&exe)
                .env("AUDIT_BENCH_CHILD", path)
                .env("AUDIT_BENCH_CHILD_ID", w.to_string())
                .env("AUDIT_BENCH_START_NS", start.to_string())
                .env("AUDIT_BENCH_END_NS", end.to_string())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let (mut total, mut syncs, mut synced, mut last_end) = (0u64, 0u64, 0u64, end);
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "benchmark writer process failed");
        let text = String::from_utf8(out.stdout).unwrap();
        let f: Vec<u128> = text
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        total += f[0] as u64;
        syncs += f[1] as u64;
        synced += f[2] as u64;
        last_end = last_end.max(f[3]);
    }
    assert!(
        unix_ns() > start,
        "writer processes took longer to start than allowed for"
    );
    (total, (last_end - start) as f64 / 1e9, syncs, synced)
}

/// A writer process: open the log, wait for the start instant, append until the end instant,
/// print `records fdatasyncs synced-records end-ns`.
fn child(path: &std::path::Path) {
    let num = |k: &str| -> u128 { std::env::var(k).unwrap().parse().unwrap() };
    let (id, start, end) = (
        num("AUDIT_BENCH_CHILD_ID") as u64,
        num("AUDIT_BENCH_START_NS"),
        num("AUDIT_BENCH_END_NS"),
    );
    let log = AuditLog::open(path, LogOptions::default()).unwrap();
    let now = unix_ns();
    assert!(
        now < start,
        "writer process started after the start instant"
    );
    std::thread::sleep(Duration::from_nanos((start - now) as u64));
    let until = Instant::now() + Duration::from_nanos((end - start) as u64);
    let n = writer_loop(&log, id, until);
    let (syncs, synced) = log.commit_stats();
    println!("{n} {syncs} {synced} {}", unix_ns());
}
