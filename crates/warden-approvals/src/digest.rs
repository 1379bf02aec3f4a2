//! The digest that binds an approval to one exact action, so approving A never authorises B.

use sha2::{Digest, Sha256};

/// SHA-256 (hex) over the canonical JSON of the action, its cwd, workspace and policy digest.
///
/// `action` is canonicalised by `serde_json` (object keys sorted, since `serde_json::Map` is a
/// `BTreeMap` without the `preserve_order` feature).
pub fn action_digest(
    action: &serde_json::Value,
    cwd: &str,
    workspace: &str,
    policy_digest: &str,
) -> String {
    let canon = serde_json::json!({
        "action": action,
        "cwd": cwd,
        "policy_digest": policy_digest,
        "workspace": workspace,
        "v": 1,
    });
    let mut h = Sha256::new();
    h.update(canon.to_string().as_bytes());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_field_changes_the_digest() {
        let a = serde_json::json!({"kind":"exec","argv":["git","push"]});
        let b = serde_json::json!({"kind":"exec","argv":["git","push","--force"]});
        let base = action_digest(&a, "/w", "/w", "p1");
        assert_eq!(base, action_digest(&a, "/w", "/w", "p1"));
        assert_ne!(base, action_digest(&b, "/w", "/w", "p1"));
        assert_ne!(base, action_digest(&a, "/x", "/w", "p1"));
        assert_ne!(base, action_digest(&a, "/w", "/x", "p1"));
        assert_ne!(base, action_digest(&a, "/w", "/w", "p2"));
    }
}
