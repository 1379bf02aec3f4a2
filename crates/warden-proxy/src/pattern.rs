//! Host patterns and port specifications: the vocabulary of network rules, parsed once and
//! matched against normalised request hosts.
//!
//! * `example.com` — exactly that host;
//! * `*.example.com` — any subdomain of `example.com` (any depth), **not** `example.com` itself;
//! * `**.example.com` — `example.com` and every subdomain;
//! * `*` — any host (names and IP literals);
//! * `203.0.113.7`, `[2001:db8::1]` — that IP literal; `10.0.0.0/8`, `[fd00::/8]` — a CIDR block.
//!
//! A pattern may end in `:PORT` or `:*`; without one it covers [`DEFAULT_PORTS`] (80 and 443).

use crate::error::ProxyError;
use std::fmt;
use std::net::IpAddr;

/// Ports an `allow`/`deny` entry covers when it names no port.
pub const DEFAULT_PORTS: [u16; 2] = [80, 443];

/// A requested destination host, normalised: lower-case, no trailing dot, IP literals parsed
/// (and IPv4-mapped IPv6 addresses folded to IPv4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name.
    Name(String),
    /// An IP literal.
    Ip(IpAddr),
}

impl Host {
    /// Parses a host as it appears in a request (`example.com`, `EXAMPLE.com.`, `127.0.0.1`,
    /// `[::1]`, `::1`). Rejects anything that is not a plausible DNS name or IP literal, so
    /// odd bytes never reach the resolver or a log line.
    pub fn parse(raw: &str) -> Result<Host, String> {
        let trimmed = raw
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(raw);
        if let Ok(ip) = trimmed.parse::<IpAddr>() {
            return Ok(Host::Ip(ip.to_canonical()));
        }
        if trimmed.len() != raw.len() {
            return Err(format!("`{}` is not an IPv6 address", sanitize(raw)));
        }
        let name = normalize_name(raw)?;
        Ok(Host::Name(name))
    }

    /// The host as text (IPv6 without brackets).
    pub fn as_text(&self) -> String {
        match self {
            Host::Name(n) => n.clone(),
            Host::Ip(ip) => ip.to_string(),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// Lower-cases a DNS name, strips one trailing dot and checks its characters and label sizes.
fn normalize_name(raw: &str) -> Result<String, String> {
    let lower = raw.to_ascii_lowercase();
    let name = lower.strip_suffix('.').unwrap_or(&lower);
    if name.is_empty() || name.len() > 253 {
        return Err(format!("`{}` is not a valid host name", sanitize(raw)));
    }
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(format!("`{}` is not a valid host name", sanitize(raw)));
        }
    }
    Ok(name.to_string())
}

/// Makes arbitrary client-supplied text safe to put in an error message or log line.
pub(crate) fn sanitize(raw: &str) -> String {
    raw.chars()
        .take(300)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// The host half of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// `*`: every host.
    Any,
    /// `example.com`.
    Exact(String),
    /// `*.example.com`: strict subdomains.
    Subdomains(String),
    /// `**.example.com`: the apex and its subdomains.
    ApexAndSubdomains(String),
    /// An IP literal.
    Ip(IpAddr),
    /// A CIDR block.
    Cidr(IpAddr, u8),
}

impl HostPattern {
    /// Whether the requested host matches. Name patterns only match names and address patterns
    /// only match IP literals (so `*.0.0.1` can never match `127.0.0.1`).
    pub fn matches(&self, host: &Host) -> bool {
        match (self, host) {
            (HostPattern::Any, _) => true,
            (HostPattern::Exact(p), Host::Name(n)) => p == n,
            (HostPattern::Subdomains(p), Host::Name(n)) => is_strict_subdomain(n, p),
            (HostPattern::ApexAndSubdomains(p), Host::Name(n)) => {
                n == p || is_strict_subdomain(n, p)
            }
            (HostPattern::Ip(_) | HostPattern::Cidr(..), Host::Ip(ip)) => self.matches_ip(*ip),
            _ => false,
        }
    }

