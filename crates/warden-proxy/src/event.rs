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
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Http => "http",
            Protocol::Connect => "connect",
            Protocol::Socks5 => "socks5",
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
    /// HTTP method, when visible (plain HTTP only).
    pub method: Option<String>,
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
