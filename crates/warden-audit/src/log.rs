//! The write-ahead log file: appends records durably (write + `fdatasync`) under an exclusive
//! `flock`, with group commit so that one `fdatasync` covers every record queued behind it, and
//! sequence numbers and the hash chain stay correct when several processes share the file.
//!
//! Record line format (one JSON object per line, `\n`-terminated):
//! `{"seq":N,"ts_ns":T,"kind":K,"prev":H,"hash":H2, ...kind fields}` where `seq` starts at 1,
//! `ts_ns` is Unix time in nanoseconds, `prev` is the previous record's `hash` (64 zeros for the
//! first record) and `hash` is defined in [`crate::canonical`].
//!
//! Crash safety: a final line without its newline (a write torn by a crash) is detected whenever
//! the log is opened or appended to, truncated away, and a `recovery` record noting the removed
//! byte count and digest is appended in its place.

use crate::canonical::{encode, record_hash};
use crate::error::{AuditError, Result};
use crate::merkle::{self, Hash};
use crate::note::{Checkpoint, NoteSigner};
use crate::redact::{Redactions, redact_value};
use rustix::fs::{FlockOperation, flock};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Fields every record carries; a kind's own fields may not use these names.
pub const RESERVED: [&str; 6] = ["seq", "ts_ns", "kind", "prev", "hash", "redactions"];

/// A record as written: its sequence number and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// Sequence number (1-based).
    pub seq: u64,
    /// Hex SHA-256 record hash.
    pub hash: String,
    /// Unix time in nanoseconds stamped on the record.
    pub ts_ns: u64,
}

/// How the log behaves.
#[derive(Debug, Default)]
pub struct LogOptions {
    /// Write a checkpoint after every `n` records (0: only on demand).
    pub checkpoint_every: u64,
    /// Signs checkpoints; without one, checkpoints carry an unsigned note body.
    pub signer: Option<NoteSigner>,
    /// The checkpoint origin line.
    pub origin: String,
}

enum Entry {
    Record {
        kind: String,
        body: Map<String, Value>,
        redact: bool,
    },
    Checkpoint,
}

/// What a submitter gets back: the record (and checkpoint note), or the commit's error text.
type TicketResult = std::result::Result<Written, String>;

/// A written record and, for a checkpoint, its note.
type Written = (Appended, Option<String>);

struct Pending {
    ticket: u64,
    entry: Entry,
    /// Whether the caller waits for `fdatasync` (see [`Log::append_lazy`]).
    durable: bool,
}

#[derive(Clone)]
struct Tail {
    len: u64,
    seq: u64,
    hash: String,
}

struct Shared {
    queue: Vec<Pending>,
    next_ticket: u64,
    leader: bool,
    results: std::collections::HashMap<u64, TicketResult>,
    tail: Option<Tail>,
    /// Merkle leaves of every record, loaded on first need and kept while the tail is known.
    leaves: Option<Vec<Hash>>,
    /// The right edge of the tree over a prefix of `leaves` (caught up lazily); reset whenever
    /// `leaves` is replaced.
    frontier: Option<merkle::Frontier>,
}

/// An open audit log. Shareable across threads (`Arc<AuditLog>`); several processes may open
/// the same file.
pub struct AuditLog {
    path: PathBuf,
    file: File,
    opts: LogOptions,
    shared: Mutex<Shared>,
    done: Condvar,
    syncs: std::sync::atomic::AtomicU64,
    synced_records: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Create `dir` and any missing parents, syncing each parent whose entry list changed.
fn create_dirs_durably(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dirs_durably(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(AuditError::io("create directory", dir, e)),
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_dir(parent)?;
    }
    Ok(())
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| AuditError::io("sync directory", dir, e))
}

struct LockGuard<'a>(&'a File);

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        let _ = flock(self.0, FlockOperation::Unlock);
    }
}

