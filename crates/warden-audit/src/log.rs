//! The write-ahead log file: appends records durably (write + `fdatasync`) under an exclusive
//! `flock`, with group commit so that one `fdatasync` covers every record queued behind it, and
//! sequence numbers and the hash chain stay correct when several processes share the file.
//!
//! Where the work happens: each submitting thread redacts, canonically encodes and mostly
//! hashes its own record (`RecordTemplate`); the leader of a batch only
//! fills in `prev`/`seq`/`ts_ns`, finishes each SHA-256 and writes the batch in one `write`
//! under the `flock`, which it releases before the `fdatasync`. Syncing is a separate role, so
//! the next batch is written while the previous one syncs. Across processes, the `<log>.sync`
//! companion file (`SyncMark`) lets a process whose records another's completed `fdatasync`
//! covered skip its own.
//!
//! Record line format (one JSON object per line, `\n`-terminated):
//! `{"hash":H2,"kind":K,"prev":H,"seq":N,"ts_ns":T, ...kind fields}` (keys in the canonical,
//! sorted order of [`crate::canonical`]) where `seq` starts at 1,
//! `ts_ns` is Unix time in nanoseconds, `prev` is the previous record's `hash` (64 zeros for the
//! first record) and `hash` is defined in [`crate::canonical`].
//!
//! Durability: a sync copies the bytes appended since the last one into the log's sync journal
//! (`<log>.journal`, see [`crate::journal`]), a pre-written ring written with direct I/O, which is
//! what makes an append durable; the log file itself is synced once per half a ring's worth of
//! records and when a head is sealed. Whoever opens the log after a machine crash appends what
//! the ring holds beyond the log's last complete record, record by record while each chains on.
//!
//! Crash safety: a final line without its newline (a write torn by a crash) is detected whenever
//! the log is opened or appended to, truncated away, and a `recovery` record noting the removed
//! byte count and digest is appended in its place.

use crate::canonical::RecordTemplate;
use crate::error::{AuditError, Result};
use crate::journal::{JOURNAL_SIZE, Journal};
use crate::merkle;
use crate::note::{Checkpoint, NoteSigner};
use crate::redact::{Redactions, redact_value_in_place};
use rustix::fs::{FlockOperation, flock};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
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

/// A sealed head (see [`AuditLog::seal`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The seal's checkpoint record.
    pub appended: Appended,
    /// The checkpoint record's own note (over the records before it).
    pub checkpoint: String,
    /// The (signed, if a key is set) note over every record up to and including the seal.
    pub head: String,
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
    /// Where [`AuditLog::seal`] keeps the log's head anchor (see [`crate::anchor`]): a file
    /// outside the log's directory, which whoever can cut the log's end must not be able to
    /// write. Without one, a seal still appends its checkpoint but anchors nothing outside.
    pub anchor: Option<std::path::PathBuf>,
}

enum Entry {
    /// A record whose canonical encoding the submitter prepared.
    Record {
        template: RecordTemplate,
        /// Whether the record is itself a checkpoint (it never triggers an automatic one).
        checkpoint_kind: bool,
    },
    Checkpoint,
    /// A checkpoint that seals the head: marked `"seal": true`, and its submitter gets the note
    /// over every record including the checkpoint itself (see [`AuditLog::seal`]). With
    /// `only_first`, written only as the log's first record, else nothing is written (see
    /// [`AuditLog::declare_anchored`]).
    Seal {
        only_first: bool,
    },
}

/// What a submitter gets back: the record (and checkpoint note) with the write generation that
/// holds it, or the commit's error text.
type TicketResult = std::result::Result<(Written, u64), String>;

/// A written record and, for a checkpoint, its note.
type Written = (Appended, Notes);

/// The notes a checkpoint or seal submitter gets back.
#[derive(Default)]
struct Notes {
    /// The checkpoint record's note (over the records before it).
    checkpoint: Option<String>,
    /// For a seal: the note over every record up to and including it.
    head: Option<String>,
}

/// When a submitter's record counts as stored.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Durability {
    /// Once written (in the page cache): survives a crash of the process, not of the machine.
    Written,
    /// Once its journal copy is synced: survives a machine crash (the next opener replays it).
    Journal,
    /// Once the log file itself is synced: a seal, whose head anchor is stored outside, so that
    /// `verify` never finds the anchor ahead of the log before anyone replayed its journal.
    Log,
}

/// Who submitted a queued entry.
struct Waiter {
    ticket: u64,
    /// Whether the caller waits for `fdatasync` (see [`AuditLog::append_lazy`]).
    durable: bool,
    /// The submitting thread, woken (unparked) when its record is written or synced.
    thread: std::thread::Thread,
}

struct Pending {
    waiter: Waiter,
    entry: Entry,
}

/// A committed batch: each submitter with its record, the number of records written
/// (automatic checkpoints and recovery records included) and the file length after the write;
/// or the submitters and the error.
type Committed = std::result::Result<(Vec<(Waiter, Written)>, u64, u64), (Vec<Waiter>, AuditError)>;

/// A ticket for entries the log adds itself (recovery records), whose result nobody awaits.
const INTERNAL: u64 = u64::MAX;

#[derive(Clone)]
struct Tail {
    len: u64,
    seq: u64,
    hash: String,
}

/// What the group-commit leader keeps about the file's end; only touched under the file lock.
#[derive(Default)]
struct Chain {
    tail: Option<Tail>,
    /// The right edge of the Merkle tree over every record (all a checkpoint's root needs),
    /// loaded on first need and kept while the tail is known.
    frontier: Option<merkle::Frontier>,
}

impl Chain {
    fn forget(&mut self) {
        self.tail = None;
        self.frontier = None;
    }
}

/// The group-commit queue and the write/sync progress of this handle.
///
/// Two roles, each held by at most one thread at a time: the *leader* takes the whole queue,
/// chains and writes it in one `write` under the file lock, and releases the lock; the
/// *syncer* runs one `fdatasync` covering every batch written before it started. They overlap:
/// the next leader writes while the previous batch's `fdatasync` is in flight, and the next
/// `fdatasync` covers everything written meanwhile. Waiting threads are parked and woken one by
/// one (no broadcast), only when their own state changed.
#[derive(Default)]
struct Shared {
    queue: Vec<Pending>,
    next_ticket: u64,
    leader: bool,
    results: std::collections::HashMap<u64, TicketResult>,
    /// Batches written so far (the write generation), the records they held and the file
    /// length after the latest.
    written: u64,
    written_records: u64,
    written_len: u64,
    /// The generation every completed `fdatasync` covered, and the records it covered.
    synced: u64,
    synced_records: u64,
    /// The generation a completed `fdatasync` of the log file itself (not only of its journal)
    /// covered, and the latest generation a submitter needs that for (a seal).
    main_synced: u64,
    main_wanted: u64,
    syncing: bool,
    /// Durable submitters whose batch is written and not yet synced: (generation, thread).
    sync_waiters: Vec<(u64, std::thread::Thread)>,
    /// Set when an `fdatasync` failed: the kernel may have dropped the unsynced pages, and a
    /// later `fdatasync` of this file description would report success regardless, so nothing
    /// more is appended through this handle.
    poisoned: Option<String>,
}

