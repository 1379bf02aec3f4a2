//! C2SP `tlog-checkpoint` bodies inside C2SP `signed-note` envelopes with Ed25519 keys, so an
//! auditor can check Warden's checkpoints with standard transparency-log tooling.
//!
//! * Checkpoint body: `<origin>\n<tree size>\n<base64 root hash>\n` (optional extension lines).
//! * Signed note: body, an empty line, then one line per signature:
//!   `— <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>`. The signature is over
//!   the body bytes (which end in a newline).
//! * Key id: the first 4 bytes of `SHA-256(<key name> || 0x0A || 0x01 || <32-byte public key>)`.
//! * Verifier key text: `<name>+<key id as 8 hex digits>+<base64(0x01 || public key)>`.
//! * Signer key text: `PRIVATE+KEY+<name>+<key id>+<base64(0x01 || 32-byte seed)>`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Errors reading keys, notes and checkpoints.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoteError {
    /// A key text was malformed.
    #[error("malformed key: {0}")]
    BadKey(&'static str),
    /// A note or checkpoint was malformed.
    #[error("malformed note: {0}")]
    BadNote(String),
    /// No signature by the given key verified.
    #[error("no valid signature by key {0}")]
    NoValidSignature(String),
}

const ALG_ED25519: u8 = 0x01;

fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_ED25519]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(NoteError::BadKey(
            "key name must be non-empty, without '+' or spaces",
        ));
    }
    Ok(())
}

/// An Ed25519 note signer.
pub struct NoteSigner {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A fresh random key named `name`.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        check_name(name)?;
        let key = SigningKey::generate(&mut rand_core::OsRng);
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    /// Parse `PRIVATE+KEY+name+id+base64`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let text = text.trim();
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::BadKey("not a signer key"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(b)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::BadKey("expected PRIVATE+KEY+name+id+key"));
        };
        check_name(name)?;
        let raw = B64.decode(b).map_err(|_| NoteError::BadKey("bad base64"))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(NoteError::BadKey("not an Ed25519 key"));
        }
        let seed: [u8; 32] = raw[1..]
            .try_into()
            .map_err(|_| NoteError::BadKey("bad length"))?;
        let key = SigningKey::from_bytes(&seed);
        let me = Self {
            name: name.to_owned(),
            key,
        };
        if hex::encode(me.id()) != id.to_ascii_lowercase() {
            return Err(NoteError::BadKey("key id does not match the key"));
        }
        Ok(me)
    }

    fn id(&self) -> [u8; 4] {
        key_id(&self.name, &self.key.verifying_key().to_bytes())
    }

    /// The signer key text (secret).
    pub fn to_text(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(&self.key.to_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex::encode(self.id()),
            B64.encode(raw)
        )
    }

    /// The verifier key text (public).
    pub fn verifier_text(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(&self.key.verifying_key().to_bytes());
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.id()),
            B64.encode(raw)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sign a note body (must end in a newline) and return the whole signed note.
    pub fn sign(&self, body: &str) -> Result<String, NoteError> {
        if !body.ends_with('\n') || body.contains("\n\n") {
            return Err(NoteError::BadNote(
                "body must end in one newline and have no empty line".into(),
            ));
        }
        let sig = self.key.sign(body.as_bytes());
        let mut raw = self.id().to_vec();
        raw.extend_from_slice(&sig.to_bytes());
        Ok(format!(
            "{body}\n\u{2014} {} {}\n",
            self.name,
            B64.encode(raw)
        ))
    }
}

/// An Ed25519 note verifier.
#[derive(Debug, Clone)]
pub struct NoteVerifier {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parse `name+id+base64`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(b)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::BadKey("expected name+id+key"));
        };
        check_name(name)?;
        let raw = B64.decode(b).map_err(|_| NoteError::BadKey("bad base64"))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(NoteError::BadKey("not an Ed25519 key"));
        }
        let pk: [u8; 32] = raw[1..]
            .try_into()
            .map_err(|_| NoteError::BadKey("bad length"))?;
        let key = VerifyingKey::from_bytes(&pk).map_err(|_| NoteError::BadKey("invalid point"))?;
        let want = key_id(name, &pk);
        if hex::encode(want) != id.to_ascii_lowercase() {
            return Err(NoteError::BadKey("key id does not match the key"));
        }
        Ok(Self {
            name: name.to_owned(),
            id: want,
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Verify a signed note; returns its body when a signature by this key verifies.
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let (body, sigs) = split_note(note)?;
        for line in sigs.lines() {
            let Some(rest) = line.strip_prefix("\u{2014} ") else {
                return Err(NoteError::BadNote(format!("bad signature line {line:?}")));
            };
            let Some((name, b)) = rest.rsplit_once(' ') else {
                return Err(NoteError::BadNote(format!("bad signature line {line:?}")));
            };
            if name != self.name {
                continue;
            }
            let Ok(raw) = B64.decode(b) else { continue };
            if raw.len() != 68 || raw[..4] != self.id {
                continue;
            }
            let Ok(sig) = ed25519_dalek::Signature::from_slice(&raw[4..]) else {
                continue;
            };
            if self.key.verify_strict(body.as_bytes(), &sig).is_ok() {
                return Ok(body);
            }
        }
        Err(NoteError::NoValidSignature(self.name.clone()))
    }
}

