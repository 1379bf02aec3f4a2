//! The head anchor: the note of a log's latest seal, kept in a file outside the log. A prefix of
//! a valid log is itself a valid log, so records cut off its end (with any checkpoint among
//! them) leave nothing in the log to notice; the anchor remembers how far the log reached and
//! its root, and `verify` checks that the log still extends it.
//!
//! The anchor only moves forward: of two seals racing to store theirs, the larger tree wins.
//!
//! The anchor is not synced to disk (a new file's `fdatasync` and the rename's metadata cost
//! several milliseconds on every run, more than the rest of the seal): the seal's checkpoint is
//! made durable in the log first, so after a machine crash the anchor may lag the log (covering
//! fewer records, which only weakens what `verify` can tell about the last runs before the
//! crash) but never claims records the log lost. Filesystems that order a rename over an
//! existing file after its data (ext4's default `auto_da_alloc`, XFS, btrfs) never leave it
//! empty; one that did would make `verify` report the anchor as malformed until the next seal.

use crate::error::{AuditError, Result};
use crate::note::Checkpoint;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// A log's head anchor as `verify` is given it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// Where the anchor file is (named in problems).
    pub path: PathBuf,
    /// Its note, or `None` when there is no such file.
    pub note: Option<String>,
}

impl Anchor {
    /// Read the anchor at `path` (a missing file is an anchor without a note).
    pub fn load(path: &Path) -> Result<Self> {
        let note = match std::fs::read_to_string(path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(AuditError::io("read", path, e)),
        };
        Ok(Self {
            path: path.to_path_buf(),
            note,
        })
    }
}

/// Store `note` as the anchor at `path` unless the anchor there already covers at least as many
/// records. Written to a temporary file, then renamed over the old one (not synced: see the
/// module doc), under a lock so that concurrent seals never move the anchor backwards.
pub fn store(path: &Path, note: &str) -> Result<()> {
    let new =
        Checkpoint::parse(note).map_err(|e| AuditError::Invalid(format!("seal note: {e}")))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| AuditError::io("create", dir, e))?;
    }
    let with = |ext: &str| crate::log::companion_path(path, ext);
    let lock_path = with(".lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|e| AuditError::io("open", &lock_path, e))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| AuditError::io("lock", &lock_path, e.into()))?;
    if let Ok(old) = std::fs::read_to_string(path)
        && let Ok(old) = Checkpoint::parse(&old)
        && old.origin == new.origin
        && old.size >= new.size
    {
        return Ok(());
    }
    let tmp = with(".tmp");
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| AuditError::io("create", &tmp, e))?;
    f.write_all(note.as_bytes())
        .map_err(|e| AuditError::io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| AuditError::io("rename", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(size: u64) -> String {
        Checkpoint {
            origin: "warden/t".into(),
            size,
            root: [size as u8; 32],
        }
        .body()
    }

    #[test]
    fn the_anchor_only_moves_forward() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("heads/log.checkpoint");
        assert_eq!(Anchor::load(&path).unwrap().note, None);
        store(&path, &note(5)).unwrap();
        // A slower seal of a smaller tree, racing the first, must not move it back.
        store(&path, &note(3)).unwrap();
        assert_eq!(Anchor::load(&path).unwrap().note, Some(note(5)));
        store(&path, &note(8)).unwrap();
        assert_eq!(Anchor::load(&path).unwrap().note, Some(note(8)));
    }

    /// The gap the declaration closes: a log cut before its first end-of-run seal (a run killed
    /// before it sealed, or an attacker cutting early), with its anchor file deleted. Before the
    /// declaration, no seal was left in the log and there was no anchor, so the cut log
    /// verified (the control below shows exactly that for an undeclared log).
    #[test]
    fn a_log_cut_before_its_first_seal_without_its_anchor_does_not_verify() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let anchor = dir.path().join("heads/anchor");
        let open = |p: &Path| {
            crate::AuditLog::open(
                p,
                crate::LogOptions {
                    origin: "warden/t".into(),
                    anchor: Some(anchor.clone()),
                    ..crate::LogOptions::default()
                },
            )
            .unwrap()
        };
        let log = open(&path);
        let declared = log.declare_anchored().unwrap().expect("declared");
        assert_eq!(declared.appended.seq, 1);
        // Declared once: a second handle (the next run) writes nothing.
        assert!(open(&path).declare_anchored().unwrap().is_none());
        assert_eq!(Anchor::load(&anchor).unwrap().note, Some(declared.head));
        for _ in 0..3 {
            log.append("note", serde_json::Map::new()).unwrap();
        }
        drop(log);
        let lines: Vec<String> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        let opts = || crate::VerifyOptions {
            anchor: Some(Anchor::load(&anchor).unwrap()),
            ..crate::VerifyOptions::default()
        };
        for keep in 1..=lines.len() {
            std::fs::write(&path, lines[..keep].join("\n") + "\n").unwrap();
            let _ = std::fs::remove_file(&anchor);
            let r = crate::verify(&path, &opts()).unwrap();
            assert!(!r.ok, "cut to {keep} records without the anchor verified");
            assert!(
                r.problems[0]
                    .message
                    .contains("the log was sealed (record 1) but its head anchor"),
                "{:?}",
                r.problems
            );
        }
        // Control: the same cut of a log never declared (the old behaviour) verifies.
        let old = dir.path().join("old.jsonl");
        let log = crate::AuditLog::open(&old, crate::LogOptions::default()).unwrap();
        log.append("note", serde_json::Map::new()).unwrap();
        drop(log);
        let r = crate::verify(&old, &opts()).unwrap();
        assert!(r.ok, "{:?}", r.problems);
    }

    #[test]
    fn a_seal_stores_the_note_over_the_whole_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let anchor = dir.path().join("anchor");
        let log = crate::AuditLog::open(
            &path,
            crate::LogOptions {
                origin: "warden/t".into(),
                anchor: Some(anchor.clone()),
                ..crate::LogOptions::default()
            },
        )
        .unwrap();
        log.append("note", serde_json::Map::new()).unwrap();
        let sealed = log.seal().unwrap();
        assert_eq!(sealed.appended.seq, 2);
        assert!(sealed.checkpoint.contains("\n1\n"), "{}", sealed.checkpoint);
        assert!(sealed.head.contains("\n2\n"), "{}", sealed.head);
        let opts = crate::VerifyOptions {
            anchor: Some(Anchor::load(&anchor).unwrap()),
            ..crate::VerifyOptions::default()
        };
        let r = crate::verify(&path, &opts).unwrap();
        assert!(r.ok, "{r:?}");
        assert_eq!((r.after_last_checkpoint, r.anchored), (0, Some(2)));
        log.append("note", serde_json::Map::new()).unwrap();
        let r = crate::verify(&path, &opts).unwrap();
        assert_eq!(r.after_last_checkpoint, 1);
    }
}