impl AuditLog {
    /// Open (creating durably if needed) the log at `path`, recovering a torn tail.
    pub fn open(path: &Path, opts: LogOptions) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_dirs_durably(dir)?;
        }
        let created = match OpenOptions::new()
            .append(true)
            .read(true)
            .create_new(true)
            .mode(0o640)
            .open(path)
        {
            Ok(f) => {
                f.sync_all().map_err(|e| AuditError::io("sync", path, e))?;
                drop(f);
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(AuditError::io("create", path, e)),
        };
        if created && let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(dir)?;
        }
        let file = OpenOptions::new()
            .append(true)
            .read(true)
            .open(path)
            .map_err(|e| AuditError::io("open", path, e))?;
        let log = Self {
            path: path.to_path_buf(),
            file,
            opts,
            shared: Mutex::new(Shared {
                queue: Vec::new(),
                next_ticket: 0,
                leader: false,
                results: Default::default(),
                tail: None,
                leaves: None,
                frontier: None,
            }),
            done: Condvar::new(),
            syncs: Default::default(),
            synced_records: Default::default(),
        };
        // Recover a torn tail now (records it as it goes).
        {
            let mut sh = log.lock_shared();
            let _guard = log.lock_file()?;
            let mut extra = Vec::new();
            log.refresh(&mut sh, &mut extra)?;
            if !extra.is_empty() {
                let mut buf = Vec::new();
                let mut results = Vec::new();
                log.build(&mut sh, extra, &mut buf, &mut results)?;
                log.write_durably(&mut sh, &buf)?;
            }
        }
        Ok(log)
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock_shared(&self) -> MutexGuard<'_, Shared> {
        match self.shared.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn lock_file(&self) -> Result<LockGuard<'_>> {
        flock(&self.file, FlockOperation::LockExclusive)
            .map_err(|e| AuditError::io("lock", &self.path, e.into()))?;
        Ok(LockGuard(&self.file))
    }

    /// Append a record of `kind` with `body` (secrets redacted first) and return once durable.
    pub fn append(&self, kind: &str, body: Map<String, Value>) -> Result<Appended> {
        self.submit(
            Entry::Record {
                kind: kind.to_owned(),
                body,
                redact: true,
            },
            true,
        )
        .map(|(a, _)| a)
    }

    /// Append like [`Log::append`], but return once written, without waiting for `fdatasync`:
    /// the record survives a crash of this process at once, and a crash of the machine once the
    /// next durable append (by any writer) or the kernel's writeback has synced it. For records
    /// whose loss after a power failure is already accounted for, such as outcomes (an intent
    /// without an outcome is reported as "outcome unknown"); never for intents.
    pub fn append_lazy(&self, kind: &str, body: Map<String, Value>) -> Result<Appended> {
        self.submit(
            Entry::Record {
                kind: kind.to_owned(),
                body,
                redact: true,
            },
            false,
        )
        .map(|(a, _)| a)
    }

    /// Append a checkpoint record now and return it with its (signed, if a key is set) note.
    pub fn checkpoint(&self) -> Result<(Appended, String)> {
        let (a, note) = self.submit(Entry::Checkpoint, true)?;
        Ok((a, note.unwrap_or_default()))
    }

    fn submit(&self, mut entry: Entry, durable: bool) -> Result<Written> {
        if let Entry::Record { body, .. } = &entry
            && let Some(k) = RESERVED.iter().find(|k| body.contains_key(**k))
        {
            return Err(AuditError::Invalid(format!(
                "record field {k:?} is reserved"
            )));
        }
        // Redact in the caller's thread, so that concurrent writers do it in parallel rather
        // than inside the group commit's critical section.
        if let Entry::Record { body, redact, .. } = &mut entry
            && *redact
        {
            let mut found = Redactions::new();
            let v = redact_value(&Value::Object(std::mem::take(body)), &mut found);
            if let Value::Object(m) = v {
                *body = m;
            }
            if !found.is_empty() {
                body.insert(
                    "redactions".into(),
                    serde_json::to_value(&found).unwrap_or_default(),
                );
            }
            *redact = false;
        }
        if let Entry::Record { kind, body, .. } = &entry {
            if kind.is_empty() {
                return Err(AuditError::Invalid("record kind is empty".into()));
            }
            // Refuse what has no canonical form here, so one bad record cannot fail the
            // group it would have been committed with.
            if let Some(f) = find_float(&Value::Object(body.clone())) {
                return Err(crate::canonical::CanonicalError::NonInteger(f).into());
            }
        }
        let mut sh = self.lock_shared();
        let ticket = sh.next_ticket;
        sh.next_ticket += 1;
        sh.queue.push(Pending {
            ticket,
            entry,
            durable,
        });
        loop {
            if let Some(r) = sh.results.remove(&ticket) {
                return r.map_err(AuditError::Corrupt);
            }
            if !sh.leader {
                sh.leader = true;
                let batch = std::mem::take(&mut sh.queue);
                // Commit outside the in-process mutex so that others can queue behind us.
                drop(sh);
                let outcome = self.commit(batch);
                sh = self.lock_shared();
                sh.leader = false;
                for (t, r) in outcome {
                    sh.results.insert(t, r);
                }
                self.done.notify_all();
                continue;
            }
            sh = match self.done.wait(sh) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
        }
    }

    fn commit(&self, batch: Vec<Pending>) -> Vec<(u64, TicketResult)> {
        let tickets: Vec<u64> = batch.iter().map(|p| p.ticket).collect();
        let sync = batch.iter().any(|p| p.durable);
        let run = || -> Result<Vec<(u64, Written)>> {
            let _guard = self.lock_file()?;
            let mut sh = self.lock_shared();
            let mut pre = Vec::new();
            self.refresh(&mut sh, &mut pre)?;
            pre.extend(batch);
            let mut buf = Vec::with_capacity(512 * pre.len());
            let mut results = Vec::with_capacity(pre.len());
            self.build(&mut sh, pre, &mut buf, &mut results)?;
            drop(sh);
            // Write and sync without holding the in-process mutex (the flock keeps others out).
            self.write_raw(&buf, sync)?;
            let mut sh = self.lock_shared();
            if let Some(t) = sh.tail.as_mut() {
                t.len += buf.len() as u64;
            }
            Ok(results)
        };
        match run() {
            Ok(results) => results.into_iter().map(|(t, r)| (t, Ok(r))).collect(),
            Err(e) => {
                // The file state is unknown now: forget the cached tail.
                let mut sh = self.lock_shared();
                sh.tail = None;
                sh.leaves = None;
                sh.frontier = None;
                let msg = e.to_string();
                tickets.into_iter().map(|t| (t, Err(msg.clone()))).collect()
            }
        }
    }

    /// Group-commit counters of this handle: (`fdatasync` calls, records they made durable).
    pub fn commit_stats(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.syncs.load(Relaxed), self.synced_records.load(Relaxed))
    }

    fn write_raw(&self, buf: &[u8], sync: bool) -> Result<()> {
        use std::sync::atomic::Ordering::Relaxed;
        (&self.file)
            .write_all(buf)
            .map_err(|e| AuditError::io("append to", &self.path, e))?;
        if !sync {
            return Ok(());
        }
        self.syncs.fetch_add(1, Relaxed);
        self.synced_records
            .fetch_add(buf.iter().filter(|b| **b == b'\n').count() as u64, Relaxed);
        self.file
            .sync_data()
            .map_err(|e| AuditError::io("fdatasync", &self.path, e))
    }

    fn write_durably(&self, sh: &mut Shared, buf: &[u8]) -> Result<()> {
        self.write_raw(buf, true)?;
        if let Some(t) = sh.tail.as_mut() {
            t.len += buf.len() as u64;
        }
        Ok(())
    }

    /// Under the file lock: bring the cached tail up to date with the file, repairing a torn
    /// final line (a `recovery` entry is pushed onto `pre`).
    fn refresh(&self, sh: &mut Shared, pre: &mut Vec<Pending>) -> Result<()> {
        let len = self
            .file
            .metadata()
            .map_err(|e| AuditError::io("stat", &self.path, e))?
            .len();
        if let Some(t) = &sh.tail
            && t.len == len
        {
            return Ok(());
        }
        // Torn tail?
        let mut len = len;
        if len > 0 {
            let mut last = [0u8; 1];
            self.file
                .read_exact_at(&mut last, len - 1)
                .map_err(|e| AuditError::io("read", &self.path, e))?;
            if last[0] != b'\n' {
                let keep = find_last_newline(&self.file, len)
                    .map_err(|e| AuditError::io("read", &self.path, e))?;
                let mut torn = vec![0u8; (len - keep) as usize];
                self.file
                    .read_exact_at(&mut torn, keep)
                    .map_err(|e| AuditError::io("read", &self.path, e))?;
                self.file
                    .set_len(keep)
                    .map_err(|e| AuditError::io("truncate", &self.path, e))?;
                self.file
                    .sync_data()
                    .map_err(|e| AuditError::io("fdatasync", &self.path, e))?;
                let mut body = Map::new();
                body.insert("event".into(), "torn-tail-truncated".into());
                body.insert("truncated_bytes".into(), (len - keep).into());
                body.insert(
                    "truncated_sha256".into(),
                    hex::encode(Sha256::digest(&torn)).into(),
                );
                body.insert("at_offset".into(), keep.into());
                pre.push(Pending {
                    ticket: u64::MAX,
                    entry: Entry::Record {
                        kind: "recovery".into(),
                        body,
                        redact: false,
                    },
                    durable: true,
                });
                len = keep;
                sh.tail = None;
                sh.leaves = None;
                sh.frontier = None;
            }
        }
        match sh.tail.clone() {
            Some(t) if t.len < len => {
                // Others appended: read what they wrote.
                let mut buf = vec![0u8; (len - t.len) as usize];
                self.file
                    .read_exact_at(&mut buf, t.len)
                    .map_err(|e| AuditError::io("read", &self.path, e))?;
                let mut tail = t;
                for line in buf.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    let (seq, hash) = parse_seq_hash(line, &self.path)?;
                    if let Some(l) = sh.leaves.as_mut() {
                        l.push(merkle::leaf_hash(&hex_hash(&hash)?));
                    }
                    tail.seq = seq;
                    tail.hash = hash;
                }
                tail.len = len;
                sh.tail = Some(tail);
            }
            _ => {
                sh.leaves = None;
                sh.frontier = None;
                if len == 0 {
                    sh.tail = Some(Tail {
                        len: 0,
                        seq: 0,
                        hash: GENESIS.into(),
                    });
                    sh.leaves = Some(Vec::new());
                    sh.frontier = None;
                } else {
                    let start = find_last_newline(&self.file, len - 1)
                        .map_err(|e| AuditError::io("read", &self.path, e))?;
                    let mut line = vec![0u8; (len - 1 - start) as usize];
                    self.file
                        .read_exact_at(&mut line, start)
                        .map_err(|e| AuditError::io("read", &self.path, e))?;
                    let (seq, hash) = parse_seq_hash(&line, &self.path)?;
                    sh.tail = Some(Tail { len, seq, hash });
                }
            }
        }
        Ok(())
    }

    fn load_leaves(&self, sh: &mut Shared) -> Result<()> {
        if sh.leaves.is_some() {
            return Ok(());
        }
        let len = sh.tail.as_ref().map_or(0, |t| t.len);
        let mut f = &self.file;
        f.seek(SeekFrom::Start(0))
            .map_err(|e| AuditError::io("seek", &self.path, e))?;
        let mut buf = Vec::with_capacity(len as usize);
        f.take(len)
            .read_to_end(&mut buf)
            .map_err(|e| AuditError::io("read", &self.path, e))?;
        let mut leaves = Vec::new();
        for line in buf.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let (_, hash) = parse_seq_hash(line, &self.path)?;
            leaves.push(merkle::leaf_hash(&hex_hash(&hash)?));
        }
        sh.leaves = Some(leaves);
        sh.frontier = None;
        Ok(())
    }

    /// Turn queued entries into record lines (chained onto the cached tail) appended to `buf`.
    fn build(
        &self,
        sh: &mut Shared,
        entries: Vec<Pending>,
        buf: &mut Vec<u8>,
        results: &mut Vec<(u64, Written)>,
    ) -> Result<()> {
        let Some(mut tail) = sh.tail.clone() else {
            return Err(AuditError::Corrupt("log tail unknown".into()));
        };
        let every = self.opts.checkpoint_every;
        let records = entries.len() as u64;
        let wants_leaves = entries.iter().any(|e| matches!(e.entry, Entry::Checkpoint))
            || (every > 0 && (tail.seq + 2 * records) / every > tail.seq / every);
        if wants_leaves {
            self.load_leaves(sh)?;
        }
        let ts = now_ns();
        for p in entries {
            let mut note_out = None;
            let (kind, body) = match p.entry {
                // Redaction already happened in the submitting thread.
                Entry::Record { kind, body, .. } => (kind, body),
                Entry::Checkpoint => {
                    let (body, note) = self.checkpoint_body(sh, tail.seq)?;
                    note_out = Some(note);
                    ("checkpoint".to_owned(), body)
                }
            };
            let appended = self.emit(sh, &mut tail, &kind, body, ts, buf)?;
            if p.ticket != u64::MAX {
                results.push((p.ticket, (appended, note_out)));
            }
            if every > 0 && kind != "checkpoint" && tail.seq % every == 0 && sh.leaves.is_some() {
                let (body, _) = self.checkpoint_body(sh, tail.seq)?;
                self.emit(sh, &mut tail, "checkpoint", body, ts, buf)?;
            }
        }
        // The cached length is advanced by the caller once the bytes are written.
        let old_len = sh.tail.as_ref().map_or(0, |t| t.len);
        tail.len = old_len;
        sh.tail = Some(tail);
        Ok(())
    }

    fn emit(
        &self,
        sh: &mut Shared,
        tail: &mut Tail,
        kind: &str,
        body: Map<String, Value>,
        ts: u64,
        buf: &mut Vec<u8>,
    ) -> Result<Appended> {
        let seq = tail.seq + 1;
        let mut rec = body;
        rec.insert("seq".into(), seq.into());
        rec.insert("ts_ns".into(), ts.into());
        rec.insert("kind".into(), kind.into());
        rec.insert("prev".into(), tail.hash.clone().into());
        let v = Value::Object(rec);
        let h = record_hash(&v)?;
        let hash = hex::encode(h);
        let Value::Object(mut rec) = v else {
            unreachable!("built as an object")
        };
        rec.insert("hash".into(), hash.clone().into());
        // The line itself is the canonical encoding with `hash` included: compact and stable.
        buf.extend_from_slice(&encode(&Value::Object(rec))?);
        buf.push(b'\n');
        if let Some(l) = sh.leaves.as_mut() {
            l.push(merkle::leaf_hash(&h));
        }
        tail.seq = seq;
        tail.hash = hash.clone();
        Ok(Appended {
            seq,
            hash,
            ts_ns: ts,
        })
    }

    fn checkpoint_body(&self, sh: &mut Shared, size: u64) -> Result<(Map<String, Value>, String)> {
        let leaves = sh
            .leaves
            .as_ref()
            .ok_or_else(|| AuditError::Corrupt("leaves not loaded".into()))?;
        let size_us =
            usize::try_from(size).map_err(|_| AuditError::Corrupt("tree too large".into()))?;
        let size_us = size_us.min(leaves.len());
        let frontier = sh.frontier.get_or_insert_with(merkle::Frontier::default);
        let root = if frontier.len() <= size_us {
            for leaf in &leaves[frontier.len()..size_us] {
                frontier.push(*leaf);
            }
            frontier.root()
        } else {
            merkle::root(&leaves[..size_us])
        };
        let cp = Checkpoint {
            origin: self.opts.origin.clone(),
            size,
            root,
        };
        let body_text = cp.body();
        let (note, key) = match &self.opts.signer {
            Some(s) => (s.sign(&body_text)?, Some(s.verifier_text())),
            None => (body_text, None),
        };
        let mut body = Map::new();
        body.insert("origin".into(), cp.origin.into());
        body.insert("size".into(), size.into());
        body.insert("root".into(), base64_encode(&root).into());
        body.insert("note".into(), note.clone().into());
        body.insert("signed".into(), key.is_some().into());
        if let Some(k) = key {
            body.insert("key".into(), k.into());
        }
        Ok((body, note))
    }
}

