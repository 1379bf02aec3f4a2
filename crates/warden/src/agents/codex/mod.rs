//! Codex CLI: its hook protocol (PreToolUse / PermissionRequest / PostToolUse, whose payloads
//! are Claude Code's: `tool_name` `Bash` with `tool_input.command`, `tool_use_id`, `cwd`), the
//! answers Codex accepts, and `warden init --agent codex`, which installs the hooks (the
//! default) or, with `--mode mcp`, Warden's MCP server in place of Codex's own shell tool.
//!
//! What Codex 0.169 accepts from a PreToolUse hook differs from Claude Code: `allow` only
//! together with `updatedInput` (a rewrite), `deny` only with a reason, no `ask`; output it
//! rejects is ignored, so every answer here is one it accepts. An empty object lets the call
//! proceed unchanged.

mod config;
mod hooks;
pub mod mcp;

pub use config::codex_home;
pub use hooks::init;

use super::claude_code::{Answer, redact};
use serde_json::{Value, json};

/// The agent name written into every record the hook makes.
pub const AGENT: &str = "codex";

/// The PreToolUse answer in the form Codex accepts (secrets in the reason masked). An `allow`
/// without a rewritten input is said with an empty object: Codex refuses `allow` alone. `ask`
/// does not exist in Codex's protocol and is never produced for it (see `warden hook codex`).
pub fn pre_tool_use_json(answer: &Answer) -> Value {
    match answer {
        Answer::Allow {
            reason,
            updated: Some(updated),
        } => json!({ "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "allow",
            "permissionDecisionReason": redact(reason),
            "updatedInput": Value::Object(updated.clone()),
        }}),
        Answer::Allow { updated: None, .. } => json!({}),
        Answer::Ask { reason, .. } | Answer::Deny { reason } => json!({ "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": redact(reason),
        }}),
    }
}

/// The PermissionRequest answer: `Ok` allows, `Err(message)` denies with the message shown.
pub fn permission_json(decision: Result<(), String>) -> Value {
    let decision = match decision {
        Ok(()) => json!({ "behavior": "allow" }),
        Err(message) => json!({ "behavior": "deny", "message": redact(&message) }),
    };
    json!({ "hookSpecificOutput": {
        "hookEventName": "PermissionRequest",
        "decision": decision,
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_in_the_shapes_codex_accepts() {
        let allow = pre_tool_use_json(&Answer::Allow {
            reason: "ok".into(),
            updated: Some(serde_json::Map::from_iter([("command".into(), "x".into())])),
        });
        assert_eq!(allow["hookSpecificOutput"]["permissionDecision"], "allow");
        assert_eq!(allow["hookSpecificOutput"]["updatedInput"]["command"], "x");
        // Codex 0.169 rejects `allow` without `updatedInput`: the plain allow is `{}`.
        let plain = pre_tool_use_json(&Answer::Allow {
            reason: "ok".into(),
            updated: None,
        });
        assert_eq!(plain, json!({}));
        let deny = pre_tool_use_json(&Answer::Deny {
            reason: "no".into(),
        });
        assert_eq!(deny["hookSpecificOutput"]["permissionDecision"], "deny");
        assert_eq!(deny["hookSpecificOutput"]["permissionDecisionReason"], "no");
        assert_eq!(
            permission_json(Err("no".into()))["hookSpecificOutput"]["decision"],
            json!({"behavior": "deny", "message": "no"})
        );
    }
}
