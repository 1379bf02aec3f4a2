//! The `[approvals]` section: who approves what, read by the approval server.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Approver routing per category.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ApprovalsConfig {
    /// Approver groups by name.
    pub groups: BTreeMap<String, ApproverGroup>,
    /// Routes from categories to groups; the most specific matching route applies (exact before
    /// glob), the later one on a tie, so a repository route overrides the built-in default.
    pub route: Vec<Route>,
}

/// A named group of approvers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ApproverGroup {
    /// Member identities (user names or emails).
    pub members: Vec<String>,
    /// Webhook notified when a request is routed to this group (Slack-compatible JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
}

/// A route: which groups decide requests of some categories, and how.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Route {
    /// Category globs this route applies to (`*` for all).
    pub category: Vec<String>,
    /// Approver groups.
    pub groups: Vec<String>,
    /// Distinct approvals needed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quorum: Option<u32>,
    /// How long a request waits for a decision, e.g. `15m`; a `sync` request is denied after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Group to escalate to after `escalate_after`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalate_to: Option<String>,
    /// Delay before escalation, e.g. `10m`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalate_after: Option<String>,
    /// Whether the requester may approve their own request (never, by default).
    pub allow_self_approval: bool,
}
