//! Verification of a log an auditor was handed: the hash chain, sequence numbers, that every
//! outcome follows its intent, checkpoint roots and signatures, and consistency with a checkpoint
//! saved earlier. The first broken record is named; intents without an outcome are reported as
//! "outcome unknown", never dropped.

use crate::canonical::record_hash;
use crate::error::Result;
use crate::log::{GENESIS, hex_hash, read_lines};
use crate::merkle::{self, Hash};
use crate::note::{Checkpoint, NoteVerifier};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// What to check beyond the chain.
#[derive(Debug, Default)]
pub struct VerifyOptions {
    /// Verify every checkpoint's signature with this key (and require checkpoints be signed).
    pub key: Option<NoteVerifier>,
    /// A checkpoint (signed note or body) saved earlier, which the log must extend.
    pub against: Option<String>,
    /// The log's head anchor (see [`crate::anchor`]), which the log must extend; once the log
    /// holds a seal, a missing anchor is a problem too.
    pub anchor: Option<crate::anchor::Anchor>,
}

/// One problem found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line number in the file.
    pub line: u64,
    /// Sequence number of the record concerned, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.seq {
            Some(s) => write!(f, "record {s} (line {}): {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// An intent whose outcome was never recorded (e.g. the process died mid-action).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UnknownOutcome {
    /// Sequence number of the intent.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
    /// Its tool name, when recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
}

/// The verification result.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// Whether no problem was found.
    pub ok: bool,
    /// Number of records read.
    pub records: u64,
    /// Hash of the last record.
    pub head: String,
    /// Checkpoints found in the log (and signature-verified, when a key was given).
    pub checkpoints: u64,
    /// Records after the last checkpoint (all of them when there is none): what no checkpoint
    /// covers yet. 0 for a log whose last record is a seal.
    pub after_last_checkpoint: u64,
    /// Records covered by the head anchor that was checked, if one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchored: Option<u64>,
    /// Problems, first broken record first.
    pub problems: Vec<Problem>,
    /// Intents with no outcome.
    pub outcome_unknown: Vec<UnknownOutcome>,
    /// RFC 6962 root of all records.
    pub root: String,
}

