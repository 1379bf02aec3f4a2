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
    /// A program that reviews requests before people do (`[approvals.reviewer]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<Reviewer>,
    /// The Slack app whose buttons approvers click (`[approvals.slack]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackApp>,
    /// Single sign-on for the web UI with an OpenID provider (`[approvals.oidc]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc: Option<Oidc>,
}

/// OpenID Connect sign-in for the web UI (authorization code flow with PKCE). The `email` claim
/// (verified) is the approver's identity; `groups_claim` gives their groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Oidc {
    /// The provider's issuer URL (discovery: `{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    /// This server's client id at the provider.
    pub client_id: String,
    /// Environment variable holding the client secret (none: a public client, PKCE only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_env: Option<String>,
    /// Where the provider sends people back: `https://<this server>/auth/callback`.
    pub redirect_url: String,
    /// The ID-token claim listing the person's groups.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Scopes to ask for besides `openid` (e.g. `["email", "groups"]`).
    #[serde(default = "default_oidc_scopes")]
    pub scopes: Vec<String>,
    /// Longest a sign-in lasts (e.g. `8h`); the token minted at sign-in expires then, or when
    /// the ID token does, whichever is sooner.
    #[serde(default = "default_session_lifetime")]
    pub session_lifetime: String,
}

fn default_session_lifetime() -> String {
    "12h".into()
}

fn default_groups_claim() -> String {
    "groups".into()
}

fn default_oidc_scopes() -> Vec<String> {
    vec!["email".into()]
}

/// The Slack app: where its signing secret comes from and who its users are. Secrets are named
/// by environment variables, never written in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlackApp {
    /// Environment variable holding the app's signing secret (verifies button clicks).
    pub signing_secret_env: String,
    /// Base URL of Slack's Web API (for `chat.postMessage` with a bot token).
    #[serde(default = "default_slack_api")]
    pub api_url: String,
    /// Slack user id → approver identity (e.g. `U0123ABC = "alice@example.com"`), so separation
    /// of duties and group membership see the same person; unmapped users are `slack:<id>`.
    #[serde(default)]
    pub users: BTreeMap<String, String>,
}

fn default_slack_api() -> String {
    "https://slack.com/api".into()
}

/// Where a group's Slack messages go: an incoming webhook, or a bot token and a channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SlackDestination {
    /// Environment variable holding the incoming-webhook URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_env: Option<String>,
    /// Environment variable holding a bot token (`chat:write`), used with `channel`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bot_token_env: Option<String>,
    /// Channel id for the bot token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

/// Whether `name` looks like an environment variable name.
pub fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// An external reviewer: a program that gets each request as JSON on stdin and answers
/// `{"decision": "approve"|"deny"|"escalate", "reason": "…"}`. Its answer is a vote by
/// `reviewer:<name>`; an error, a timeout or a malformed answer escalates to people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reviewer {
    /// Name in votes (`reviewer:<name>`).
    #[serde(default = "default_reviewer_name")]
    pub name: String,
    /// The program and its arguments (no shell).
    pub command: Vec<String>,
    /// The highest tier it may review (`async` or `sync`); stricter requests go to people only.
    /// A `deny`-tier action is never reviewed.
    #[serde(default = "default_reviewer_tier")]
    pub max_tier: crate::tier::Tier,
    /// How long it may take, e.g. `30s`; then it is killed and the request escalates.
    #[serde(default = "default_reviewer_timeout")]
    pub timeout: String,
}

fn default_reviewer_name() -> String {
    "command".into()
}

fn default_reviewer_tier() -> crate::tier::Tier {
    crate::tier::Tier::Async
}

fn default_reviewer_timeout() -> String {
    "30s".into()
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
    /// Slack message with Approve / Deny buttons for each request routed to this group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackDestination>,
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

/// Why a webhook URL cannot work, or `Ok` when it can: an absolute `http://` or `https://` URL
/// with a host, an optional numeric port, no user name or password (a secret there would be
/// logged by proxies), no fragment and no whitespace.
pub fn check_webhook_url(url: &str) -> Result<(), String> {
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r
    } else if let Some(r) = url.strip_prefix("http://") {
        r
    } else {
        return Err(format!(
            "webhook URL `{url}` must start with `https://` (or `http://`)"
        ));
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("webhook URL contains whitespace or control characters".into());
    }
    if url.contains('#') {
        return Err("webhook URL must not have a `#fragment`".into());
    }
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("webhook URL must not carry a user name or password".into());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, "")) => (h, None),
            Some((h, rest)) if rest.starts_with(':') => (h, Some(&rest[1..])),
            _ => return Err(format!("webhook URL has an invalid host `{authority}`")),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("webhook URL has no host".into());
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
    {
        return Err(format!("webhook URL has an invalid host `{host}`"));
    }
    if let Some(p) = port
        && p.parse::<u16>().map_or(true, |n| n == 0)
    {
        return Err(format!("webhook URL has an invalid port `{p}`"));
    }
    Ok(())
}

/// Whether `s` is a duration the approval server reads (`500ms`, `30s`, `15m`, `2h`, `1d`, or a
/// bare number of seconds).
pub fn is_duration(s: &str) -> bool {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    !num.is_empty()
        && num.parse::<u64>().is_ok()
        && matches!(unit, "" | "ms" | "s" | "m" | "h" | "d")
}
