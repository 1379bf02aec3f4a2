//! The pluggable reviewer (`[approvals.reviewer]`): a program that sees each request before
//! people do and answers approve, deny or escalate. It fails closed to people: an error, a
//! timeout, a non-zero exit or any answer that is not exactly one of the three decisions
//! escalates, and never approves.

use crate::model::RequestView;
use serde::Deserialize;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warden_policy::Tier;
use warden_policy::sections::approvals::Reviewer;

/// The longest answer read from the reviewer; more is malformed.
const MAX_ANSWER: u64 = 64 * 1024;

/// What the reviewer decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Deny,
    /// Leave it to people (also every failure).
    Escalate,
}

/// A reviewer's decision and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub decision: Decision,
    pub reason: String,
}

impl Review {
    fn escalate(reason: impl Into<String>) -> Self {
        Self {
            decision: Decision::Escalate,
            reason: reason.into(),
        }
    }
}

/// The answer the program must print: exactly these fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    decision: String,
    #[serde(default)]
    reason: Option<String>,
}

/// The vote name of reviewer `cfg`.
pub fn voter(cfg: &Reviewer) -> String {
    format!("reviewer:{}", cfg.name)
}

/// Whether the reviewer may see a request of `tier` (`async`/`sync`): up to its `max_tier`, and
/// never a `deny`-tier action (those never reach approval anyway).
pub fn applies(cfg: &Reviewer, tier: &str) -> bool {
    let tier = match tier {
        "async" => Tier::Async,
        "sync" => Tier::Sync,
        _ => return false,
    };
    cfg.max_tier != Tier::Deny && tier <= cfg.max_tier
}

/// Run the reviewer on `request` (its JSON on stdin) and read its decision; never fails: any
/// failure is an escalation whose reason says what went wrong.
pub async fn review(cfg: &Reviewer, request: &RequestView) -> Review {
    let limit = crate::routing::parse_duration(&cfg.timeout).unwrap_or(Duration::from_secs(30));
    match tokio::time::timeout(limit, run(cfg, request)).await {
        Ok(Ok(r)) => r,
        Ok(Err(why)) => Review::escalate(format!("reviewer failed: {why}")),
        // Dropping the future drops the child, which `kill_on_drop` kills.
        Err(_) => Review::escalate(format!("reviewer timed out after {}", cfg.timeout)),
    }
}

async fn run(cfg: &Reviewer, request: &RequestView) -> Result<Review, String> {
    let (program, args) = cfg.command.split_first().ok_or("no command")?;
    let input = serde_json::to_vec(request).map_err(|e| e.to_string())?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start `{program}`: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    // A reviewer that does not read its input must not block us: write concurrently.
    let writer = async move {
        let _ = stdin.write_all(&input).await;
        drop(stdin);
    };
    let mut out = Vec::new();
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut limited = stdout.take(MAX_ANSWER + 1);
    let reader = limited.read_to_end(&mut out);
    let ((), read) = tokio::join!(writer, reader);
    read.map_err(|e| format!("reading its answer: {e}"))?;
    let status = child.wait().await.map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("exited with {status}"));
    }
    if out.len() as u64 > MAX_ANSWER {
        return Err("answer longer than 64 KiB".into());
    }
    parse_answer(&out)
}

/// Parse `{"decision": "approve"|"deny"|"escalate", "reason": "…"}`; anything else is an error.
pub fn parse_answer(out: &[u8]) -> Result<Review, String> {
    let v: serde_json::Value =
        serde_json::from_slice(out).map_err(|e| format!("malformed answer ({e})"))?;
    // Only an object: serde would also read a struct from an array (`["approve"]`).
    if !v.is_object() {
        return Err("malformed answer (not a JSON object)".into());
    }
    let a: Answer = serde_json::from_value(v).map_err(|e| format!("malformed answer ({e})"))?;
    let decision = match a.decision.as_str() {
        "approve" => Decision::Approve,
        "deny" => Decision::Deny,
        "escalate" => Decision::Escalate,
        other => return Err(format!("unknown decision `{}`", other.escape_debug())),
    };
    let reason = a.reason.unwrap_or_default();
    // The reason is shown to people: keep it one bounded line of text.
    let reason: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(500)
        .collect();
    Ok(Review { decision, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_three_decisions_parse() {
        let ok = |s: &str| parse_answer(s.as_bytes()).map(|r| r.decision);
        assert_eq!(
            ok(r#"{"decision":"approve","reason":"x"}"#),
            Ok(Decision::Approve)
        );
        assert_eq!(ok(r#"{"decision":"deny"}"#), Ok(Decision::Deny));
        assert_eq!(
            ok(r#"{"decision":"escalate","reason":""}"#),
            Ok(Decision::Escalate)
        );
        for bad in [
            "",
            "approve",
            r#"{"decision":"APPROVE"}"#,
            r#"{"decision":"approve","extra":1}"#,
            r#"{"decision":true}"#,
            r#"{"decision":"approve"} {"decision":"deny"}"#,
            r#"["approve"]"#,
        ] {
            assert!(ok(bad).is_err(), "{bad:?} parsed");
        }
    }
}
