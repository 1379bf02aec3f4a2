//! Buffered appends (`[audit] nested = "buffered"`): a record returns once written and is made
//! durable within the bound by the log's background flush, without any other append; records
//! buffered together (from many threads) share `fdatasync`s; `flush` makes everything written
//! durable at once.

use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use warden_audit::{AuditLog, LogOptions};

fn body(i: u64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("n".into(), i.into());
    m
}

fn open(dir: &std::path::Path) -> Arc<AuditLog> {
    let opts = LogOptions {
        checkpoint_every: 0,
        signer: None,
        origin: "o".into(),
        anchor: None,
    };
    Arc::new(AuditLog::open(&dir.join("audit.jsonl"), opts).expect("open"))
}

/// Waits (up to a generous limit: the machine may be loaded) until `records` are durable.
fn wait_synced(log: &AuditLog, records: u64) -> Duration {
    let t0 = Instant::now();
    while log.commit_stats().1 < records {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "buffered records never became durable: {:?}",
            log.commit_stats()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    t0.elapsed()
}

#[test]
fn a_buffered_record_becomes_durable_without_another_append() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path());
    log.append_buffered("test", body(1), Duration::from_millis(50))
        .expect("append");
    wait_synced(&log, 1);
    assert_eq!(log.commit_stats().0, 1, "one flush");
    // Nothing more to flush: no further sync.
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(log.commit_stats().0, 1);
}

#[test]
fn buffered_records_of_many_threads_share_their_flushes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path());
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for i in 0..50 {
                    log.append_buffered("test", body(t * 100 + i), Duration::from_millis(50))
                        .expect("append");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    wait_synced(&log, 400);
    let (syncs, records) = log.commit_stats();
    assert_eq!(records, 400);
    assert!(syncs < 100, "{syncs} fdatasyncs for 400 buffered records");
}

#[test]
fn flush_makes_buffered_records_durable_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path());
    // Nothing written: returns at once.
    log.flush().expect("flush");
    assert_eq!(log.commit_stats(), (0, 0));
    for i in 0..3 {
        log.append_buffered("test", body(i), Duration::from_secs(3600))
            .expect("append");
    }
    log.flush().expect("flush");
    assert_eq!(log.commit_stats(), (1, 3));
    // A durable append after buffered ones covers them too (one sync for all four).
    log.append_buffered("test", body(9), Duration::from_secs(3600))
        .expect("append");
    log.append("test", body(10)).expect("append");
    assert_eq!(log.commit_stats(), (2, 5));
}

/// The flusher is woken only when no earlier flush is due (not once per record): a steady stream
/// of records still has every one durable, and the last within the bound of its own deadline.
#[test]
fn a_stream_of_buffered_records_leaves_none_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path());
    let t0 = Instant::now();
    let mut n = 0;
    while t0.elapsed() < Duration::from_millis(300) {
        log.append_buffered("test", body(n), Duration::from_millis(50))
            .expect("append");
        n += 1;
        std::thread::sleep(Duration::from_micros(300 + 700 * (n % 7)));
    }
    wait_synced(&log, n);
    let (syncs, records) = log.commit_stats();
    assert_eq!(records, n);
    assert!(
        syncs >= 3 && syncs < n / 4,
        "{syncs} fdatasyncs for {n} records over 300 ms"
    );
}

/// A record with a shorter bound than the flush already due gets its own, earlier flush.
#[test]
fn a_shorter_bound_than_the_armed_one_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path());
    log.append_buffered("test", body(1), Duration::from_secs(3600))
        .expect("append");
    log.append_buffered("test", body(2), Duration::from_millis(20))
        .expect("append");
    let waited = wait_synced(&log, 2);
    assert!(waited < Duration::from_secs(10), "{waited:?}");
}