/// An open audit log. Shareable across threads (`Arc<AuditLog>`); several processes may open
/// the same file.
pub struct AuditLog {
    path: PathBuf,
    file: File,
    opts: LogOptions,
    shared: Mutex<Shared>,
    chain: Mutex<Chain>,
    /// The log's `<name>.sync` companion (see [`SyncMark`]).
    sync_mark: SyncMark,
    /// The log's sync journal (see [`crate::journal`]).
    journal: Journal,
    syncs: std::sync::atomic::AtomicU64,
    synced_records: std::sync::atomic::AtomicU64,
    /// The background flush of buffered records (see [`AuditLog::append_record_buffered`]),
    /// started on first use: it is sent each buffered record's deadline.
    flusher: std::sync::OnceLock<std::sync::mpsc::Sender<std::time::Instant>>,
    /// The earliest deadline sent to the flusher and not yet flushed for.
    flush_due: Mutex<Option<std::time::Instant>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Group commit across processes: `<log>.sync` records (log inode, length) meaning "an
/// `fdatasync` of the log or of its journal that started when the log was this long has
/// completed", and a second length for the log file's own `fdatasync` (which the journal's ring
/// needs before it overwrites bytes, see [`crate::journal`]). Under its own
/// `flock` (separate from the append lock, so writers append while someone syncs), a process
/// whose records end at or below that length returns without an `fdatasync` of its own: with
/// many `warden` processes, the ones that queue behind a sync share the next one instead of
/// each running theirs. The file is a hint in the page cache, never synced: after a machine
/// crash no process is waiting. The inode guards against a log replaced at the same path, and a
/// torn-tail truncation lowers the length ([`SyncMark::lower_to`]) so that bytes written again
/// below it are not taken for synced.
struct SyncMark {
    path: PathBuf,
    file: File,
    ino: u64,
    /// `flock` does not exclude threads sharing one open file description: this keeps this
    /// handle's truncating leader ([`SyncMark::lower_to`]) from writing between its own
    /// syncer's reading of the log length and writing of the mark.
    in_process: Mutex<()>,
}

/// `<log>.frontier`: the right edge of the Merkle tree over a prefix of the log (at most 64
/// subtree roots, see [`merkle::Frontier`]), so that a checkpoint (every run's seal) reads only
/// the records after it, and neither reads nor hashes anything in proportion to the log's length.
/// Layout: the log's byte length covered (u64 LE), the number of records covered (u64 LE), the
/// leaf hash of the last covered record, the frontier's nodes (32 bytes each, one per set bit of
/// the count), and a SHA-256 of everything before it (a torn or damaged write is not believed).
/// A cache only: one that does not fit the log (longer than it, not ending at a line whose record
/// has that number and leaf) is ignored and rebuilt, and one that lies yields checkpoints
/// `warden audit verify` refuses, since it recomputes every root from the log itself.
struct FrontierCache;

impl FrontierCache {
    const HEADER: usize = 48;

    fn path(log_path: &Path) -> PathBuf {
        companion_path(log_path, ".frontier")
    }

    /// (bytes of the log covered, the frontier over their records); (0, empty) when the cache
    /// does not fit.
    fn read(path: &Path, log: &File, log_len: u64) -> (u64, merkle::Frontier) {
        let fits = || -> Option<(u64, merkle::Frontier)> {
            let raw = std::fs::read(path).ok()?;
            let (body, sum) = raw.split_at_checked(raw.len().checked_sub(32)?)?;
            if Sha256::digest(body).as_slice() != sum || body.len() < Self::HEADER {
                return None;
            }
            let word = |i: usize| Some(u64::from_le_bytes(body.get(i..i + 8)?.try_into().ok()?));
            let (covered, count) = (word(0)?, word(8)?);
            let last_leaf = &body[16..Self::HEADER];
            if covered > log_len || count > covered {
                return None;
            }
            let nodes: Vec<merkle::Hash> = body[Self::HEADER..]
                .chunks_exact(32)
                .map(|c| c.try_into().unwrap_or([0u8; 32]))
                .collect();
            if body[Self::HEADER..].len() % 32 != 0 {
                return None;
            }
            let frontier = merkle::Frontier::from_nodes(usize::try_from(count).ok()?, nodes)?;
            if covered > 0 {
                // The last covered line must be the record numbered `count` whose leaf is
                // cached: its hash chains over every record before it, so the whole prefix is
                // the one the frontier was built over.
                let mut last = [0u8; 1];
                log.read_exact_at(&mut last, covered - 1).ok()?;
                if last[0] != b'\n' {
                    return None;
                }
                let line = line_ending_at(log, covered, 0).ok()?;
                let (seq, hash) = parse_seq_hash(&line, path).ok()?;
                if seq != count || last_leaf != merkle::leaf_hash(&hex_hash(&hash).ok()?) {
                    return None;
                }
            } else if count > 0 {
                return None;
            }
            Some((covered, frontier))
        };
        fits().unwrap_or_default()
    }

    /// Record `frontier`, over the records in the first `covered` bytes of the log, the last of
    /// which has leaf `last_leaf`. Best effort: a cache that cannot be written only costs the
    /// next reader a full read.
    fn write(path: &Path, frontier: &merkle::Frontier, last_leaf: &merkle::Hash, covered: u64) {
        let mut body = Vec::with_capacity(Self::HEADER + 32 * 65);
        body.extend_from_slice(&covered.to_le_bytes());
        body.extend_from_slice(&(frontier.len() as u64).to_le_bytes());
        body.extend_from_slice(last_leaf);
        for node in frontier.nodes() {
            body.extend_from_slice(node);
        }
        let sum = Sha256::digest(&body);
        body.extend_from_slice(&sum);
        let write = || -> std::io::Result<()> {
            let f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o640)
                .open(path)?;
            f.write_all_at(&body, 0)?;
            f.set_len(body.len() as u64)
        };
        let _ = write();
    }

    /// The cache of earlier versions beside the log at `log_path` (every leaf, 32 bytes a
    /// record), not read any more.
    fn remove_old(log_path: &Path) {
        let _ = std::fs::remove_file(companion_path(log_path, ".leaves"));
    }
}

impl SyncMark {
    fn open(log_path: &Path, log: &File, log_created: bool) -> Result<Self> {
        use std::os::unix::fs::MetadataExt as _;
        let path = companion_path(log_path, ".sync");
        let file = open_companion(&path)?;
        let ino = log
            .metadata()
            .map_err(|e| AuditError::io("stat", log_path, e))?
            .ino();
        let mark = Self {
            path,
            file,
            ino,
            in_process: Mutex::new(()),
        };
        if log_created {
            mark.lower_to(0)
                .map_err(|e| AuditError::io("update", &mark.path, e))?;
        }
        Ok(mark)
    }

