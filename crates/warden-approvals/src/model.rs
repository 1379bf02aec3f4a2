//! The data the approval server stores and serves: requests, votes, tokens, and the events it
//! hands outward for the audit log.

use serde::{Deserialize, Serialize};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Files requests, waits for them and consumes approvals.
    Agent,
    /// Decides requests routed to their groups.
    Approver,
    /// Creates tokens; sees everything.
    Admin,
}

impl Role {
    /// Parse `agent` / `approver` / `admin`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "agent" => Some(Self::Agent),
            "approver" => Some(Self::Approver),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Approver => "approver",
            Self::Admin => "admin",
        }
    }
}

/// A stored token (its hash, never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// SHA-256 of the token, hex.
    pub hash: String,
    /// Identity of the holder (approver name, agent name).
    pub name: String,
    pub role: Role,
    /// Approver groups the holder belongs to.
    pub groups: Vec<String>,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Unix ms from which the token is refused (a single sign-on session's end); `None`: never.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// Life cycle of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for votes.
    Pending,
    /// Quorum reached; may be consumed once, before the approval expires.
    Approved,
    /// An approver denied it.
    Denied,
    /// No decision before the timeout (for `sync`: denied).
    Expired,
    /// The approval was used by the action it was filed for.
    Consumed,
}

impl Status {
    /// The lowercase name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Consumed => "consumed",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "denied" => Some(Self::Denied),
            "expired" => Some(Self::Expired),
            "consumed" => Some(Self::Consumed),
            _ => None,
        }
    }

    /// Whether waiting on the request can end.
    pub fn is_decided(self) -> bool {
        !matches!(self, Self::Pending)
    }
}

/// What an agent files. Its `tier`, `category`, `rule`, `reasons` and `action_text` are claims:
/// the server shows the action as it renders it and classifies it with its own policy (see
/// `server::create_request`), keeping the claims in [`RequestView::claimed`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// `async` or `sync`.
    pub tier: String,
    pub category: String,
    pub rule: String,
    #[serde(default)]
    pub reasons: Vec<String>,
    #[serde(default)]
    pub rationale: Option<String>,
    /// The action as the filer would have it read (a claim; never displayed as the action).
    #[serde(default)]
    pub action_text: String,
    /// The action as structured JSON (bound by the digest): a `warden_policy::Action`, plus any
    /// further facts bound into it (shown with it, not classified).
    pub action: serde_json::Value,
    pub cwd: String,
    pub workspace: String,
    pub policy_digest: String,
    /// For a file write: the content it proposes, so the approver can read the change. Checked
    /// against the digests bound into `action` (`content_sha256`, `new_sha256`, `old_sha256`).
    #[serde(default)]
    pub proposed: Option<Proposed>,
    /// For an operation held inside a running action: that operation (`action` is then the
    /// action it belongs to, the one an approval lets continue).
    #[serde(default)]
    pub nested_action: Option<serde_json::Value>,
}

/// The content a file write proposes: `after` is what will be written (a whole file, or the
/// replacing text of an edit); `before` what it replaces, when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proposed {
    #[serde(default)]
    pub before: Option<String>,
    pub after: String,
}

/// The classification and text a request was filed with, as the filer claimed them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claimed {
    pub tier: String,
    pub category: String,
    pub rule: String,
    pub reasons: Vec<String>,
    pub action_text: String,
}

/// One approver's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    pub approver: String,
    /// `approve` or `deny`.
    pub verdict: String,
    pub comment: Option<String>,
    pub at: i64,
}

/// A stored request, as served by the API. `tier`, `category`, `rule`, `reasons` and
/// `action_text` are the server's own: rendered from `action` and classified by its policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestView {
    pub id: String,
    pub created_at: i64,
    pub tier: String,
    pub category: String,
    pub rule: String,
    pub reasons: Vec<String>,
    pub rationale: Option<String>,
    /// The action as it will run, rendered by the server (see `Action::display_text`).
    pub action_text: String,
    /// What the filer claimed.
    #[serde(default)]
    pub claimed: Claimed,
    /// Where the claims differ from the server's rendering and classification, and what the
    /// server did about it (empty when they agree).
    #[serde(default)]
    pub discrepancies: Vec<String>,
    pub action: serde_json::Value,
    pub cwd: String,
    pub workspace: String,
    pub policy_digest: String,
    /// Binds approvals to this exact action.
    pub action_digest: String,
    /// Identity of the agent token that filed it.
    pub requester: String,
    /// Groups it is routed to (escalation group included once escalated).
    pub groups: Vec<String>,
    pub escalate_to: Option<String>,
    /// Unix ms from which `escalate_to` may also decide.
    pub escalate_at: Option<i64>,
    pub quorum: u32,
    pub allow_self_approval: bool,
    /// Unix ms after which a pending request expires.
    pub deadline: i64,
    pub status: Status,
    pub reason: Option<String>,
    pub decided_at: Option<i64>,
    /// Unix ms after which an approval can no longer be consumed.
    pub approval_expires_at: Option<i64>,
    pub consumed_at: Option<i64>,
    /// Outcome reported by whoever executed the action (e.g. exit status).
    pub outcome: Option<serde_json::Value>,
    pub votes: Vec<Vote>,
    /// For a file write filed with its content: a unified diff of what will be written,
    /// computed by the server from content it checked against the bound digests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// For a held nested operation: that operation as the server renders it (`action_text` is
    /// then the action it belongs to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nested_text: Option<String>,
    /// The explanation trace of the server's own classification: each analysed command with
    /// its tier, rule, category and reason (the deciding rule's text among them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trace: Vec<warden_policy::CommandDecision>,
}

/// A structured event for the caller (the audit log).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A request was filed and routed.
    Requested {
        id: String,
        requester: String,
        tier: String,
        category: String,
        action_digest: String,
        groups: Vec<String>,
        /// See [`RequestView::discrepancies`].
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        discrepancies: Vec<String>,
    },
    /// An approver voted.
    Voted {
        id: String,
        approver: String,
        verdict: String,
    },
    /// The request reached a decision (approved, denied).
    Decided {
        id: String,
        status: Status,
        reason: Option<String>,
    },
    /// The request timed out.
    Expired { id: String, reason: String },
    /// The approval was consumed by its action.
    Consumed { id: String, by: String },
    /// The executor reported the outcome.
    Executed {
        id: String,
        outcome: serde_json::Value,
    },
}

impl Event {
    /// The request the event is about.
    pub fn request_id(&self) -> &str {
        match self {
            Self::Requested { id, .. }
            | Self::Voted { id, .. }
            | Self::Decided { id, .. }
            | Self::Expired { id, .. }
            | Self::Consumed { id, .. }
            | Self::Executed { id, .. } => id,
        }
    }
}
