//! The decision rules, apart from the HTTP handler that applies them: who may decide a request
//! (its routed groups, the escalation group once its time has come; never an agent token, never
//! the requester unless the route allows it), and how votes add up (any deny vetoes; approvals
//! from distinct eligible approvers count toward the quorum).

use crate::model::{RequestView, Role, Status, TokenRecord};
use crate::routing::in_group;
use warden_policy::sections::ApprovalsConfig;

/// What an approver says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Approve (counts toward the quorum).
    Approve,
    /// Deny (vetoes).
    Deny,
}

impl Verdict {
    /// The word stored with the vote.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Deny => "deny",
        }
    }
}

/// Why a vote is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Agents file requests; they never decide them.
    #[error("agent tokens cannot decide requests")]
    AgentToken,
    /// Separation of duties.
    #[error("separation of duties: the requester may not decide their own request")]
    OwnRequest,
    /// Not routed to any group the voter is in (yet).
    #[error("`{who}` is not in the groups this request is routed to ({groups})")]
    NotInGroups {
        /// The voter.
        who: String,
        /// The routed groups.
        groups: String,
    },
    /// Already decided.
    #[error("request is already {0}")]
    Decided(&'static str),
    /// An approval names a different action.
    #[error("action digest mismatch: the approval is for a different action")]
    DigestMismatch,
    /// An approval must name the action it approves.
    #[error("`action_digest` (of the action being approved) is required")]
    DigestMissing,
}

/// Groups that may decide `r` at `now` (the escalation group once its time has come).
pub fn eligible_groups(r: &RequestView, now: i64) -> Vec<String> {
    let mut g = r.groups.clone();
    if let (Some(e), Some(at)) = (&r.escalate_to, r.escalate_at)
        && now >= at
    {
        g.push(e.clone());
    }
    g
}

/// Whether `who` may decide `r` at `now`.
pub fn may_decide(cfg: &ApprovalsConfig, who: &TokenRecord, r: &RequestView, now: i64) -> bool {
    who.role != Role::Agent
        && eligible_groups(r, now)
            .iter()
            .any(|g| in_group(cfg, &who.name, &who.groups, g))
}

/// Whether `who` may cast `verdict` on `r` at `now`, naming `digest` as the action approved.
pub fn check_vote(
    cfg: &ApprovalsConfig,
    who: &TokenRecord,
    r: &RequestView,
    now: i64,
    verdict: Verdict,
    digest: Option<&str>,
) -> Result<(), Refusal> {
    if who.role == Role::Agent {
        return Err(Refusal::AgentToken);
    }
    if !r.allow_self_approval && who.name == r.requester {
        return Err(Refusal::OwnRequest);
    }
    if !may_decide(cfg, who, r, now) {
        return Err(Refusal::NotInGroups {
            who: who.name.clone(),
            groups: r.groups.join(", "),
        });
    }
    if r.status != Status::Pending {
        return Err(Refusal::Decided(r.status.as_str()));
    }
    // A denial never authorises anything, so it needs no digest; an approval must name one.
    match (digest, verdict) {
        (_, Verdict::Deny) => Ok(()),
        (Some(d), Verdict::Approve) if d == r.action_digest => Ok(()),
        (Some(_), Verdict::Approve) => Err(Refusal::DigestMismatch),
        (None, Verdict::Approve) => Err(Refusal::DigestMissing),
    }
}

/// The decision `r` reaches with its votes (the latest, `verdict` by `by` with `comment`,
/// included): denied at once by a deny, approved once the approvals reach the quorum, else
/// none yet. With the reason recorded.
pub fn outcome(
    r: &RequestView,
    verdict: Verdict,
    by: &str,
    comment: Option<&str>,
) -> Option<(Status, String)> {
    match verdict {
        Verdict::Deny => Some((
            Status::Denied,
            format!(
                "denied by {by}{}",
                comment.map(|c| format!(": {c}")).unwrap_or_default()
            ),
        )),
        Verdict::Approve => {
            let approvals = r.votes.iter().filter(|v| v.verdict == "approve").count();
            (u32::try_from(approvals).unwrap_or(u32::MAX) >= r.quorum).then(|| {
                (
                    Status::Approved,
                    format!("approved by {approvals} of {} needed", r.quorum),
                )
            })
        }
    }
}
