//! Bearer tokens: opaque random strings, stored only as SHA-256 hashes, compared in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefix that makes a Warden token recognisable in a leaked-secret scan.
pub const TOKEN_PREFIX: &str = "wdn_";

/// A fresh token: prefix + 32 random bytes in hex.
pub fn generate() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)?;
    Ok(format!("{TOKEN_PREFIX}{}", hex::encode(b)))
}

/// Random identifier (16 bytes, hex) for requests.
pub fn random_id() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)?;
    Ok(hex::encode(b))
}

/// The stored form of a token.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time comparison of a presented token against a stored hash.
pub fn verify(presented: &str, stored_hash: &str) -> bool {
    let h = hash(presented);
    h.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hash_verifies() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        let h = hash(&a);
        assert!(!h.contains(&a[4..]));
        assert!(verify(&a, &h));
        assert!(!verify(&b, &h));
        assert!(!verify("", &h));
    }
}