fn find_float(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) if n.as_u64().is_none() && n.as_i64().is_none() => Some(n.to_string()),
        Value::Array(a) => a.iter().find_map(find_float),
        Value::Object(m) => m.values().find_map(find_float),
        _ => None,
    }
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Offset just past the last `\n` strictly before `end` (0 if none).
fn find_last_newline(file: &File, end: u64) -> std::io::Result<u64> {
    let mut pos = end;
    let mut chunk = vec![0u8; 8192];
    while pos > 0 {
        let start = pos.saturating_sub(chunk.len() as u64);
        let n = (pos - start) as usize;
        file.read_exact_at(&mut chunk[..n], start)?;
        if let Some(i) = chunk[..n].iter().rposition(|b| *b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        pos = start;
    }
    Ok(0)
}

fn parse_seq_hash(line: &[u8], path: &Path) -> Result<(u64, String)> {
    #[derive(serde::Deserialize)]
    struct SeqHash {
        seq: u64,
        hash: String,
    }
    let sh: SeqHash = serde_json::from_slice(line).map_err(|e| {
        AuditError::Corrupt(format!(
            "{}: unreadable record line ({e}); run `warden audit verify`",
            path.display()
        ))
    })?;
    Ok((sh.seq, sh.hash))
}

pub(crate) fn hex_hash(h: &str) -> Result<[u8; 32]> {
    hex::decode(h)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| AuditError::Corrupt(format!("bad record hash {h:?}")))
}

/// Read every complete record line of the log at `path` (a torn final line is ignored).
pub fn read_lines(path: &Path) -> Result<(Vec<Vec<u8>>, bool)> {
    let data = std::fs::read(path).map_err(|e| AuditError::io("read", path, e))?;
    let torn = !data.is_empty() && data.last() != Some(&b'\n');
    let mut lines: Vec<Vec<u8>> = data.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    // The piece after the final newline is empty, or torn.
    lines.pop();
    Ok((lines, torn))
}

/// Read every record of the log at `path` as JSON objects (unparseable lines are skipped).
pub fn read_records(path: &Path) -> Result<Vec<Value>> {
    let (lines, _) = read_lines(path)?;
    Ok(lines
        .iter()
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect())
}
