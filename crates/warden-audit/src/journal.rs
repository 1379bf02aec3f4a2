//! The sync journal (`<log>.journal`): a fixed-size, pre-written ring holding a copy of the log's
//! last bytes, so that a durable append costs an in-place overwrite and an `fdatasync` of a file
//! whose size never changes, instead of an `fdatasync` of a growing log (which must commit the
//! file system's journal for the new size, and on a busy disk waits for every other process's
//! metadata in that commit).
//!
//! The log itself is unchanged (one record a line, appended): every reader sees it as before.
//! Every batch the log's writers append is first copied into the ring at its log offset modulo
//! the ring's size ([`Journal::mirror`]), then appended to the log. A sync of the ring makes
//! everything appended before it durable; the log file itself is synced when the ring is about
//! to overwrite bytes it has not synced yet (once per ring's worth of records), when a head is
//! sealed, and for a batch larger than the ring.
//!
//! After a machine crash the log may lack a tail the ring holds. Whoever opens the log next
//! replays it ([`Journal::continuation`]): starting at the log's last complete record, the
//! ring's bytes at the same offset are taken record by record for as long as each one is a
//! complete line that chains on (next sequence number, `prev` = the hash before it) and whose
//! hash matches its content. Stale bytes of an earlier lap, a torn write or anything else end
//! the replay there: nothing that is not the log's own continuation is accepted.

use crate::canonical::record_hash;
use crate::error::{AuditError, Result};
use serde_json::Value;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The ring's size: the log is synced itself once per this many bytes of records (some 400
/// records), and a batch larger than this is synced in the log directly.
pub const JOURNAL_SIZE: u64 = 256 << 10;

/// The file starts with a header naming the log it belongs to (magic, then the log's inode
/// number): the ring of a log that was deleted and created again, or of another file, is
/// cleared rather than replayed into it (a log's first record chains onto any empty log).
const HEADER: u64 = 4096;
const MAGIC: &[u8; 16] = b"warden-journal-1";

/// The open ring of one log.
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// `<log>.journal` beside the log.
    pub(crate) fn path(log_path: &Path) -> PathBuf {
        let mut name = log_path.as_os_str().to_owned();
        name.push(".journal");
        PathBuf::from(name)
    }

    /// Open the ring of the log at `log_path` (inode `log_ino`), creating it (written with
    /// zeros, so that later overwrites allocate nothing, and synced with its directory entry)
    /// when it is missing, shorter than [`JOURNAL_SIZE`] or another file's. Call under the
    /// log's file lock.
    pub(crate) fn open(log_path: &Path, log_ino: u64) -> Result<Self> {
        let path = Self::path(log_path);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o640)
            .open(&path)
            .map_err(|e| AuditError::io("open", &path, e))?;
        let len = file
            .metadata()
            .map_err(|e| AuditError::io("stat", &path, e))?
            .len();
        let mut header = [0u8; 24];
        header[..16].copy_from_slice(MAGIC);
        header[16..].copy_from_slice(&log_ino.to_le_bytes());
        let mut found = [0u8; 24];
        let ours = len >= HEADER + JOURNAL_SIZE
            && file.read_exact_at(&mut found, 0).is_ok()
            && found == header;
        if !ours {
            let mut fresh = vec![0u8; (HEADER + JOURNAL_SIZE) as usize];
            fresh[..24].copy_from_slice(&header);
            file.write_all_at(&fresh, 0)
                .and_then(|()| file.set_len(HEADER + JOURNAL_SIZE))
                .and_then(|()| file.sync_all())
                .map_err(|e| AuditError::io("write", &path, e))?;
            if len == 0
                && let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty())
            {
                crate::log::sync_dir(dir)?;
            }
        }
        Ok(Self { path, file })
    }

    /// Copy `bytes`, which the log holds (or is about to hold) at offset `at`, into the ring.
    /// At most [`JOURNAL_SIZE`] bytes.
    pub(crate) fn mirror(&self, at: u64, bytes: &[u8]) -> Result<()> {
        debug_assert!(bytes.len() as u64 <= JOURNAL_SIZE);
        let pos = at % JOURNAL_SIZE;
        let first = bytes.len().min((JOURNAL_SIZE - pos) as usize);
        self.file
            .write_all_at(&bytes[..first], HEADER + pos)
            .and_then(|()| self.file.write_all_at(&bytes[first..], HEADER))
            .map_err(|e| AuditError::io("write", &self.path, e))
    }

    /// `fdatasync` the ring: every byte mirrored so far is durable.
    pub(crate) fn sync(&self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    /// The records the ring holds after the log's last complete record (number `seq`, hash
    /// `hash`, ending at offset `end`): the bytes to append at `end`, each record a complete
    /// line that chains on and whose hash matches its content. Empty in the usual case (the
    /// log is complete, and the ring holds older bytes at that offset).
    pub(crate) fn continuation(&self, end: u64, seq: u64, hash: &str) -> Result<Vec<u8>> {
        let pos = end % JOURNAL_SIZE;
        // The usual answer (the first line does not chain on) needs only the first line.
        let mut head = vec![0u8; 16 << 10];
        self.read_ring(pos, &mut head)?;
        if head[0] != b'{' {
            return Ok(Vec::new());
        }
        if let Some(nl) = head.iter().position(|&b| b == b'\n')
            && chained(&head[..nl], seq + 1, hash).is_none()
        {
            return Ok(Vec::new());
        }
        let mut ring = vec![0u8; JOURNAL_SIZE as usize];
        self.read_ring(pos, &mut ring)?;
        let (mut seq, mut hash) = (seq, hash.to_owned());
        let mut taken = 0;
        while let Some(nl) = ring[taken..].iter().position(|&b| b == b'\n') {
            let line = &ring[taken..taken + nl];
            match chained(line, seq + 1, &hash) {
                Some(h) => {
                    seq += 1;
                    hash = h;
                    taken += nl + 1;
                }
                None => break,
            }
        }
        ring.truncate(taken);
        Ok(ring)
    }

    /// `buf.len()` bytes of the ring from `pos`, wrapping at its end.
    fn read_ring(&self, pos: u64, buf: &mut [u8]) -> Result<()> {
        let first = buf.len().min((JOURNAL_SIZE - pos) as usize);
        let (a, b) = buf.split_at_mut(first);
        self.file
            .read_exact_at(a, HEADER + pos)
            .and_then(|()| self.file.read_exact_at(b, HEADER))
            .map_err(|e| AuditError::io("read", &self.path, e))
    }
}

/// The hash of `line` when it is record number `seq` whose `prev` is `prev` and whose stored
/// hash is the hash of its content; `None` otherwise.
fn chained(line: &[u8], seq: u64, prev: &str) -> Option<String> {
    if line.contains(&0) {
        return None;
    }
    let v: Value = serde_json::from_slice(line).ok()?;
    let stored = v.get("hash")?.as_str()?;
    if v.get("seq")?.as_u64()? != seq || v.get("prev")?.as_str()? != prev {
        return None;
    }
    let computed = record_hash(&v).ok()?;
    (hex::encode(computed) == stored).then(|| stored.to_owned())
}
