//! The canonical encoding every record hash is computed over, so that any implementation can
//! recompute a record's hash from the line it reads.
//!
//! **Definition.** A record's hash is the lowercase hex SHA-256 of the canonical encoding of the
//! record's JSON object *with its `hash` member removed*. The canonical encoding of a JSON value:
//!
//! * `null`, `true`, `false` as those literals;
//! * integers in shortest decimal form (records never contain non-integer numbers; a float is
//!   rejected);
//! * strings as a `"`-quoted sequence where `"` and `\` are escaped as `\"` and `\\`, the control
//!   characters U+0008, U+0009, U+000A, U+000C, U+000D as `\b \t \n \f \r`, every other
//!   control character below U+0020 as `\u00XX` (lowercase hex), and everything else as raw UTF-8;
//! * arrays as `[` elements separated by `,` `]`;
//! * objects as `{` members sorted by the UTF-8 bytes of their keys, each `"key":value`, separated
//!   by `,`, `}`;
//! * no whitespace anywhere.
//!
//! This is the JSON Canonicalization Scheme (RFC 8785) restricted to integer numbers, except that
//! keys sort by UTF-8 bytes rather than UTF-16 code units (identical for all-ASCII keys, which is
//! every key Warden writes).

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Errors from canonical encoding.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CanonicalError {
    /// The value held a non-integer number, which has no canonical form here.
    #[error("records may hold integers only, found {0}")]
    NonInteger(String),
}

