//! The `[network]` section of the governance file: which hosts the sandbox's egress proxy lets
//! an action reach. Plain serde data; `warden-proxy` turns it into enforceable rules.
//!
//! Host patterns (used by `allow`, `deny`, `allow_private` and `rule.host`):
//!
//! * `example.com` — exactly that host;
//! * `*.example.com` — any subdomain of `example.com` at any depth, but **not** `example.com` itself;
//! * `**.example.com` — `example.com` and all of its subdomains;
//! * `*` — any host (useful in `deny`, or with `allow_private`);
//! * an IP literal (`203.0.113.7`, `[2001:db8::1]`) or a CIDR block (`10.0.0.0/8`) — matches
//!   requests that name an IP address directly.
//!
//! A pattern may end in `:PORT` (`example.com:8443`, `[2001:db8::1]:22`) or `:*` (any port);
//! without a port, `allow` and `deny` entries cover ports 80 and 443 only.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The `[network]` section: the egress allowlist of the sandbox.
///
/// Arrays extend across layered governance files (organisation + repository); scalars override.
/// Evaluation order: any matching `deny` entry (or deny `rule`) wins; then the first matching
/// allow entry; otherwise the connection is refused (default deny).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// Host patterns the sandbox may connect to, e.g. `example.com`, `*.example.com`,
    /// `**.example.com:8443`, `203.0.113.7:22`. Without a port a pattern covers ports 80 and 443.
    pub allow: Vec<String>,
    /// Host patterns that are always refused; a deny entry wins over every allow entry,
    /// including discovered registries and forges.
    pub deny: Vec<String>,
    /// Hosts (patterns) or addresses/CIDR blocks that may resolve to, or be, non-public addresses
    /// (loopback, RFC 1918, link-local, CGNAT, unique-local, cloud metadata, ...). Such addresses
    /// are refused by default to stop DNS-rebinding and metadata-service attacks. An entry here
    /// only lifts that guard; the host must still be allowed by `allow` or `rule`.
    pub allow_private: Vec<String>,
    /// Detailed rules, for when a host needs method restrictions or an explanation.
    pub rule: Vec<NetworkRule>,
    /// Allow the package registries this machine's package managers are configured to use
    /// (cargo, pip, npm, apt, go, gem, maven), discovered at run time. Default: true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discover_registries: Option<bool>,
    /// Allow the hosts of the workspace's git remotes (HTTPS, SSH and git protocol ports).
    /// Default: true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discover_git_remotes: Option<bool>,
    /// Allow the built-in list of major public code forges (and their API/raw/objects hosts).
    /// Default: true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forges: Option<bool>,
    /// Seconds allowed for resolving a host name before the request fails. Default: 5.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolve_timeout_secs: Option<u64>,
    /// Seconds allowed for connecting to an upstream address before the request fails. Default: 10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_timeout_secs: Option<u64>,
    /// Largest number of simultaneous client connections the proxy serves. Default: 512.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// Intercept HTTPS in the sandbox (a per-run CA, trusted only inside) so that each request
    /// is visible to the governance file, not just its host. Default: true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intercept: Option<bool>,
    /// Host patterns whose HTTPS is tunnelled without interception (clients that pin
    /// certificates): judged by host alone, reported as `passthrough`.
    pub passthrough: Vec<String>,
    /// PEM files of certificate authorities the proxy trusts for upstream servers, besides the
    /// system's trust store (relative paths are relative to the workspace).
    pub upstream_ca: Vec<String>,
    /// Secrets the proxy adds to requests so that they never enter the sandbox
    /// (`[[network.credential]]`).
    pub credential: Vec<NetworkCredential>,
}

/// A secret held outside the sandbox (`[[network.credential]]`): inside, its variable holds a
/// placeholder of the same shape; the proxy swaps the placeholder for the real value in the
/// headers of requests to `hosts` (only), and refuses a request carrying it anywhere else.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkCredential {
    /// Identifier reported in records.
    pub id: String,
    /// Host patterns the credential is for (same syntax as `allow`).
    pub hosts: Vec<String>,
    /// The variable of Warden's caller holding the secret; the sandbox gets the same variable
    /// holding the placeholder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// A file (outside the sandbox) holding the secret; the placeholder goes into `env_as`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The variable that holds the placeholder inside the sandbox when the secret comes from
    /// `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_as: Option<String>,
    /// The least granted tier at which a request may carry the credential (e.g. `async` for a
    /// token that can push); default `auto`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<crate::tier::Tier>,
}

/// One detailed network rule (`[[network.rule]]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkRule {
    /// Identifier reported in audit events and in the `X-Warden-Deny` header; defaults to
    /// `rule:<host>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Host pattern, with optional `:PORT` or `:*` (same syntax as `allow`).
    pub host: String,
    /// `allow` (default) or `deny`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<NetworkAction>,
    /// HTTP methods this rule covers (e.g. `["GET", "HEAD"]`); empty = all methods.
    /// Methods are only visible for plain-HTTP requests: a method-restricted `allow` rule never
    /// admits an opaque tunnel (CONNECT, SOCKS5), and a method-restricted `deny` rule refuses
    /// tunnels to its host (the proxy cannot prove the method is not in the list).
    pub methods: Vec<String>,
    /// Why this rule exists; shown to the user and in the deny response body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What a [`NetworkRule`] does with the connections it matches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NetworkAction {
    /// Let the connection through.
    #[default]
    Allow,
    /// Refuse the connection (wins over allow).
    Deny,
}