    /// Whether an address falls under an `Ip`/`Cidr` pattern (or `*`).
    pub fn matches_ip(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match self {
            HostPattern::Any => true,
            HostPattern::Ip(p) => *p == ip,
            HostPattern::Cidr(net, bits) => cidr_contains(*net, *bits, ip),
            _ => false,
        }
    }

    /// Whether this pattern names addresses rather than host names.
    pub fn is_address(&self) -> bool {
        matches!(self, HostPattern::Ip(_) | HostPattern::Cidr(..))
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Any => f.write_str("*"),
            HostPattern::Exact(h) => f.write_str(h),
            HostPattern::Subdomains(h) => write!(f, "*.{h}"),
            HostPattern::ApexAndSubdomains(h) => write!(f, "**.{h}"),
            HostPattern::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            HostPattern::Ip(ip) => write!(f, "{ip}"),
            HostPattern::Cidr(IpAddr::V6(ip), b) => write!(f, "[{ip}/{b}]"),
            HostPattern::Cidr(ip, b) => write!(f, "{ip}/{b}"),
        }
    }
}

fn is_strict_subdomain(name: &str, parent: &str) -> bool {
    name.len() > parent.len() + 1
        && name.ends_with(parent)
        && name.as_bytes()[name.len() - parent.len() - 1] == b'.'
}

fn cidr_contains(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// The port half of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortSpec {
    /// No port written: [`DEFAULT_PORTS`].
    Default,
    /// `:*`.
    Any,
    /// `:PORT`.
    One(u16),
}

impl PortSpec {
    /// Whether the port is covered.
    pub fn matches(self, port: u16) -> bool {
        match self {
            PortSpec::Default => DEFAULT_PORTS.contains(&port),
            PortSpec::Any => true,
            PortSpec::One(p) => p == port,
        }
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortSpec::Default => Ok(()),
            PortSpec::Any => f.write_str(":*"),
            PortSpec::One(p) => write!(f, ":{p}"),
        }
    }
}

/// A parsed `host[:port]` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host part.
    pub host: HostPattern,
    /// Port part.
    pub ports: PortSpec,
}

impl Target {
    /// Parses a pattern as written in the governance file.
    pub fn parse(raw: &str) -> Result<Target, ProxyError> {
        let err = |reason: &str| ProxyError::Pattern {
            pattern: sanitize(raw),
            reason: reason.to_string(),
        };
        let text = raw.trim();
        if text.is_empty() {
            return Err(err("empty pattern"));
        }
        let (host_part, port_part) = if let Some(rest) = text.strip_prefix('[') {
            let end = rest
                .find(']')
                .ok_or_else(|| err("missing `]` after IPv6 address"))?;
            let after = &rest[end + 1..];
            let port = if after.is_empty() {
                None
            } else {
                Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| err("expected `:PORT` after `]`"))?,
                )
            };
            (&rest[..end], port)
        } else if text.matches(':').count() > 1 {
            (text, None)
        } else if let Some((h, p)) = text.rsplit_once(':') {
            (h, Some(p))
        } else {
            (text, None)
        };
        let ports = match port_part {
            None => PortSpec::Default,
            Some("*") => PortSpec::Any,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => PortSpec::One(n),
                _ => return Err(err("port must be 1-65535 or `*`")),
            },
        };
        let host = parse_host_pattern(host_part).map_err(|r| err(&r))?;
        Ok(Target { host, ports })
    }

    /// Whether a request for `host:port` matches.
    pub fn matches(&self, host: &Host, port: u16) -> bool {
        self.ports.matches(port) && self.host.matches(host)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.host, self.ports)
    }
}