/// Append the canonical encoding of `v` to `out`.
pub fn encode_into(v: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
            } else if let Some(i) = n.as_i64() {
                out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
            } else {
                return Err(CanonicalError::NonInteger(n.to_string()));
            }
        }
        Value::String(s) => encode_str(s, out),
        Value::Array(a) => {
            out.push(b'[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                encode_into(e, out)?;
            }
            out.push(b']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                encode_str(k, out);
                out.push(b':');
                encode_into(&m[k], out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn encode_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    // Copy runs of bytes that need no escape in one go; every byte to escape is ASCII, so a
    // multi-byte UTF-8 sequence (all bytes >= 0x80) is copied untouched.
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            b if b < 0x20 => {
                out.extend_from_slice(&bytes[run..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
                run = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..i]);
        out.extend_from_slice(esc);
        run = i + 1;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

/// The canonical encoding of `v`.
pub fn encode(v: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    encode_into(v, &mut out)?;
    Ok(out)
}

/// The record hash of a record object: SHA-256 over its canonical encoding without `hash`.
pub fn record_hash(record: &Value) -> Result<[u8; 32], CanonicalError> {
    let bytes = match record {
        Value::Object(m) if m.contains_key("hash") => {
            let mut m = m.clone();
            m.remove("hash");
            encode(&Value::Object(m))?
        }
        other => encode(other)?,
    };
    Ok(Sha256::digest(&bytes).into())
}

/// A record's canonical encoding made before its place in the chain is known, so that the
/// expensive part (sorting, escaping, most of the SHA-256) happens in the submitting thread and
/// the group-commit leader only fills in `prev`, `seq` and `ts_ns` and finishes the hash.
///
/// `text` is the canonical encoding of the record without `hash` and with the values of `prev`,
/// `seq` and `ts_ns` left out (the quotes around `prev` are in place); `*_at` are the byte
/// offsets where they go. `hash_at` is where the line carries `"hash":"<hex>",`: the `hash` key
/// always has a successor (`kind`, `prev`), so the member always ends in a comma.
#[derive(Clone)]
pub(crate) struct RecordTemplate {
    text: Vec<u8>,
    hash_at: usize,
    prev_at: usize,
    seq_at: usize,
    ts_at: usize,
    /// SHA-256 state over `text[..prev_at]` (`prev` is the first value only the leader knows).
    head: Sha256,
}

impl RecordTemplate {
    /// Prepare a record of `kind` with `body`, whose keys must not include the reserved ones
    /// (`seq`, `ts_ns`, `kind`, `prev`, `hash`); the caller checks that.
    pub(crate) fn new(
        kind: &str,
        body: &serde_json::Map<String, Value>,
    ) -> Result<Self, CanonicalError> {
        enum Member<'a> {
            Value(&'a Value),
            Kind,
            Hash,
            Prev,
            Seq,
            Ts,
        }
        let mut members: Vec<(&str, Member<'_>)> = Vec::with_capacity(body.len() + 5);
        members.extend(body.iter().map(|(k, v)| (k.as_str(), Member::Value(v))));
        members.extend([
            ("kind", Member::Kind),
            ("hash", Member::Hash),
            ("prev", Member::Prev),
            ("seq", Member::Seq),
            ("ts_ns", Member::Ts),
        ]);
        members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut text = Vec::with_capacity(256);
        let (mut hash_at, mut prev_at, mut seq_at, mut ts_at) = (0, 0, 0, 0);
        text.push(b'{');
        let mut need_comma = false;
        for (key, member) in members {
            if need_comma {
                text.push(b',');
            }
            need_comma = true;
            if let Member::Hash = member {
                // The line inserts `"hash":"<hex>",` here, comma included.
                hash_at = text.len();
                need_comma = false;
                continue;
            }
            encode_str(key, &mut text);
            text.push(b':');
            match member {
                Member::Value(v) => encode_into(v, &mut text)?,
                Member::Kind => encode_str(kind, &mut text),
                Member::Prev => {
                    text.push(b'"');
                    prev_at = text.len();
                    text.push(b'"');
                }
                Member::Seq => seq_at = text.len(),
                Member::Ts => ts_at = text.len(),
                Member::Hash => {}
            }
        }
        text.push(b'}');
        let mut head = Sha256::new();
        head.update(&text[..prev_at]);
        Ok(Self {
            text,
            hash_at,
            prev_at,
            seq_at,
            ts_at,
            head,
        })
    }

    /// Fill in the chain position, append the record line (with `\n`) to `line` and return the
    /// record hash. `prev` is the previous record's hex hash.
    pub(crate) fn finish(self, prev: &str, seq: u64, ts_ns: u64, line: &mut Vec<u8>) -> [u8; 32] {
        let mut seq_buf = itoa::Buffer::new();
        let seq = seq_buf.format(seq).as_bytes();
        let mut ts_buf = itoa::Buffer::new();
        let ts = ts_buf.format(ts_ns).as_bytes();
        let t = &self.text;
        let mut h = self.head;
        h.update(prev.as_bytes());
        h.update(&t[self.prev_at..self.seq_at]);
        h.update(seq);
        h.update(&t[self.seq_at..self.ts_at]);
        h.update(ts);
        h.update(&t[self.ts_at..]);
        let hash: [u8; 32] = h.finalize().into();
        let mut hex = [0u8; 64];
        // Cannot fail: the buffer is exactly twice the hash's length.
        let _ = hex::encode_to_slice(hash, &mut hex);
        line.reserve(t.len() + 64 + 10 + prev.len() + seq.len() + ts.len() + 2);
        line.extend_from_slice(&t[..self.hash_at]);
        line.extend_from_slice(b"\"hash\":\"");
        line.extend_from_slice(&hex);
        line.extend_from_slice(b"\",");
        line.extend_from_slice(&t[self.hash_at..self.prev_at]);
        line.extend_from_slice(prev.as_bytes());
        line.extend_from_slice(&t[self.prev_at..self.seq_at]);
        line.extend_from_slice(seq);
        line.extend_from_slice(&t[self.seq_at..self.ts_at]);
        line.extend_from_slice(ts);
        line.extend_from_slice(&t[self.ts_at..]);
        line.push(b'\n');
        hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_strips_whitespace() {
        let v = json!({"b": 1, "a": [true, null, "x\n\u{1}\"\\é"], "A": -3});
        let got = String::from_utf8(encode(&v).unwrap()).unwrap();
        assert_eq!(
            got,
            "{\"A\":-3,\"a\":[true,null,\"x\\n\\u0001\\\"\\\\é\"],\"b\":1}"
        );
    }

    #[test]
    fn rejects_floats() {
        assert!(encode(&json!({"x": 1.5})).is_err());
    }

    #[test]
    fn hash_ignores_hash_member_and_nothing_else() {
        let a = json!({"seq": 1, "hash": "aa"});
        let b = json!({"seq": 1, "hash": "bb"});
        let c = json!({"seq": 2, "hash": "aa"});
        assert_eq!(record_hash(&a).unwrap(), record_hash(&b).unwrap());
        assert_ne!(record_hash(&a).unwrap(), record_hash(&c).unwrap());
        // The definition: SHA-256 of `{"seq":1}`.
        let want: [u8; 32] = Sha256::digest(b"{\"seq\":1}").into();
        assert_eq!(record_hash(&a).unwrap(), want);
    }
    /// The template path must produce exactly the line and hash of the definition above.
    #[test]
    fn template_matches_the_definition() {
        let bodies = [
            json!({}),
            json!({"action": {"argv": ["a\"b", "\u{1}é"]}, "tier": "auto", "z": -4}),
            json!({"a": 1, "hasi": 2, "hasz": 3, "kinda": 4, "prev0": 5, "reasons": [], "seq0": 6, "ts": 7, "ts_nt": 8, "u": null}),
            json!({"A": true, "_": false}),
        ];
        for (i, body) in bodies.iter().enumerate() {
            let Value::Object(m) = body else { panic!() };
            let prev = format!("{:064x}", i * 977);
            let (seq, ts) = (i as u64 * 1000 + 1, 1_700_000_000_000_000_000 + i as u64);
            let mut line = Vec::new();
            let got = RecordTemplate::new("intent", m)
                .unwrap()
                .finish(&prev, seq, ts, &mut line);
            let mut want = m.clone();
            want.insert("seq".into(), seq.into());
            want.insert("ts_ns".into(), ts.into());
            want.insert("kind".into(), "intent".into());
            want.insert("prev".into(), prev.clone().into());
            let want_hash = record_hash(&Value::Object(want.clone())).unwrap();
            assert_eq!(got, want_hash, "hash of body {i}");
            want.insert("hash".into(), hex::encode(want_hash).into());
            let mut want_line = encode(&Value::Object(want)).unwrap();
            want_line.push(b'\n');
            assert_eq!(
                String::from_utf8(line).unwrap(),
                String::from_utf8(want_line).unwrap()
            );
        }
    }

    #[test]
    fn template_rejects_floats() {
        let Value::Object(m) = json!({"x": [1, 2.5]}) else {
            panic!()
        };
        assert!(RecordTemplate::new("k", &m).is_err());
    }
}