fn b64(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Verify the log file at `path`.
pub fn verify(path: &Path, opts: &VerifyOptions) -> Result<VerifyReport> {
    let (lines, torn) = read_lines(path)?;
    let mut problems = Vec::new();
    let mut leaves: Vec<Hash> = Vec::with_capacity(lines.len());
    let mut prev = GENESIS.to_owned();
    let mut expect_seq = 1u64;
    // Open intents: seq -> (hash, tool); closed intents: seq -> hash.
    let mut open: BTreeMap<u64, (String, Option<String>)> = BTreeMap::new();
    let mut closed: BTreeMap<u64, String> = BTreeMap::new();
    let mut checkpoints = 0u64;
    let mut records = 0u64;
    let mut last_checkpoint = 0u64;
    let mut last_seal: Option<u64> = None;
    for (i, raw) in lines.iter().enumerate() {
        let line = i as u64 + 1;
        let mut push =
            |seq: Option<u64>, message: String| problems.push(Problem { line, seq, message });
        let v: Value = match serde_json::from_slice(raw) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                push(None, "not a JSON record object".into());
                // Keep going with the chain broken; every later record will be flagged.
                prev = String::new();
                continue;
            }
        };
        records += 1;
        let seq = v.get("seq").and_then(Value::as_u64);
        let Some(seq) = seq else {
            push(None, "record has no sequence number".into());
            continue;
        };
        let stored = v
            .get("hash")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if seq != expect_seq {
            push(
                Some(seq),
                format!(
                    "sequence number {seq} where {expect_seq} was expected (records removed, inserted or reordered)"
                ),
            );
        }
        if v.get("prev").and_then(Value::as_str) != Some(prev.as_str()) {
            push(
                Some(seq),
                "prev does not match the hash of the record before it (chain broken)".into(),
            );
        }
        match record_hash(&v) {
            Ok(h) if hex::encode(h) == stored => {}
            Ok(_) => push(
                Some(seq),
                "hash does not match the record's content (record edited)".into(),
            ),
            Err(e) => push(Some(seq), format!("cannot hash record: {e}")),
        }
        let leaf = hex_hash(&stored).unwrap_or([0; 32]);
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
        let intent_ref = || -> Option<(u64, String)> {
            Some((
                v.get("intent_seq")?.as_u64()?,
                v.get("intent_hash")?.as_str()?.to_owned(),
            ))
        };
        match kind {
            "intent" => {
                let tool = v.get("tool").and_then(Value::as_str).map(str::to_owned);
                open.insert(seq, (stored.clone(), tool));
            }
            "outcome" | "approval" | "network" | "nested" => match intent_ref() {
                None => push(Some(seq), format!("{kind} record does not name its intent")),
                Some((is, ih)) => {
                    let known = open.get(&is).map(|(h, _)| h == &ih).unwrap_or(false)
                        || closed.get(&is).map(|h| h == &ih).unwrap_or(false);
                    if !known {
                        push(
                            Some(seq),
                            format!(
                                "{kind} names intent {is} which does not precede it with that hash"
                            ),
                        );
                    } else if kind == "outcome" {
                        match closed.entry(is) {
                            std::collections::btree_map::Entry::Occupied(_) => {
                                push(Some(seq), format!("second outcome for intent {is}"));
                            }
                            std::collections::btree_map::Entry::Vacant(slot) => {
                                if let Some((h, _)) = open.remove(&is) {
                                    slot.insert(h);
                                }
                            }
                        }
                    }
                }
            },
            "checkpoint" => {
                checkpoints += 1;
                last_checkpoint = records;
                if v.get("seal").and_then(Value::as_bool) == Some(true) {
                    last_seal = Some(seq);
                }
                check_checkpoint(&v, seq, &leaves, opts, &mut push);
            }
            _ => {}
        }
        leaves.push(merkle::leaf_hash(&leaf));
        prev = stored;
        expect_seq = seq + 1;
    }
    if torn {
        problems.push(Problem {
            line: lines.len() as u64 + 1,
            seq: None,
            message: "torn final line (a crashed write not yet recovered; opening the log for writing recovers it)".into(),
        });
    }
    if let Some(saved) = &opts.against {
        check_against(
            saved,
            "the saved checkpoint",
            &leaves,
            opts,
            lines.len() as u64,
            &mut problems,
        );
    }
    let mut anchored = None;
    if let Some(anchor) = &opts.anchor {
        let nlines = lines.len() as u64;
        match &anchor.note {
            Some(note) => {
                let what = format!("the sealed head (anchor {})", anchor.path.display());
                check_against(note, &what, &leaves, opts, nlines, &mut problems);
                anchored = Checkpoint::parse(note).ok().map(|cp| cp.size);
            }
            None => {
                if let Some(seal) = last_seal {
                    problems.push(Problem {
                        line: nlines,
                        seq: None,
                        message: format!(
                            "the log was sealed (record {seal}) but its head anchor {} is missing: records may have been cut off the end",
                            anchor.path.display()
                        ),
                    });
                }
            }
        }
    }
    let outcome_unknown = open
        .into_iter()
        .map(|(seq, (hash, tool))| UnknownOutcome { seq, hash, tool })
        .collect();
    Ok(VerifyReport {
        ok: problems.is_empty(),
        records,
        head: prev,
        checkpoints,
        after_last_checkpoint: records - last_checkpoint,
        anchored,
        problems,
        outcome_unknown,
        root: b64(&merkle::root(&leaves)),
    })
}

fn check_checkpoint(
    v: &Value,
    seq: u64,
    leaves: &[Hash],
    opts: &VerifyOptions,
    push: &mut impl FnMut(Option<u64>, String),
) {
    let size = v.get("size").and_then(Value::as_u64);
    let note = v.get("note").and_then(Value::as_str).unwrap_or("");
    let Ok(cp) = Checkpoint::parse(note) else {
        push(Some(seq), "checkpoint note is malformed".into());
        return;
    };
    if size != Some(cp.size) || cp.size as usize > leaves.len() {
        push(
            Some(seq),
            format!(
                "checkpoint claims {} records but {} precede it",
                cp.size,
                leaves.len()
            ),
        );
        return;
    }
    if merkle::root(&leaves[..cp.size as usize]) != cp.root
        || v.get("root").and_then(Value::as_str) != Some(b64(&cp.root).as_str())
    {
        push(
            Some(seq),
            "checkpoint root does not match the records it covers".into(),
        );
    }
    if let Some(key) = &opts.key {
        match key.open(note) {
            Ok(body) if Checkpoint::parse(body).as_ref() == Ok(&cp) => {}
            _ => push(
                Some(seq),
                format!(
                    "checkpoint signature does not verify with key {}",
                    key.name()
                ),
            ),
        }
    }
}