/// Split a signed note into its body (with final newline) and its signature block.
pub fn split_note(note: &str) -> Result<(&str, &str), NoteError> {
    let Some(i) = note.find("\n\n") else {
        return Err(NoteError::BadNote("no blank line before signatures".into()));
    };
    Ok((&note[..=i], &note[i + 2..]))
}

/// A parsed checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// Number of leaves (records) covered.
    pub size: u64,
    /// RFC 6962 root hash.
    pub root: [u8; 32],
}

impl Checkpoint {
    /// The body text.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Parse a body (or a whole signed note: only its body is read; signatures are not checked).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let body = match split_note(text) {
            Ok((b, _)) => b,
            Err(_) => text,
        };
        let mut lines = body.lines();
        let bad = |m: &str| NoteError::BadNote(m.to_owned());
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| bad("no origin line"))?;
        let size = lines
            .next()
            .and_then(|l| {
                if l.starts_with('+') || (l.len() > 1 && l.starts_with('0')) {
                    None
                } else {
                    l.parse().ok()
                }
            })
            .ok_or_else(|| bad("bad tree size line"))?;
        let root: [u8; 32] = lines
            .next()
            .and_then(|l| B64.decode(l).ok())
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| bad("bad root hash line"))?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_roundtrip() {
        let s = NoteSigner::generate("warden-test").unwrap();
        let again = NoteSigner::parse(&s.to_text()).unwrap();
        assert_eq!(again.verifier_text(), s.verifier_text());
        let v = NoteVerifier::parse(&s.verifier_text()).unwrap();
        let cp = Checkpoint {
            origin: "example.invalid/log".into(),
            size: 7,
            root: [9; 32],
        };
        let note = s.sign(&cp.body()).unwrap();
        assert!(note.contains("\n\n\u{2014} warden-test "));
        let body = v.open(&note).unwrap();
        assert_eq!(Checkpoint::parse(body).unwrap(), cp);
    }

    #[test]
    fn forged_notes_fail() {
        let s = NoteSigner::generate("k").unwrap();
        let other = NoteSigner::generate("k").unwrap();
        let v = NoteVerifier::parse(&s.verifier_text()).unwrap();
        let cp = Checkpoint {
            origin: "o".into(),
            size: 3,
            root: [1; 32],
        };
        let note = s.sign(&cp.body()).unwrap();
        // Body edited after signing.
        let edited = note.replacen("\n3\n", "\n4\n", 1);
        assert!(v.open(&edited).is_err());
        // Signed by another key of the same name.
        assert!(v.open(&other.sign(&cp.body()).unwrap()).is_err());
        // Signature bytes flipped.
        let mut bytes = note.clone().into_bytes();
        let n = bytes.len();
        bytes[n - 3] = if bytes[n - 3] == b'A' { b'B' } else { b'A' };
        assert!(v.open(&String::from_utf8(bytes).unwrap()).is_err());
        // A key text whose id was altered is rejected.
        let vt = s.verifier_text();
        let mut parts: Vec<&str> = vt.split('+').collect();
        parts[1] = "00000000";
        assert!(NoteVerifier::parse(&parts.join("+")).is_err());
    }

    #[test]
    fn key_id_matches_the_go_definition() {
        // key id = SHA-256(name || "\n" || 0x01 || pk)[:4]
        let s = NoteSigner::parse(
            "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        )
        .unwrap();
        assert_eq!(
            s.verifier_text(),
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        );
        // The reference example note from the Go implementation, signed byte for byte the same
        // (Ed25519 is deterministic) and opened by our verifier.
        let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
        let want = format!(
            "{text}\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        );
        assert_eq!(s.sign(text).unwrap(), want);
        let v = NoteVerifier::parse(&s.verifier_text()).unwrap();
        assert_eq!(v.open(&want).unwrap(), text);
    }
}
