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
                out.extend_from_slice(u.to_string().as_bytes());
            } else if let Some(i) = n.as_i64() {
                out.extend_from_slice(i.to_string().as_bytes());
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
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\r' => out.extend_from_slice(b"\\r"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
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
}
