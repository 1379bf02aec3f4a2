//! The approval step, behind a trait so a terminal prompt, an approval server or an unattended
//! rule can answer; shareable across threads (nested decisions are asked from the sandbox
//! supervisor and from the proxy's tasks).

use warden_policy::{Action, Context, Decision, Tier};

/// What the approver is asked.
#[derive(Debug)]
pub struct ApprovalRequest<'a> {
    /// The action as classified.
    pub action: &'a Action,
    /// What an approval is bound to when it is more than the action (e.g. the digest of a
    /// file's new content); `None`: the action itself.
    pub bound: Option<&'a serde_json::Value>,
    /// Where it runs.
    pub context: &'a Context,
    /// The action, as a person would read it (argv joined, or the shell text).
    pub action_text: &'a str,
    /// The classification that asked for approval.
    pub decision: &'a Decision,
    /// The agent's stated rationale.
    pub rationale: Option<&'a str>,
    /// Digest of the policy that decided.
    pub policy_digest: &'a str,
    /// A ticket filed earlier for this very action, to use instead of filing a new request.
    pub ticket: Option<&'a str>,
    /// For a file write: the content it proposes (`{"before", "after"}`), shown as a diff.
    pub proposed: Option<&'a serde_json::Value>,
    /// For an operation held inside a running action: that operation (`action` is then the
    /// running action, the one an approval lets continue).
    pub nested: Option<&'a Action>,
}

/// The approver's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalAnswer {
    /// Run it.
    Granted {
        /// Who approved.
        by: String,
    },
    /// Do not run it: refused by a person (`by`), or nobody decided in time (`by: None`).
    Denied {
        /// Who refused; `None` for a timeout.
        by: Option<String>,
        /// Why.
        reason: String,
    },
    /// Nobody could be asked (no approval server, no terminal): not run. Recorded as
    /// `unavailable`, not `expired`: no approver ever saw the request.
    Unavailable {
        /// Why.
        reason: String,
    },
    /// The agent's own prompt asks a person (the agent's protocol has one, e.g. Claude Code's
    /// `ask`): the action may be performed if they allow it, and the agent reporting that it ran
    /// is the grant.
    Delegated {
        /// Why a person is asked.
        reason: String,
    },
    /// Parked for asynchronous approval.
    Deferred {
        /// The request filed, when there is one.
        ticket: Option<String>,
        /// Why.
        reason: String,
    },
}

/// An answer and the server request it came from, if one was filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// The answer.
    pub answer: ApprovalAnswer,
    /// The approval server's request (id, action digest), recorded with the approval events.
    pub filed: Option<(String, String)>,
    /// A grant that was given earlier for this exact action (and is used now), not asked now.
    pub earlier: bool,
}

impl From<ApprovalAnswer> for Answered {
    fn from(answer: ApprovalAnswer) -> Self {
        Self {
            answer,
            filed: None,
            earlier: false,
        }
    }
}

/// Something that can approve actions.
pub trait Approver: Send + Sync {
    /// Ask for approval of `req`; may block (a prompt, a long-poll) up to its own timeout.
    /// An `Err` is the approver failing (e.g. the server unreachable), not a refusal.
    fn request(&self, req: &ApprovalRequest<'_>) -> Result<Answered, String>;
}

/// No human at hand: `async` is deferred, `sync` has nobody to ask.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnattendedApprover;

impl Approver for UnattendedApprover {
    fn request(&self, req: &ApprovalRequest<'_>) -> Result<Answered, String> {
        let why = req
            .decision
            .reasons
            .first()
            .cloned()
            .unwrap_or_else(|| req.decision.rule.clone());
        Ok(match req.decision.tier {
            Tier::Async => ApprovalAnswer::Deferred {
                ticket: None,
                reason: format!(
                    "needs asynchronous approval ({why}); no approval server is configured and no terminal is attached"
                ),
            },
            _ => ApprovalAnswer::Unavailable {
                reason: format!("needs approval by a person ({why}) and no terminal is attached"),
            },
        }
        .into())
    }
}