/// Parses the host part of a pattern (no port).
pub fn parse_host_pattern(raw: &str) -> Result<HostPattern, String> {
    if raw == "*" {
        return Ok(HostPattern::Any);
    }
    if let Some((net, bits)) = raw.split_once('/') {
        let net: IpAddr = net
            .parse()
            .map_err(|_| format!("`{}` is not an IP address", sanitize(net)))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits: u8 = bits
            .parse()
            .ok()
            .filter(|b| *b <= max)
            .ok_or_else(|| format!("prefix length must be 0-{max}"))?;
        return Ok(HostPattern::Cidr(net.to_canonical(), bits));
    }
    if let Ok(ip) = raw.parse::<IpAddr>() {
        return Ok(HostPattern::Ip(ip.to_canonical()));
    }
    if let Some(rest) = raw.strip_prefix("**.") {
        return Ok(HostPattern::ApexAndSubdomains(normalize_name(rest)?));
    }
    if let Some(rest) = raw.strip_prefix("*.") {
        return Ok(HostPattern::Subdomains(normalize_name(rest)?));
    }
    if raw.contains('*') {
        return Err(
            "`*` is only allowed as a whole label at the start (`*.host`, `**.host`)".into(),
        );
    }
    Ok(HostPattern::Exact(normalize_name(raw)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Host {
        Host::parse(s).unwrap()
    }

    #[test]
    fn subdomain_wildcard_excludes_apex() {
        let t = Target::parse("*.example.com").unwrap();
        assert!(t.matches(&name("a.example.com"), 443));
        assert!(t.matches(&name("a.b.example.com"), 80));
        assert!(!t.matches(&name("example.com"), 443));
        assert!(!t.matches(&name("badexample.com"), 443));
        assert!(!t.matches(&name("example.com.evil.test"), 443));
        assert!(
            !t.matches(&name("a.example.com"), 8080),
            "default ports are 80/443 only"
        );
    }

    #[test]
    fn double_star_includes_apex() {
        let t = Target::parse("**.example.com:*").unwrap();
        assert!(t.matches(&name("example.com"), 1));
        assert!(t.matches(&name("x.example.com"), 65535));
        assert!(!t.matches(&name("xexample.com"), 443));
    }

    #[test]
    fn host_normalisation_defeats_case_and_trailing_dot() {
        let t = Target::parse("Example.COM.").unwrap();
        assert!(t.matches(&name("EXAMPLE.com."), 443));
        assert!(Host::parse("exa mple.com").is_err());
        assert!(Host::parse("exa%2emple.com").is_err());
        assert!(Host::parse("a..b").is_err());
        assert!(Host::parse("").is_err());
    }

    #[test]
    fn ip_patterns_and_cidrs() {
        let t = Target::parse("[::1]:22").unwrap();
        assert!(t.matches(&name("[::1]"), 22));
        assert!(t.matches(&name("::1"), 22));
        assert!(!t.matches(&name("::1"), 23));
        let c = Target::parse("10.0.0.0/8:*").unwrap();
        assert!(c.matches(&name("10.200.3.4"), 9));
        assert!(
            c.matches(&name("[::ffff:10.1.2.3]"), 9),
            "v4-mapped v6 folds to v4"
        );
        assert!(!c.matches(&name("11.0.0.1"), 9));
        let v6 = Target::parse("[fd00::/8]").unwrap();
        assert!(v6.matches(&name("fd12::1"), 443));
        assert!(!v6.matches(&name("fe80::1"), 443));
        let bare = Target::parse("2001:db8::1").unwrap();
        assert_eq!(bare.ports, PortSpec::Default);
        assert!(bare.matches(&name("2001:db8::1"), 80));
    }

    #[test]
    fn name_patterns_never_match_ip_literals() {
        let t = Target::parse("*.0.0.1:*").unwrap();
        assert!(!t.matches(&name("127.0.0.1"), 80));
        let any = Target::parse("*:*").unwrap();
        assert!(any.matches(&name("127.0.0.1"), 80));
    }

    #[test]
    fn bad_patterns_are_rejected_with_the_pattern_named() {
        for bad in [
            "",
            "exa*mple.com",
            "a.*.com",
            "host:0",
            "host:99999",
            "host:x",
            "[::1",
            "[::1]x",
            "10.0.0.0/33",
            "[::/129]",
            "*.",
            "**.",
        ] {
            let e = Target::parse(bad).unwrap_err();
            assert!(matches!(e, ProxyError::Pattern { .. }), "{bad}: {e}");
        }
    }

    #[test]
    fn display_round_trips() {
        for p in [
            "example.com",
            "*.example.com:8443",
            "**.example.com:*",
            "[::1]:22",
            "10.0.0.0/8",
        ] {
            let t = Target::parse(p).unwrap();
            assert_eq!(Target::parse(&t.to_string()).unwrap(), t);
        }
    }
}
