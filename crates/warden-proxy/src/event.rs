//! The structured record of every proxy decision, handed to the caller (the `warden` binary)
//! so the audit log can record which connections were made or refused, and why.

use serde::Serialize;
use std::fmt;
use std::net::IpAddr;

/// How the sandboxed client reached the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// A plain-HTTP request in absolute form (`GET http://host/path`); the method is visible.
    Http,
    /// An HTTP `CONNECT` tunnel; the inner protocol (usually TLS) is opaque.
    Connect,
    /// A SOCKS5 `CONNECT`; opaque.
    Socks5,
    /// A request inside a `CONNECT` or SOCKS5 tunnel whose TLS the proxy intercepted.
    Https,
}

/// How much of the traffic the proxy sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Handling {
    /// A plain-HTTP request: method and path visible.
    Plain,
    /// A tunnel whose TLS the proxy terminates: each request inside is judged on its own.
    Intercepted,
    /// A tunnel to a `[network] passthrough` host: judged by host alone, never intercepted.
    Passthrough,
    /// A tunnel the proxy cannot see into (no interception, or not TLS on a port other than
    /// 443): judged by host alone.
    Opaque,
}

impl fmt::Display for Handling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Handling::Plain => "plain",
            Handling::Intercepted => "intercepted",
            Handling::Passthrough => "passthrough",
            Handling::Opaque => "opaque",
        })
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Http => "http",
            Protocol::Connect => "connect",
            Protocol::Socks5 => "socks5",
            Protocol::Https => "https",
        })
    }
}

/// One decision of the proxy: emitted exactly once per request or tunnel, before any byte of
/// the client's payload is forwarded (and, for refusals, without any upstream connection).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkEvent {
    /// Protocol the client used.
    pub protocol: Protocol,
    /// Requested host, normalised (lower case, no trailing dot; IP literals as text).
    pub host: String,
    /// Requested port.
    pub port: u16,
    /// HTTP method, when visible (plain HTTP and intercepted HTTPS).
    pub method: Option<String>,
    /// URL path with the query stripped and token-like segments redacted, when visible.
    pub path: Option<String>,
    /// Git smart-HTTP service (`git-upload-pack`, `git-receive-pack`), when the request is one.
    pub service: Option<String>,
    /// Whether the proxy saw the request or only a tunnel.
    pub handling: Handling,
    /// Tier the judge gave the request (the governance file's classification), when judged.
    pub tier: Option<warden_policy::Tier>,
    /// The governance rule the judge decided by, when judged (`rule` stays the deciding rule
    /// of the host allowlist, or the judge's rule when the judge refused).
    pub judged_by: Option<String>,
    /// Whether the connection was made.
    pub allowed: bool,
    /// Identifier of the deciding rule, e.g. `allow:example.com`, `deny:*.example.com`,
    /// `registry:cargo:HOST:443`, `forge:github.com`, `default-deny`, `private-address`,
    /// `resolve-failed`, `upstream-unreachable`, `bad-request`.
    pub rule: String,
    /// Human-readable explanation.
    pub reason: String,
    /// The address connected to (allowed) or refused by the private-address guard.
    pub resolved: Option<IpAddr>,
}