    fn lock(&self) -> std::io::Result<LockGuard<'_>> {
        flock(&self.file, FlockOperation::LockExclusive)?;
        Ok(LockGuard(&self.file))
    }

    /// The synced length of our log (0 when the mark is about another file or unreadable).
    /// Read without the lock too: the length is stored with its complement, so a read that
    /// raced a write and mixed old and new bytes is refused rather than believed.
    fn read(&self) -> u64 {
        self.read_both().0
    }

    /// The length up to which the log file itself (not only its journal) is synced.
    fn read_main(&self) -> u64 {
        self.read_both().1
    }

    /// Both lengths (synced, and the log file itself synced), each 0 when not ours (an older
    /// mark has only the first).
    fn read_both(&self) -> (u64, u64) {
        let mut b = [0u8; 40];
        let Ok(n) = self.file.read_at(&mut b, 0) else {
            return (0, 0);
        };
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(w)
        };
        let at = |i: usize| {
            if n >= i + 16 && word(0) == self.ino && word(i) == !word(i + 8) {
                word(i)
            } else {
                0
            }
        };
        (at(8), at(24))
    }

    fn write(&self, len: u64) -> std::io::Result<()> {
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&self.ino.to_le_bytes());
        b[8..16].copy_from_slice(&len.to_le_bytes());
        b[16..].copy_from_slice(&(!len).to_le_bytes());
        self.file.write_all_at(&b, 0)
    }

    /// Under the mark's lock: record the log file synced up to `len` (after `write`, which
    /// stamps the inode).
    fn write_main(&self, len: u64) -> std::io::Result<()> {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&len.to_le_bytes());
        b[8..].copy_from_slice(&(!len).to_le_bytes());
        self.file.write_all_at(&b, 24)
    }

    /// The log file itself was synced up to `len` (by a caller holding the log's file lock):
    /// raise the mark's second length to it.
    fn raise_main(&self, len: u64) -> std::io::Result<()> {
        let _in_process = self.in_process.lock().unwrap_or_else(|p| p.into_inner());
        let _guard = self.lock()?;
        let cur = self.read();
        self.write(cur)?;
        self.write_main(self.read_main().max(len))
    }

    /// Make the log durable up to `upto` bytes: `fdatasync` its journal (or with `main`, the
    /// log file itself) unless a completed one (of any process) already covered that. Returns
    /// whether this call ran `fdatasync`.
    ///
    /// A process that finds another syncing waits for a *shared* lock, granted to all waiters
    /// together when that sync ends, rather than queueing for the exclusive one (which would
    /// wake every queued process at each release, one after another, though the first sync
    /// after theirs covered them all).
    fn sync_covering(
        &self,
        log: &File,
        journal: &Journal,
        upto: u64,
        main: bool,
    ) -> std::io::Result<bool> {
        use rustix::io::Errno;
        let mut attempt = 0;
        loop {
            let (synced, log_synced) = self.read_both();
            if (if main { log_synced } else { synced }) >= upto {
                return Ok(false);
            }
            // Shared holders only check the mark; should they keep the exclusive lock from us
            // by chance a few times over, queue for it.
            attempt += 1;
            let op = if attempt <= 3 {
                FlockOperation::NonBlockingLockExclusive
            } else {
                FlockOperation::LockExclusive
            };
            match flock(&self.file, op) {
                Ok(()) => {
                    let _guard = LockGuard(&self.file);
                    let _in_process = self.in_process.lock().unwrap_or_else(|p| p.into_inner());
                    // (Covered since the check above? Rare: one `pread` less in the common case
                    // is worth the odd redundant `fdatasync`.)
                    let len = file_len(log)?;
                    // Half a lap of the ring behind: sync the log file itself now, off the
                    // appending path (where the ring's overwrite would otherwise wait for it).
                    // (Re-read under the lock: a torn-tail recovery may have lowered it, and the
                    // bytes from there on must be copied.)
                    let (synced, log_synced) = self.read_both();
                    if main || len > log_synced + JOURNAL_SIZE / 2 {
                        log.sync_data()?;
                        self.write(len)?;
                        self.write_main(log_synced.max(len))?;
                    } else {
                        // The mark's own bytes again, before the flush: the write stamps the
                        // mark's modification time in this clock tick, so the new mark written
                        // after the flush (in the same tick, almost always) leaves its inode
                        // clean. Its inode shares an inode-table block with the ring's and the
                        // log's, and a dirty one there costs the next record's flush one more
                        // device write (an exec storm: 0.42 inode-table writes a record without
                        // this, 0.22 with it).
                        self.write(synced)?;
                        // The ring's overwrite reaches at most a block past `len`, and the log
                        // file is synced to within half a ring of it: nothing durable only in
                        // the ring's earlier lap is overwritten.
                        let end = journal.persist(log, synced.max(log_synced), len)?;
                        self.write(end)?;
                    }
                    return Ok(true);
                }
                Err(Errno::WOULDBLOCK | Errno::INTR) => {
                    flock(&self.file, FlockOperation::LockShared)?;
                    flock(&self.file, FlockOperation::Unlock)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// After the log was truncated to `len`: nothing beyond it counts as synced any more.
    fn lower_to(&self, len: u64) -> std::io::Result<()> {
        let _in_process = self.in_process.lock().unwrap_or_else(|p| p.into_inner());
        let _guard = self.lock()?;
        let (cur, main) = (self.read(), self.read_main());
        self.write(cur.min(len))?;
        self.write_main(main.min(len))
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

/// `path` with `suffix` appended to its file name (`audit.jsonl` + `.sync` = `audit.jsonl.sync`):
/// where the files kept beside a log are.
pub(crate) fn companion_path(path: &Path, suffix: impl AsRef<std::ffi::OsStr>) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Open (creating if missing, never truncating) a file kept beside the log, for reading and
/// writing with the log's mode.
pub(crate) fn open_companion(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o640)
        .open(path)
        .map_err(|e| AuditError::io("open", path, e))
}

/// The length of an open file, asking the kernel for the size alone. A full `fstat` asks for
/// the change time too, and since Linux 6.13 a file whose change time was asked for gets a
/// fine-grained time at its next change, which moves every file system's coarse clock forward:
/// the journal ring's next direct write then changes its modification time again, and its
/// `fdatasync` writes the inode as well, a third device round trip per durable record (measured:
/// three writes a record instead of ~1.2). Falls back to `fstat` where `statx` is refused.
pub(crate) fn file_len(file: &File) -> std::io::Result<u64> {
    use rustix::fs::{AtFlags, StatxFlags, statx};
    match statx(file, "", AtFlags::EMPTY_PATH, StatxFlags::SIZE) {
        Ok(st) if st.stx_mask & StatxFlags::SIZE.bits() != 0 => Ok(st.stx_size),
        Ok(_) | Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {
            Ok(file.metadata()?.len())
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| AuditError::io("sync directory", dir, e))
}

/// The background flush: waits for a buffered record's deadline, then flushes every record
/// written by then (the deadlines received meanwhile are covered by the same flush). Ends when
/// the log is dropped.
fn flush_loop(log: &std::sync::Weak<AuditLog>, rx: &std::sync::mpsc::Receiver<std::time::Instant>) {
    use std::sync::mpsc::RecvTimeoutError;
    while let Ok(mut due) = rx.recv() {
        loop {
            let now = std::time::Instant::now();
            if now >= due {
                break;
            }
            match rx.recv_timeout(due - now) {
                Ok(d) => due = due.min(d),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        // Every deadline already sent belongs to a record already written: this flush covers it.
        while rx.try_recv().is_ok() {}
        let Some(log) = log.upgrade() else { return };
        // From here a buffered record arms a new deadline (one written before is covered by
        // the flush below, which starts after this).
        *log.flush_due.lock().unwrap_or_else(|p| p.into_inner()) = None;
        // A failed `fdatasync` poisons the handle; the next durable append reports it.
        let _ = log.flush();
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        // Buffered records are durable at the latest when their log is closed.
        if self.flusher.get().is_some() {
            let _ = self.flush();
        }
    }
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
        // Created (or completed) under the log's lock: nobody is mirroring into it meanwhile.
        let journal = {
            flock(&file, FlockOperation::LockExclusive)
                .map_err(|e| AuditError::io("lock", path, e.into()))?;
            let _guard = LockGuard(&file);
            let ino = std::os::unix::fs::MetadataExt::ino(
                &file
                    .metadata()
                    .map_err(|e| AuditError::io("stat", path, e))?,
            );
            Journal::open(path, ino)?
        };
        let log = Self {
            sync_mark: SyncMark::open(path, &file, created)?,
            journal,
            path: path.to_path_buf(),
            file,
            opts,
            shared: Mutex::default(),
            chain: Mutex::default(),
            syncs: Default::default(),
            synced_records: Default::default(),
            flusher: std::sync::OnceLock::new(),
            flush_due: Mutex::new(None),
        };
        // After a machine crash: what the journal holds beyond the log's end; then recover a
        // torn tail (records it as it goes).
        {
            let mut chain = log.lock_chain();
            let _guard = log.lock_file()?;
            log.replay_journal()?;
            let mut extra = Vec::new();
            log.refresh(&mut chain, &mut extra)?;
            if !extra.is_empty() {
                let mut buf = Vec::new();
                let mut results = Vec::new();
                log.build(&mut chain, extra, &mut buf, &mut results)?;
                log.write_raw(&buf)?;
                log.file
                    .sync_data()
                    .map_err(|e| AuditError::io("fdatasync", &log.path, e))?;
                if let Some(t) = chain.tail.as_mut() {
                    t.len += buf.len() as u64;
                }
            }
        }
        Ok(log)
    }

    /// Under the file lock: append the records the journal holds beyond the log's last complete
    /// record (what a machine crash lost of the log but not of its synced journal), and sync
    /// the log. A torn final line is replaced when it is the start of those records, and left
    /// to the torn-tail recovery otherwise. Returns the number of bytes appended.
    fn replay_journal(&self) -> Result<u64> {
        let io = |what| move |e| AuditError::io(what, &self.path, e);
        let len = file_len(&self.file).map_err(io("stat"))?;
        if self.sync_mark.read() > len || self.sync_mark.read_main() > len {
            // A crash lost bytes the mark counted (and the journal could not give back): bytes
            // written there again are not synced.
            self.sync_mark
                .lower_to(len)
                .map_err(|e| AuditError::io("update", &self.sync_mark.path, e))?;
        }
        let end = if len == 0 {
            0
        } else {
            let mut last = [0u8; 1];
            self.file
                .read_exact_at(&mut last, len - 1)
                .map_err(io("read"))?;
            if last[0] == b'\n' {
                len
            } else {
                find_last_newline(&self.file, len).map_err(io("read"))?
            }
        };
        let (seq, hash) = if end == 0 {
            (0, GENESIS.to_owned())
        } else {
            let line = line_ending_at(&self.file, end, 0).map_err(io("read"))?;
            match parse_seq_hash(&line, &self.path) {
                Ok(v) => v,
                // Not a record: nothing can chain onto it (verify reports it).
                Err(_) => return Ok(0),
            }
        };
        let more = self.journal.continuation(end, seq, &hash)?;
        if more.is_empty() {
            return Ok(0);
        }
        if len > end {
            let mut torn = vec![0u8; (len - end) as usize];
            self.file
                .read_exact_at(&mut torn, end)
                .map_err(io("read"))?;
            if !more.starts_with(&torn) {
                return Ok(0);
            }
            self.file.set_len(end).map_err(io("truncate"))?;
        }
        self.write_raw(&more)?;
        self.file.sync_data().map_err(io("fdatasync"))?;
        let now = end + more.len() as u64;
        self.sync_mark
            .raise_main(now)
            .map_err(|e| AuditError::io("update", &self.sync_mark.path, e))?;
        Ok(more.len() as u64)
    }

    /// Name the head anchor [`AuditLog::seal`] stores its notes in (see [`LogOptions::anchor`]).
    pub fn set_anchor(&mut self, anchor: std::path::PathBuf) {
        self.opts.anchor = Some(anchor);
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

    fn lock_chain(&self) -> MutexGuard<'_, Chain> {
        match self.chain.lock() {
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
        let entry = Self::prepare(kind, body)?;
        self.submit(entry, Durability::Journal).map(|(a, _)| a)
    }

    /// Append like [`AuditLog::append`], but return once written, without waiting for `fdatasync`:
    /// the record survives a crash of this process at once, and a crash of the machine once the
    /// next durable append (by any writer) or the kernel's writeback has synced it. For records
    /// whose loss after a power failure is already accounted for, such as outcomes (an intent
    /// without an outcome is reported as "outcome unknown"); never for intents.
    pub fn append_lazy(&self, kind: &str, body: Map<String, Value>) -> Result<Appended> {
        let entry = Self::prepare(kind, body)?;
        self.submit(entry, Durability::Written).map(|(a, _)| a)
    }

    /// Append a typed record and return once durable (see [`AuditLog::append`]).
    pub fn append_record(&self, record: crate::Record) -> Result<Appended> {
        let (kind, body) = record.into_body();
        self.append(kind, body)
    }

    /// Append a typed record without waiting for `fdatasync` (see [`AuditLog::append_lazy`]).
    pub fn append_record_lazy(&self, record: crate::Record) -> Result<Appended> {
        let (kind, body) = record.into_body();
        self.append_lazy(kind, body)
    }

    /// Append a typed record without waiting for `fdatasync`, and have it made durable within
    /// `within` by a background flush (one `fdatasync` for every record written by then, shared
    /// with any other writer's). For records that may proceed before they are on disk but must
    /// be there soon after: `[audit] nested = "buffered"`. A later durable append, a seal and
    /// dropping the log make it durable too.
    pub fn append_record_buffered(
        self: &Arc<Self>,
        record: crate::Record,
        within: std::time::Duration,
    ) -> Result<Appended> {
        let (kind, body) = record.into_body();
        self.append_buffered(kind, body, within)
    }

    /// [`AuditLog::append_record_buffered`] for a record of `kind` with `body`.
    pub fn append_buffered(
        self: &Arc<Self>,
        kind: &str,
        body: Map<String, Value>,
        within: std::time::Duration,
    ) -> Result<Appended> {
        let appended = self.append_lazy(kind, body)?;
        let due = std::time::Instant::now() + within;
        {
            // A flush already due no later than ours covers this record (written before it
            // starts): no need to wake the flusher for every record of an exec storm.
            let mut armed = self.flush_due.lock().unwrap_or_else(|p| p.into_inner());
            if armed.is_some_and(|d| d <= due) {
                return Ok(appended);
            }
            *armed = Some(due);
        }
        let flusher = self.flusher.get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel();
            let log = Arc::downgrade(self);
            // Without a thread the receiver is gone: every buffered record is then flushed by
            // its own writer (the send below fails).
            let _ = std::thread::Builder::new()
                .name("audit-flush".into())
                .spawn(move || flush_loop(&log, &rx));
            tx
        });
        if flusher.send(due).is_err() {
            self.flush()?;
        }
        Ok(appended)
    }

    /// Make every record written through this handle so far durable: one `fdatasync`, unless
    /// one that started after they were written has completed (by any writer or process).
    pub fn flush(&self) -> Result<()> {
        let mut sh = self.lock_shared();
        let generation = sh.written;
        loop {
            if let Some(msg) = &sh.poisoned {
                return Err(AuditError::Corrupt(msg.clone()));
            }
            if sh.synced >= generation {
                return Ok(());
            }
            if !sh.syncing {
                self.sync(sh);
                sh = self.lock_shared();
                continue;
            }
            // Woken by the syncer once an `fdatasync` covering `generation` completed.
            sh.sync_waiters.push((generation, std::thread::current()));
            drop(sh);
            std::thread::park();
            sh = self.lock_shared();
        }
    }

    /// Append a checkpoint record now and return it with its (signed, if a key is set) note.
    pub fn checkpoint(&self) -> Result<(Appended, String)> {
        let (a, notes) = self.submit(Entry::Checkpoint, Durability::Journal)?;
        Ok((a, notes.checkpoint.unwrap_or_default()))
    }

    /// Seal the log's head: append a checkpoint record (signed when a key is set) durably, then
    /// store the note over every record up to and including it in the head anchor (when
    /// [`LogOptions::anchor`] names one), so that `verify` can tell records cut off the end of
    /// the log — which a prefix of a valid log would otherwise hide. Call it when a unit of work
    /// (a `warden run`, a worker's action) has written its last record.
    pub fn seal(&self) -> Result<Sealed> {
        let (appended, notes) = self.submit(Entry::Seal { only_first: false }, Durability::Log)?;
        let head = notes.head.unwrap_or_default();
        if let Some(path) = &self.opts.anchor {
            crate::anchor::store(path, &head)?;
        }
        Ok(Sealed {
            appended,
            checkpoint: notes.checkpoint.unwrap_or_default(),
            head,
        })
    }

    /// Declare a new log anchored: when the log is still empty, its first record is a seal (and
    /// the anchor is stored at once). A log that was ever written through an anchored handle then
    /// holds a seal in every non-empty prefix, so `verify` requires the anchor whatever was cut
    /// off the end; without it, a log cut before its first end-of-run seal, with the anchor file
    /// deleted, was a valid unanchored log. Checked under the file lock, so of several processes
    /// opening a new log exactly one writes it, before any other record. Returns the seal when
    /// this call wrote it. (An empty log with its anchor deleted still verifies: there is nothing
    /// left to declare anything.)
    pub fn declare_anchored(&self) -> Result<Option<Sealed>> {
        let Some(path) = &self.opts.anchor else {
            return Ok(None);
        };
        // The common case, a log with records, costs one `fstat`.
        let len = file_len(&self.file).map_err(|e| AuditError::io("stat", &self.path, e))?;
        if len > 0 {
            return Ok(None);
        }
        let (appended, notes) = self.submit(Entry::Seal { only_first: true }, Durability::Log)?;
        let Some(head) = notes.head else {
            return Ok(None);
        };
        crate::anchor::store(path, &head)?;
        Ok(Some(Sealed {
            appended,
            checkpoint: notes.checkpoint.unwrap_or_default(),
            head,
        }))
    }

    /// Everything about a record that does not depend on its place in the chain, done in the
    /// caller's thread so that concurrent writers do it in parallel rather than inside the
    /// group commit: checks, redaction, canonical encoding and most of the hashing. A record
    /// without a canonical form is refused here, so it cannot fail the group it would have
    /// been committed with.
    fn prepare(kind: &str, body: Map<String, Value>) -> Result<Entry> {
        if let Some(k) = RESERVED.iter().find(|k| body.contains_key(**k)) {
            return Err(AuditError::Invalid(format!(
                "record field {k:?} is reserved"
            )));
        }
        if kind.is_empty() {
            return Err(AuditError::Invalid("record kind is empty".into()));
        }
        let mut found = Redactions::new();
        let mut body = Value::Object(body);
        redact_value_in_place(&mut body, &mut found);
        let Value::Object(mut body) = body else {
            unreachable!("redaction keeps an object an object")
        };
        if !found.is_empty() {
            body.insert(
                "redactions".into(),
                serde_json::to_value(&found).unwrap_or_default(),
            );
        }
        Ok(Entry::Record {
            template: RecordTemplate::new(kind, &body)?,
            checkpoint_kind: kind == "checkpoint",
        })
    }

    fn submit(&self, entry: Entry, durability: Durability) -> Result<Written> {
        let durable = durability != Durability::Written;
        let mut sh = self.lock_shared();
        if let Some(msg) = &sh.poisoned {
            return Err(AuditError::Corrupt(msg.clone()));
        }
        let ticket = sh.next_ticket;
        sh.next_ticket += 1;
        sh.queue.push(Pending {
            waiter: Waiter {
                ticket,
                durable,
                thread: std::thread::current(),
            },
            entry,
        });
        // Phase 1: until our record is written (as the leader, or by one).
        let (written, generation) = loop {
            if let Some(r) = sh.results.remove(&ticket) {
                break r.map_err(AuditError::Corrupt)?;
            }
            if !sh.leader {
                sh.leader = true;
                let batch = std::mem::take(&mut sh.queue);
                // Build and write outside the in-process mutex so that others can queue behind.
                drop(sh);
                let outcome = self.commit(batch);
                sh = self.lock_shared();
                sh.leader = false;
                self.publish(&mut sh, outcome);
                // Hand the leader role on: the next batch is written while ours is synced.
                if let Some(next) = sh.queue.first() {
                    next.waiter.thread.unpark();
                }
                // Someone must sync the batch: we do below if our record is durable.
                if !durable
                    && !sh.syncing
                    && let Some((_, t)) = sh.sync_waiters.first()
                {
                    t.unpark();
                }
                continue;
            }
            drop(sh);
            std::thread::park();
            sh = self.lock_shared();
        };
        if !durable {
            return Ok(written);
        }
        // Phase 2: until an `fdatasync` that started after our batch was written has finished
        // (of the log file itself for `Durability::Log`).
        let main = durability == Durability::Log;
        loop {
            if let Some(msg) = &sh.poisoned {
                return Err(AuditError::Corrupt(msg.clone()));
            }
            if sh.synced >= generation && (!main || sh.main_synced >= generation) {
                return Ok(written);
            }
            if main {
                sh.main_wanted = sh.main_wanted.max(generation);
            }
            if !sh.syncing {
                self.sync(sh);
                sh = self.lock_shared();
                continue;
            }
            // A sync of the journal alone woke (and dropped) a waiter for the log's own sync:
            // wait again for the next one.
            let me = std::thread::current();
            if main && !sh.sync_waiters.iter().any(|(_, t)| t.id() == me.id()) {
                sh.sync_waiters.push((generation, me));
            }
            drop(sh);
            std::thread::park();
            sh = self.lock_shared();
        }
    }

    /// Record a batch's results and wake whoever can go on: submitters of lazy records and of
    /// failed batches now; submitters of durable records once synced (see [`Self::sync`]).
    fn publish(&self, sh: &mut Shared, outcome: Committed) {
        match outcome {
            Ok((done, records, len)) => {
                sh.written += 1;
                sh.written_records += records;
                sh.written_len = len;
                let generation = sh.written;
                for (w, rec) in done {
                    sh.results.insert(w.ticket, Ok((rec, generation)));
                    if w.durable {
                        sh.sync_waiters.push((generation, w.thread));
                    } else {
                        w.thread.unpark();
                    }
                }
            }
            Err((waiters, e)) => {
                let msg = e.to_string();
                for w in waiters {
                    sh.results.insert(w.ticket, Err(msg.clone()));
                    w.thread.unpark();
                }
            }
        }
    }

    /// Run an `fdatasync` covering every batch written so far and wake the submitters it made
    /// durable; while others wait for a later batch, go on with the next `fdatasync` at once (a
    /// few rounds at most, so that no submitter is kept long), then hand the syncer role to
    /// one still waiting. Going on keeps the disk busy without waiting for a woken thread to
    /// be scheduled, which on a loaded machine takes longer than the `fdatasync`.
    fn sync<'a>(&'a self, mut sh: MutexGuard<'a, Shared>) {
        use std::sync::atomic::Ordering::Relaxed;
        const ROUNDS: usize = 3;
        for round in 1..=ROUNDS {
            sh.syncing = true;
            let (target, target_records, target_len) =
                (sh.written, sh.written_records, sh.written_len);
            let main = sh.main_wanted > sh.main_synced;
            drop(sh);
            let res = self
                .sync_mark
                .sync_covering(&self.file, &self.journal, target_len, main);
            sh = self.lock_shared();
            sh.syncing = false;
            match res {
                Ok(ran) => {
                    if ran {
                        self.syncs.fetch_add(1, Relaxed);
                    }
                    self.synced_records
                        .fetch_add(target_records - sh.synced_records, Relaxed);
                    sh.synced = target;
                    sh.synced_records = target_records;
                    if main {
                        sh.main_synced = target;
                    }
                }
                Err(e) => {
                    sh.poisoned = Some(format!(
                        "{}: fdatasync failed ({e}); records written since the last successful \
                         sync may be lost, reopen the log and run `warden audit verify`",
                        self.path.display()
                    ));
                }
            }
            let poisoned = sh.poisoned.is_some();
            let mut i = 0;
            while i < sh.sync_waiters.len() {
                if poisoned || sh.sync_waiters[i].0 <= target {
                    sh.sync_waiters.swap_remove(i).1.unpark();
                } else {
                    i += 1;
                }
            }
            // Whoever still waits was written after this sync started.
            if sh.sync_waiters.is_empty() || round == ROUNDS {
                break;
            }
        }
        if let Some((_, next)) = sh.sync_waiters.first() {
            next.unpark();
        }
    }

    /// Chain and write one batch under the file lock (released before any `fdatasync`, so that
    /// other processes can write while this one syncs).
    fn commit(&self, batch: Vec<Pending>) -> Committed {
        let (waiters, entries): (Vec<Waiter>, Vec<(u64, Entry)>) = batch
            .into_iter()
            .map(|p| {
                let ticket = p.waiter.ticket;
                (p.waiter, (ticket, p.entry))
            })
            .unzip();
        let mut chain = self.lock_chain();
        let guard = match self.lock_file() {
            Ok(g) => g,
            Err(e) => return Err((waiters, e)),
        };
        let mut buf = Vec::with_capacity(512 * entries.len());
        let mut results = Vec::with_capacity(entries.len());
        let run = (|| {
            let mut all = Vec::new();
            self.refresh(&mut chain, &mut all)?;
            all.extend(entries);
            let records = self.build(&mut chain, all, &mut buf, &mut results)?;
            self.write_raw(&buf)?;
            Ok(records)
        })();
        drop(guard);
        match run {
            Ok(records) => {
                let mut len = 0;
                if let Some(t) = chain.tail.as_mut() {
                    t.len += buf.len() as u64;
                    len = t.len;
                }
                // `build` reports the submitted entries in order (internal ones left out).
                debug_assert!(
                    results
                        .iter()
                        .map(|r| r.0)
                        .eq(waiters.iter().map(|w| w.ticket))
                );
                let done = waiters
                    .into_iter()
                    .zip(results)
                    .map(|(w, (_, rec))| (w, rec))
                    .collect();
                Ok((done, records, len))
            }
            Err(e) => {
                // The file state is unknown now: forget the cached tail.
                chain.forget();
                Err((waiters, e))
            }
        }
    }

    /// Group-commit counters of this handle: (`fdatasync` calls, records they made durable).
    pub fn commit_stats(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.syncs.load(Relaxed), self.synced_records.load(Relaxed))
    }

    /// One `write` of a whole batch (the file is opened for appending).
    fn write_raw(&self, buf: &[u8]) -> Result<()> {
        (&self.file)
            .write_all(buf)
            .map_err(|e| AuditError::io("append to", &self.path, e))
    }

    /// Under the file lock: bring the cached tail up to date with the file, repairing a torn
    /// final line (a `recovery` entry is pushed onto `pre`).
    fn refresh(&self, sh: &mut Chain, pre: &mut Vec<(u64, Entry)>) -> Result<()> {
        let len = file_len(&self.file).map_err(|e| AuditError::io("stat", &self.path, e))?;
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
                self.sync_mark
                    .lower_to(keep)
                    .map_err(|e| AuditError::io("update", &self.sync_mark.path, e))?;
                let mut body = Map::new();
                body.insert("event".into(), "torn-tail-truncated".into());
                body.insert("truncated_bytes".into(), (len - keep).into());
                body.insert(
                    "truncated_sha256".into(),
                    hex::encode(Sha256::digest(&torn)).into(),
                );
                body.insert("at_offset".into(), keep.into());
                pre.push((
                    INTERNAL,
                    Entry::Record {
                        template: RecordTemplate::new("recovery", &body)?,
                        checkpoint_kind: false,
                    },
                ));
                len = keep;
                sh.forget();
            }
        }
        match sh.tail.clone() {
            Some(t) if t.len < len && sh.frontier.is_none() => {
                // Others appended, and only the last record matters (no tree to extend).
                let line = line_ending_at(&self.file, len, t.len)
                    .map_err(|e| AuditError::io("read", &self.path, e))?;
                let (seq, hash) = parse_seq_hash(&line, &self.path)?;
                sh.tail = Some(Tail { len, seq, hash });
            }
            Some(t) if t.len < len => {
                // Others appended: read what they wrote.
                let mut buf = vec![0u8; (len - t.len) as usize];
                self.file
                    .read_exact_at(&mut buf, t.len)
                    .map_err(|e| AuditError::io("read", &self.path, e))?;
                let mut tail = t;
                for line in buf.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    let (seq, hash) = parse_seq_hash(line, &self.path)?;
                    if let Some(f) = sh.frontier.as_mut() {
                        f.push(merkle::leaf_hash(&hex_hash(&hash)?));
                    }
                    tail.seq = seq;
                    tail.hash = hash;
                }
                tail.len = len;
                sh.tail = Some(tail);
            }
            _ => {
                sh.frontier = None;
                if len == 0 {
                    sh.tail = Some(Tail {
                        len: 0,
                        seq: 0,
                        hash: GENESIS.into(),
                    });
                    sh.frontier = Some(merkle::Frontier::default());
                } else {
                    let line = line_ending_at(&self.file, len, 0)
                        .map_err(|e| AuditError::io("read", &self.path, e))?;
                    let (seq, hash) = parse_seq_hash(&line, &self.path)?;
                    sh.tail = Some(Tail { len, seq, hash });
                }
            }
        }
        Ok(())
    }

    fn load_frontier(&self, sh: &mut Chain) -> Result<()> {
        if sh.frontier.is_some() {
            return Ok(());
        }
        let len = sh.tail.as_ref().map_or(0, |t| t.len);
        // The tree's right edge over a prefix of the log, from the cache beside it: every run
        // seals the log, and reading or hashing every record each time made a run's cost grow
        // with the log.
        let cache = FrontierCache::path(&self.path);
        let (covered, mut frontier) = FrontierCache::read(&cache, &self.file, len);
        let mut buf = vec![0u8; (len - covered) as usize];
        self.file
            .read_exact_at(&mut buf, covered)
            .map_err(|e| AuditError::io("read", &self.path, e))?;
        let mut last_leaf = None;
        for line in buf.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let (_, hash) = parse_seq_hash(line, &self.path)?;
            let leaf = merkle::leaf_hash(&hex_hash(&hash)?);
            frontier.push(leaf);
            last_leaf = Some(leaf);
        }
        if let Some(leaf) = last_leaf {
            FrontierCache::write(&cache, &frontier, &leaf, len);
            if covered == 0 {
                FrontierCache::remove_old(&self.path);
            }
        }
        sh.frontier = Some(frontier);
        Ok(())
    }

    /// Turn queued entries into record lines (chained onto the cached tail) appended to `buf`,
    /// reporting each entry's record under its ticket (internal ones left out), in order.
    /// Returns the number of records (automatic checkpoints included).
    fn build(
        &self,
        sh: &mut Chain,
        entries: Vec<(u64, Entry)>,
        buf: &mut Vec<u8>,
        results: &mut Vec<(u64, Written)>,
    ) -> Result<u64> {
        let Some(mut tail) = sh.tail.clone() else {
            return Err(AuditError::Corrupt("log tail unknown".into()));
        };
        let first_seq = tail.seq;
        let every = self.opts.checkpoint_every;
        let records = entries.len() as u64;
        let wants_tree = entries
            .iter()
            .any(|e| matches!(e.1, Entry::Checkpoint | Entry::Seal { .. }))
            || (every > 0 && (tail.seq + 2 * records) / every > tail.seq / every);
        if wants_tree {
            self.load_frontier(sh)?;
        }
        let ts = now_ns();
        for (ticket, entry) in entries {
            let mut notes = Notes::default();
            if matches!(entry, Entry::Seal { only_first: true }) && tail.seq > 0 {
                // Someone else wrote the log's first records: nothing to declare.
                if ticket != INTERNAL {
                    let current = Appended {
                        seq: tail.seq,
                        hash: tail.hash.clone(),
                        ts_ns: ts,
                    };
                    results.push((ticket, (current, notes)));
                }
                continue;
            }
            let seal = matches!(entry, Entry::Seal { .. });
            let (template, checkpoint_kind) = match entry {
                // Redaction and encoding already happened in the submitting thread.
                Entry::Record {
                    template,
                    checkpoint_kind,
                } => (template, checkpoint_kind),
                Entry::Checkpoint | Entry::Seal { .. } => {
                    let (mut body, note) = self.checkpoint_body(sh, tail.seq)?;
                    if seal {
                        body.insert("seal".into(), true.into());
                    }
                    notes.checkpoint = Some(note);
                    (RecordTemplate::new("checkpoint", &body)?, true)
                }
            };
            let appended = Self::emit(sh, &mut tail, template, ts, buf);
            if seal {
                // The head: the tree over every record, the seal's own included.
                notes.head = Some(self.checkpoint_body(sh, tail.seq)?.1);
            }
            if ticket != INTERNAL {
                results.push((ticket, (appended, notes)));
            }
            if every > 0 && !checkpoint_kind && tail.seq % every == 0 && sh.frontier.is_some() {
                let (body, _) = self.checkpoint_body(sh, tail.seq)?;
                let template = RecordTemplate::new("checkpoint", &body)?;
                Self::emit(sh, &mut tail, template, ts, buf);
            }
        }
        // The cached length is advanced by the caller once the bytes are written.
        let old_len = sh.tail.as_ref().map_or(0, |t| t.len);
        tail.len = old_len;
        let written = tail.seq - first_seq;
        sh.tail = Some(tail);
        Ok(written)
    }

    /// Chain one prepared record onto `tail`: the leader's whole per-record work is the rest of
    /// one SHA-256 and copying the line into the batch buffer.
    fn emit(
        sh: &mut Chain,
        tail: &mut Tail,
        template: RecordTemplate,
        ts: u64,
        buf: &mut Vec<u8>,
    ) -> Appended {
        let seq = tail.seq + 1;
        let h = template.finish(&tail.hash, seq, ts, buf);
        if let Some(f) = sh.frontier.as_mut() {
            f.push(merkle::leaf_hash(&h));
        }
        tail.seq = seq;
        tail.hash = hex::encode(h);
        Appended {
            seq,
            hash: tail.hash.clone(),
            ts_ns: ts,
        }
    }

    fn checkpoint_body(&self, sh: &mut Chain, size: u64) -> Result<(Map<String, Value>, String)> {
        // Checkpoints are always over every record so far: the frontier's tree.
        let root = match &sh.frontier {
            Some(f) if f.len() as u64 == size => f.root(),
            Some(f) => {
                return Err(AuditError::Corrupt(format!(
                    "checkpoint of {size} records over a tree of {}",
                    f.len()
                )));
            }
            None => return Err(AuditError::Corrupt("tree not loaded".into())),
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

/// The line that ends at `end` (its `\n` at `end - 1`, not included), from `not_before` at the
/// earliest: the last record of a log `end` bytes long.
fn line_ending_at(file: &File, end: u64, not_before: u64) -> std::io::Result<Vec<u8>> {
    let start = find_last_newline(file, end - 1)?.max(not_before);
    let mut line = vec![0u8; (end - 1 - start) as usize];
    file.read_exact_at(&mut line, start)?;
    Ok(line)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn len(path: &Path) -> u64 {
        std::fs::metadata(path).unwrap().len()
    }

    /// Every run's seal reads only the records after the frontier cache; each seal's root must
    /// still be the tree over the whole log, with a fresh handle per "run", and a cache that no
    /// longer fits the log (a damaged byte, a cache longer than the log) is not believed.
    #[test]
    fn seals_from_the_frontier_cache_match_the_whole_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let cache = FrontierCache::path(&path);
        let opts = || LogOptions {
            origin: "test/leaf-cache".into(),
            ..LogOptions::default()
        };
        let verify = || {
            let r = crate::verify::verify(&path, &crate::verify::VerifyOptions::default()).unwrap();
            assert!(r.ok, "{:?}", r.problems);
            r
        };
        for run in 0..5 {
            let log = AuditLog::open(&path, opts()).unwrap();
            for _ in 0..3 {
                log.append("t", Map::new()).unwrap();
            }
            log.seal().unwrap();
            // A new log keeps its tree in memory; the first reader of an existing one
            // writes the cache.
            assert_eq!(cache.exists(), run > 0, "run {run}");
            verify();
        }
        // A damaged node: ignored (the checksum), so the next seal is still right.
        let mut raw = std::fs::read(&cache).unwrap();
        raw[FrontierCache::HEADER] ^= 0xff;
        std::fs::write(&cache, &raw).unwrap();
        let log = AuditLog::open(&path, opts()).unwrap();
        log.append("t", Map::new()).unwrap();
        log.seal().unwrap();
        verify();
        // A cache that covers more than the log (cut short), checksum and all: ignored.
        let mut raw = std::fs::read(&cache).unwrap();
        raw[..8].copy_from_slice(&(len(&path) * 2).to_le_bytes());
        let n = raw.len() - 32;
        let sum = Sha256::digest(&raw[..n]);
        raw[n..].copy_from_slice(&sum);
        std::fs::write(&cache, &raw).unwrap();
        let log = AuditLog::open(&path, opts()).unwrap();
        log.seal().unwrap();
        let r = verify();
        assert_eq!(r.after_last_checkpoint, 0);
        // The cache as written fits the log; one whose last leaf is not the last covered
        // record's (a cache of another log with as many records) does not, checksum and all.
        let file = File::open(&path).unwrap();
        let (covered, frontier) = FrontierCache::read(&cache, &file, len(&path));
        assert!(covered > 0 && !frontier.is_empty());
        let mut raw = std::fs::read(&cache).unwrap();
        raw[20] ^= 0xff;
        let n = raw.len() - 32;
        let sum = Sha256::digest(&raw[..n]);
        raw[n..].copy_from_slice(&sum);
        std::fs::write(&cache, &raw).unwrap();
        let (covered, frontier) = FrontierCache::read(&cache, &file, len(&path));
        assert_eq!(
            (covered, frontier.len()),
            (0, 0),
            "another record's leaf believed"
        );
        let log = AuditLog::open(&path, opts()).unwrap();
        log.seal().unwrap();
        verify();
    }

    /// What makes a run's cost independent of the log's length: with the cache in place, a seal
    /// reads only the records after it, and the cache itself is a few hundred bytes whatever the
    /// log's length. Here every record it covers is overwritten with garbage of the same length,
    /// and the next seal still succeeds, with the root the tree over the real records had. (The
    /// leaf cache before it also skipped the covered records, but held 32 bytes a record, all
    /// read and hashed into the tree on each run: ~1 ms per 1,300 records; its size is what the
    /// bound below would have caught. bench/run_log_size.sh measures the time.)
    #[test]
    fn a_seal_reads_only_the_records_after_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let opts = || LogOptions {
            origin: "test/frontier".into(),
            ..LogOptions::default()
        };
        let log = AuditLog::open(&path, opts()).unwrap();
        for _ in 0..100 {
            log.append_lazy("t", Map::new()).unwrap();
        }
        log.append("t", Map::new()).unwrap();
        drop(log);
        // A second handle seals: it reads the whole log once and writes the cache.
        AuditLog::open(&path, opts()).unwrap().seal().unwrap();
        let intact = std::fs::read(&path).unwrap();
        let report = crate::verify(&path, &Default::default()).unwrap();
        assert!(report.ok, "{:?}", report.problems);
        // Garble every covered record but the last (whose hash the cache is checked against;
        // the seal's checkpoint after it is not covered).
        let (covered, _) = FrontierCache::read(
            &FrontierCache::path(&path),
            &File::open(&path).unwrap(),
            len(&path),
        );
        assert!(covered > 0, "no cache written");
        // 101 records: 4 subtree roots (101 = 64 + 32 + 4 + 1), not 101 leaves.
        assert_eq!(
            len(&FrontierCache::path(&path)),
            (FrontierCache::HEADER + 4 * 32 + 32) as u64
        );
        let covered = usize::try_from(covered).unwrap();
        let last_start = intact[..covered - 1]
            .iter()
            .rposition(|b| *b == b'\n')
            .unwrap()
            + 1;
        let mut garbled = intact.clone();
        for b in &mut garbled[..last_start] {
            if *b != b'\n' {
                *b = b'#';
            }
        }
        std::fs::write(&path, &garbled).unwrap();
        let sealed = AuditLog::open(&path, opts()).unwrap().seal().unwrap();
        // Put the real records back: the new seal's checkpoint is right over them.
        let mut fixed = intact;
        fixed.extend_from_slice(&std::fs::read(&path).unwrap()[garbled.len()..]);
        std::fs::write(&path, &fixed).unwrap();
        let report = crate::verify(&path, &Default::default()).unwrap();
        assert!(report.ok, "{:?}", report.problems);
        assert_eq!(report.after_last_checkpoint, 0, "{}", sealed.head);
    }

    /// The anchored declaration is written only as the first record: submitted to a log another
    /// handle wrote first (the race `declare_anchored`'s length check cannot see), it writes
    /// nothing and returns no note.
    #[test]
    fn the_declaration_is_only_ever_the_first_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path, LogOptions::default()).unwrap();
        log.append("t", Map::new()).unwrap();
        let before = std::fs::read(&path).unwrap();
        let (a, notes) = log
            .submit(Entry::Seal { only_first: true }, Durability::Log)
            .unwrap();
        assert_eq!(a.seq, 1);
        assert!(notes.head.is_none() && notes.checkpoint.is_none());
        assert_eq!(std::fs::read(&path).unwrap(), before);
        let fresh = dir.path().join("fresh.jsonl");
        let log = AuditLog::open(&fresh, LogOptions::default()).unwrap();
        let (a, notes) = log
            .submit(Entry::Seal { only_first: true }, Durability::Log)
            .unwrap();
        assert_eq!(a.seq, 1);
        assert!(notes.head.is_some());
    }

    #[test]
    fn a_sync_by_another_handle_covers_records_written_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let a = AuditLog::open(&path, LogOptions::default()).unwrap();
        let b = AuditLog::open(&path, LogOptions::default()).unwrap();
        a.append_lazy("t", Map::new()).unwrap();
        let a_end = len(&path);
        assert!(a.sync_mark.read() < a_end, "a lazy append is not synced");
        b.append("t", Map::new()).unwrap();
        assert_eq!(
            b.sync_mark.read(),
            len(&path),
            "the durable append marks its sync"
        );
        // The first handle's record is covered: no fdatasync of its own.
        assert!(
            !a.sync_mark
                .sync_covering(&a.file, &a.journal, a_end, false)
                .unwrap()
        );
        // The mark of another file (another inode) covers nothing.
        std::fs::copy(
            format!("{}.sync", path.display()),
            dir.path().join("x.jsonl.sync"),
        )
        .unwrap();
        let x = AuditLog::open(&dir.path().join("x.jsonl"), LogOptions::default()).unwrap();
        assert_eq!(x.sync_mark.read(), 0);
    }

    /// Regression: a torn-tail truncation must lower the mark, or records written again below
    /// the old mark would be taken for synced and returned without an `fdatasync`.
    #[test]
    fn truncating_a_torn_tail_lowers_the_sync_mark() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path, LogOptions::default()).unwrap();
        log.append("t", Map::new()).unwrap();
        let keep = len(&path);
        // A writer killed mid-line, and a sync that ran while the torn bytes were there.
        let torn = format!("{{\"seq\":2,\"pad\":\"{}", "x".repeat(4000));
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(torn.as_bytes())
            .unwrap();
        assert!(
            log.sync_mark
                .sync_covering(&log.file, &log.journal, len(&path), false)
                .unwrap()
        );
        assert!(log.sync_mark.read() > keep + 4000);
        // Another process opens the log: it truncates the torn line and records the recovery.
        let other = AuditLog::open(&path, LogOptions::default()).unwrap();
        assert!(other.sync_mark.read() <= keep, "mark not lowered");
        let (syncs, _) = log.commit_stats();
        let a = log.append("t", Map::new()).unwrap();
        assert!(
            len(&path) < keep + 4000,
            "the new record sits below the old mark"
        );
        assert_eq!(
            log.commit_stats().0,
            syncs + 1,
            "the new record was not synced"
        );
        assert_eq!(a.seq, 3, "intent, recovery, intent");
        let report = crate::verify(&path, &Default::default()).unwrap();
        assert!(report.ok, "{:?}", report.problems);
    }
}