fn check_against(
    saved: &str,
    what: &str,
    leaves: &[Hash],
    opts: &VerifyOptions,
    nlines: u64,
    problems: &mut Vec<Problem>,
) {
    let mut push = |message: String| {
        problems.push(Problem {
            line: nlines,
            seq: None,
            message,
        })
    };
    if let Some(key) = &opts.key
        && key.open(saved).is_err()
    {
        push(format!(
            "{what}'s signature does not verify with key {}",
            key.name()
        ));
        return;
    }
    let cp = match Checkpoint::parse(saved) {
        Ok(cp) => cp,
        Err(e) => {
            push(format!("{what} is malformed: {e}"));
            return;
        }
    };
    let n = leaves.len() as u64;
    if cp.size > n {
        push(format!(
            "log truncated: {what} covers {} records but the log has {n} (records {}..={} missing)",
            cp.size,
            n + 1,
            cp.size
        ));
        return;
    }
    let m = cp.size as usize;
    let root1 = merkle::root(&leaves[..m]);
    if root1 != cp.root {
        // Name the first record that differs when it can be found: it cannot without the old
        // records, so name the range.
        push(format!(
            "log rewritten: records 1..={} no longer match the root of {what}",
            cp.size
        ));
        return;
    }
    if m > 0 {
        let root2 = merkle::root(leaves);
        let proof = merkle::consistency_proof(leaves, m).unwrap_or_default();
        if !merkle::verify_consistency(cp.size, n, &proof, &cp.root, &root2) {
            push(format!("consistency proof from {what} does not verify"));
        }
    }
}

/// An RFC 6962 inclusion proof of one record in the tree of the log's first `size` records.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InclusionProof {
    /// The record's sequence number.
    pub seq: u64,
    /// Its leaf index (`seq - 1`).
    pub index: u64,
    /// Tree size the proof is for.
    pub size: u64,
    /// The record hash (hex); the leaf is `SHA-256(0x00 || raw record hash)`.
    pub record_hash: String,
    /// Base64 root hash of the tree of `size` records (as in checkpoints).
    pub root: String,
    /// Base64 audit path, leaf to root.
    pub proof: Vec<String>,
}

/// Prove that record `seq` is included in the tree of the first `size` records (default: all).
/// The proof is checked before it is returned.
pub fn inclusion_proof(path: &Path, seq: u64, size: Option<u64>) -> Result<InclusionProof> {
    use crate::error::AuditError;
    let (lines, _) = read_lines(path)?;
    let mut hashes = Vec::with_capacity(lines.len());
    for l in &lines {
        let v: Value = serde_json::from_slice(l)
            .map_err(|e| AuditError::Corrupt(format!("unreadable record ({e}); run verify")))?;
        hashes.push(
            v.get("hash")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        );
    }
    let size = size.unwrap_or(hashes.len() as u64);
    if seq == 0 || seq > size || size > hashes.len() as u64 {
        return Err(AuditError::Invalid(format!(
            "record {seq} is not within the first {size} of {} records",
            hashes.len()
        )));
    }
    let leaves: Vec<Hash> = hashes[..size as usize]
        .iter()
        .map(|h| hex_hash(h).map(|b| merkle::leaf_hash(&b)))
        .collect::<Result<_>>()?;
    let index = seq - 1;
    let proof = merkle::inclusion_proof(&leaves, index as usize).unwrap_or_default();
    let root = merkle::root(&leaves);
    if !merkle::verify_inclusion(&leaves[index as usize], index, size, &proof, &root) {
        return Err(AuditError::Corrupt(
            "inclusion proof does not verify".into(),
        ));
    }
    Ok(InclusionProof {
        seq,
        index,
        size,
        record_hash: hashes[index as usize].clone(),
        root: b64(&root),
        proof: proof.iter().map(|p| b64(p)).collect(),
    })
}
