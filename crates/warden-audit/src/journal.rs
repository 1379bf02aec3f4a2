//! The sync journal (`<log>.journal`): a fixed-size, pre-written ring holding a copy of the log's
//! last bytes, so that a durable append costs a direct write of a block or two into a file whose
//! size and blocks never change, and the device's cache flush, instead of an `fdatasync` of a
//! growing log (its data, then its inode for the new size — a second synchronous write on a file
//! system without a journal, a journal commit on one with — then the flush).
//!
//! The log itself is unchanged (one record a line, appended): every reader sees it as before.
//! Writers append to the log; a sync copies the log's bytes written since the last one into the
//! ring at their log offsets modulo the ring's size ([`Journal::persist`]), which makes them
//! durable. The log file itself is synced when the ring is half a lap ahead of it (once per half
//! a ring's worth of records, so the ring never overwrites bytes that are durable nowhere else),
//! when a head is sealed, and when more than that was written at once.
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

/// Direct I/O works in whole blocks of this size (a multiple of every device's logical block).
const BLOCK: u64 = 4096;

/// The open ring of one log.
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    /// The ring opened `O_DIRECT` for [`Journal::persist`]; `None` where the file system
    /// refuses direct I/O (then the page cache is used).
    direct: std::sync::Mutex<Option<File>>,
}

impl Journal {
    /// `<log>.journal` beside the log.
    pub(crate) fn path(log_path: &Path) -> PathBuf {
        crate::log::companion_path(log_path, ".journal")
    }

    /// Open the ring of the log at `log_path` (inode `log_ino`), creating it (written with
    /// zeros, so that later overwrites allocate nothing, and synced with its directory entry)
    /// when it is missing, shorter than [`JOURNAL_SIZE`] or another file's. Call under the
    /// log's file lock.
    pub(crate) fn open(log_path: &Path, log_ino: u64) -> Result<Self> {
        let path = Self::path(log_path);
        let file = crate::log::open_companion(&path)?;
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
        let direct = OpenOptions::new()
            .write(true)
            .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
            .open(&path)
            .ok();
        Ok(Self {
            path,
            file,
            direct: std::sync::Mutex::new(direct),
        })
    }

    /// Make the log's bytes from `from` to `to` durable in the ring: they are read back from the
    /// log (the page cache) and written, in whole blocks at their offsets modulo
    /// [`JOURNAL_SIZE`], through a descriptor opened `O_DIRECT`, then the ring is synced. A
    /// direct write of pre-written blocks changes neither the file's size nor its blocks, so
    /// the sync that follows is the device's cache flush alone (and, at most once per clock
    /// tick, the inode's new modification time); the page cache of the ring is never dirtied.
    /// At most `JOURNAL_SIZE - BLOCK` bytes (the caller syncs the log file itself beyond
    /// that). Returns the end actually made durable: `to`, or less when the log was cut back
    /// below `to` meanwhile (a torn-tail recovery by another process).
    ///
    /// Call under the sync mark's lock: the caller must also have made sure that the log file
    /// itself is synced up to `to - JOURNAL_SIZE` (the ring overwrites the bytes of that lap).
    pub(crate) fn persist(&self, log: &File, from: u64, to: u64) -> std::io::Result<u64> {
        let start = from.min(to) / BLOCK * BLOCK;
        let span = to - start;
        debug_assert!(span <= JOURNAL_SIZE);
        if span == 0 {
            return Ok(to);
        }
        let padded = span.div_ceil(BLOCK) * BLOCK;
        // An aligned window of a plain buffer: direct I/O needs block-aligned memory.
        let mut raw = vec![0u8; (padded + BLOCK) as usize];
        let skip = raw.as_ptr().align_offset(BLOCK as usize);
        let buf = &mut raw[skip..skip + padded as usize];
        let got = read_up_to(log, &mut buf[..span as usize], start)?;
        let end = start + got as u64;
        let used = (got as u64).div_ceil(BLOCK) * BLOCK;
        let buf = &buf[..used as usize];
        // Blocks never straddle the ring's end (its size is a whole number of blocks).
        let pos = start % JOURNAL_SIZE;
        let first = buf.len().min((JOURNAL_SIZE - pos) as usize);
        let (a, b) = buf.split_at(first);
        let direct = self.direct.lock().unwrap_or_else(|p| p.into_inner());
        let written = match direct.as_ref() {
            Some(fd) => fd
                .write_all_at(a, HEADER + pos)
                .and_then(|()| fd.write_all_at(b, HEADER))
                .and_then(|()| fd.sync_data()),
            None => Err(std::io::Error::from_raw_os_error(einval())),
        };
        drop(direct);
        match written {
            Ok(()) => {}
            // Direct I/O refused here (a file system without it): through the page cache.
            Err(e) if e.raw_os_error() == Some(einval()) => {
                *self.direct.lock().unwrap_or_else(|p| p.into_inner()) = None;
                self.file.write_all_at(a, HEADER + pos)?;
                self.file.write_all_at(b, HEADER)?;
                self.file.sync_data()?;
            }
            Err(e) => return Err(e),
        }
        Ok(end)
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

/// `EINVAL`, the error of a direct write the file system cannot do.
fn einval() -> i32 {
    rustix::io::Errno::INVAL.raw_os_error()
}

/// Read from `at` until `buf` is full or the file ends; the number of bytes read.
fn read_up_to(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], at + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
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
