//! The proxy's enforceable policy: ordered allow/deny rules (from the governance file, the
//! built-in defaults and run-time discovery), private-address exceptions, resolver overrides
//! and limits; plus the pure decision function that the server and `warden` both use.

use crate::discover::{self, DiscoveryEnv};
use crate::error::ProxyError;
use crate::pattern::{Host, HostPattern, Target, sanitize};
use crate::workspace_trust::WorkspaceConfig;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;
use warden_policy::sections::NetworkConfig;
use warden_policy::sections::network::NetworkAction;

/// The embedded built-in defaults (forge list, built-in denies), versioned.
pub const DEFAULTS_TOML: &str = include_str!("../defaults/network.toml");

/// The parsed built-in defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Format/content version.
    pub version: u32,
    /// Code forge host patterns.
    pub forges: Vec<String>,
    /// Patterns always denied.
    pub deny: Vec<String>,
    /// Hosts tunnelled without interception.
    #[serde(default)]
    pub passthrough: Vec<String>,
}

impl Defaults {
    /// Parses [`DEFAULTS_TOML`].
    pub fn load() -> Result<Defaults, ProxyError> {
        toml::from_str(DEFAULTS_TOML).map_err(|e| ProxyError::Defaults(e.to_string()))
    }
}

/// Whether a rule lets connections through or refuses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleAction {
    /// Let through.
    Allow,
    /// Refuse (wins over any allow).
    Deny,
}

/// One enforceable rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Identifier reported in events and in the `X-Warden-Deny` header.
    pub id: String,
    /// Host and port pattern.
    pub target: Target,
    /// Upper-case HTTP methods this rule is limited to; empty = all.
    pub methods: Vec<String>,
    /// Allow or deny.
    pub action: RuleAction,
    /// Where the rule came from (`policy`, `built-in defaults`, `cargo: /path/config.toml`, ...),
    /// so a user can see why a host is allowed.
    pub source: String,
    /// Why the rule exists.
    pub reason: String,
}

impl Rule {
    /// A rule from a pattern string.
    pub fn new(
        action: RuleAction,
        pattern: &str,
        id: impl Into<String>,
        source: impl Into<String>,
    ) -> Result<Rule, ProxyError> {
        Ok(Rule {
            id: id.into(),
            target: Target::parse(pattern)?,
            methods: Vec::new(),
            action,
            source: source.into(),
            reason: String::new(),
        })
    }

    /// Restricts the rule to some HTTP methods (validated, upper-cased).
    pub fn with_methods<S: AsRef<str>>(mut self, methods: &[S]) -> Result<Rule, ProxyError> {
        let mut out = Vec::new();
        for m in methods {
            let m = m.as_ref();
            let valid = !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-');
            if !valid {
                return Err(ProxyError::Method(sanitize(m)));
            }
            out.push(m.to_ascii_uppercase());
        }
        self.methods = out;
        Ok(self)
    }

    /// Sets the explanation.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Rule {
        self.reason = reason.into();
        self
    }

    fn method_covers(&self, method: Option<&str>) -> MethodMatch {
        if self.methods.is_empty() {
            return MethodMatch::Yes;
        }
        match method {
            None => MethodMatch::Opaque,
            Some(m) if self.methods.iter().any(|x| x.eq_ignore_ascii_case(m)) => MethodMatch::Yes,
            Some(_) => MethodMatch::No,
        }
    }
}

/// Where an allow or deny rule came from, for showing a person why a host is (not) reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleOrigin {
    /// The built-in deny list ([`DEFAULTS_TOML`]).
    BuiltinDeny,
    /// The built-in list of public code forges ([`DEFAULTS_TOML`]).
    ForgeList,
    /// The governance file's `[network]` section (`allow`, `deny`, `[[network.rule]]`).
    Policy,
    /// A package registry discovered from this machine's package-manager configuration.
    DiscoveredRegistry,
    /// A git remote of the workspace.
    GitRemote,
    /// Added by a caller of [`ProxyConfig::push`] with an identifier of its own.
    Other,
}

impl Rule {
    /// Where this rule came from, read from the identifier [`ProxyConfig`] gives every rule it
    /// builds (`builtin-deny:`, `forge:`, `allow:`/`deny:`/`rule:`/a policy id, `registry:KIND:`,
    /// `git-remote:`).
    pub fn origin(&self) -> RuleOrigin {
        let id = self.id.as_str();
        if id.starts_with("builtin-deny:") {
            RuleOrigin::BuiltinDeny
        } else if id.starts_with("forge:") {
            RuleOrigin::ForgeList
        } else if id.starts_with("registry:") {
            RuleOrigin::DiscoveredRegistry
        } else if id.starts_with("git-remote:") {
            RuleOrigin::GitRemote
        } else if self.source == "policy" {
            RuleOrigin::Policy
        } else {
            RuleOrigin::Other
        }
    }
}

enum MethodMatch {
    Yes,
    No,
    Opaque,
}

/// The outcome of the pure policy decision (before resolution).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether policy lets the request through.
    pub allowed: bool,
    /// Deciding rule id.
    pub rule: String,
    /// Explanation.
    pub reason: String,
}

/// Resource limits and timeouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Host name resolution timeout.
    pub resolve_timeout: Duration,
    /// Upstream TCP connect timeout (per address tried).
    pub connect_timeout: Duration,
    /// Time a client has to send its first request / SOCKS handshake.
    pub handshake_timeout: Duration,
    /// Maximum simultaneous client connections (further clients wait in the accept queue).
    pub max_connections: usize,
    /// Worker threads of the proxy's runtime.
    pub worker_threads: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            resolve_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(30),
            max_connections: 512,
            worker_threads: 2,
        }
    }
}

/// Everything the proxy enforces. Start from [`ProxyConfig::new`] (deny everything) or
/// [`ProxyConfig::from_network_config`] (governance file + defaults + discovery).
#[derive(Debug, Clone, Default)]
pub struct ProxyConfig {
    rules: Vec<Rule>,
    passthrough: Vec<HostPattern>,
    /// Extra upstream trust anchors (`[network] upstream_ca`).
    pub upstream_ca: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// Brokered secrets (`[[network.credential]]`, see [`crate::load_credentials`]).
    pub credentials: Vec<crate::credentials::Credential>,
    /// The run's CA; when set, tunnels are intercepted (except passthrough hosts).
    pub ca: Option<std::sync::Arc<crate::ca::CertificateAuthority>>,
    private_exceptions: Vec<HostPattern>,
    resolve_overrides: HashMap<String, Vec<IpAddr>>,
    /// Limits and timeouts.
    pub limits: Limits,
}

/// Where the host part of registry discovery is cached: `.warden/discovery/cache` of the
/// workspace, which sandboxed commands cannot write (`.warden/` is read-only inside) — a cache
/// they could write would let them add allowed hosts. Per workspace, so a new workspace pays
/// the probes once.
fn cache_dir(workspace: &Path) -> std::path::PathBuf {
    workspace
        .join(crate::workspace_trust::STATE_DIR)
        .join("cache")
}

impl ProxyConfig {
    /// An empty configuration: every connection is refused.
    pub fn new() -> ProxyConfig {
        ProxyConfig::default()
    }

    /// Builds the configuration from the `[network]` section: built-in denies, the section's own
    /// `deny`/`allow`/`rule` entries, then (unless switched off) the built-in forges, the
    /// registries discovered from this machine's package-manager configuration and the
    /// workspace's git remote hosts. Discovery reads the real process environment and believes
    /// the workspace's files as [`WorkspaceConfig::current`] does (not what a sandboxed
    /// command wrote).
    pub fn from_network_config(
        cfg: &NetworkConfig,
        workspace: &Path,
    ) -> Result<ProxyConfig, ProxyError> {
        let env = DiscoveryEnv::from_process();
        let trusted = WorkspaceConfig::current(workspace, &env);
        Self::build(cfg, workspace, &env, Some(&cache_dir(workspace)), &trusted)
    }

    /// [`ProxyConfig::from_network_config`] for a sandboxed run: workspace files only as
    /// `trusted` holds them (the snapshot [`crate::ConfigWatch::begin`] took before the run).
    pub fn from_network_config_trusting(
        cfg: &NetworkConfig,
        workspace: &Path,
        trusted: &WorkspaceConfig,
    ) -> Result<ProxyConfig, ProxyError> {
        let env = DiscoveryEnv::from_process();
        Self::build(cfg, workspace, &env, Some(&cache_dir(workspace)), trusted)
    }

    /// [`ProxyConfig::from_network_config`] with an explicit discovery environment (no cache).
    pub fn from_network_config_with(
        cfg: &NetworkConfig,
        workspace: &Path,
        env: &DiscoveryEnv,
    ) -> Result<ProxyConfig, ProxyError> {
        let trusted = WorkspaceConfig::current(workspace, env);
        Self::build(cfg, workspace, env, None, &trusted)
    }

    fn build(
        cfg: &NetworkConfig,
        workspace: &Path,
        env: &DiscoveryEnv,
        cache: Option<&Path>,
        trusted: &WorkspaceConfig,
    ) -> Result<ProxyConfig, ProxyError> {
        let defaults = Defaults::load()?;
        let mut c = ProxyConfig::new();
        for p in &defaults.deny {
            c.push(Rule::new(
                RuleAction::Deny,
                p,
                format!("builtin-deny:{p}"),
                "built-in defaults",
            )?);
        }
        for p in &cfg.deny {
            c.deny(p)?;
        }
        for p in &cfg.allow {
            c.allow(p)?;
        }
        for r in &cfg.rule {
            let action = match r.action.unwrap_or_default() {
                NetworkAction::Allow => RuleAction::Allow,
                NetworkAction::Deny => RuleAction::Deny,
            };
            let id = r.id.clone().unwrap_or_else(|| format!("rule:{}", r.host));
            let rule = Rule::new(action, &r.host, id, "policy")?
                .with_methods(&r.methods)?
                .with_reason(r.reason.clone().unwrap_or_default());
            c.push(rule);
        }
        for p in &cfg.allow_private {
            c.allow_private(p)?;
        }
        for p in defaults.passthrough.iter().chain(&cfg.passthrough) {
            c.passthrough(p)?;
        }
        for f in &cfg.upstream_ca {
            let path = workspace.join(f);
            let certs = crate::ca::read_pem_certs(&path).map_err(ProxyError::UpstreamCa)?;
            c.upstream_ca.extend(certs);
        }
        if cfg.forges.unwrap_or(true) {
            for p in &defaults.forges {
                c.push(
                    Rule::new(
                        RuleAction::Allow,
                        p,
                        format!("forge:{p}"),
                        "built-in forge list",
                    )?
                    .with_reason("public code forge"),
                );
            }
        }
        let mut found = Vec::new();
        if cfg.discover_registries.unwrap_or(true) {
            found.extend(match cache {
                Some(dir) => discover::discover_registries_cached(workspace, env, dir, trusted),
                None => discover::discover_registries_trusting(workspace, env, trusted),
            });
        }
        if cfg.discover_git_remotes.unwrap_or(true) {
            found.extend(discover::discover_git_remotes_trusting(
                workspace, env, trusted,
            ));
        }
        for d in found {
            let pattern = match d.host.parse::<IpAddr>() {
                Ok(IpAddr::V6(v6)) => format!("[{v6}]:{}", d.port),
                _ => format!("{}:{}", d.host, d.port),
            };
            // A discovered value we cannot parse is skipped, not fatal: it came from some tool's
            // configuration, not from the governance file.
            if let Ok(rule) = Rule::new(
                RuleAction::Allow,
                &pattern,
                format!("{}:{pattern}", d.kind),
                d.source.clone(),
            ) {
                c.push(rule.with_reason(format!("{} ({})", d.kind, d.source)));
            }
        }
        if let Some(s) = cfg.resolve_timeout_secs {
            c.limits.resolve_timeout = Duration::from_secs(s);
        }
        if let Some(s) = cfg.connect_timeout_secs {
            c.limits.connect_timeout = Duration::from_secs(s);
        }
        if let Some(n) = cfg.max_connections {
            c.limits.max_connections = usize::try_from(n).unwrap_or(usize::MAX).max(1);
        }
        Ok(c)
    }

    /// Appends a rule (deny rules win wherever they are; allow rules are tried in order).
    pub fn push(&mut self, rule: Rule) -> &mut Self {
        if !self.rules.contains(&rule) {
            self.rules.push(rule);
        }
        self
    }

    /// Allows a pattern (`allow:<pattern>`).
    pub fn allow(&mut self, pattern: &str) -> Result<&mut Self, ProxyError> {
        let rule = Rule::new(
            RuleAction::Allow,
            pattern,
            format!("allow:{pattern}"),
            "policy",
        )?;
        Ok(self.push(rule))
    }

    /// Denies a pattern (`deny:<pattern>`).
    pub fn deny(&mut self, pattern: &str) -> Result<&mut Self, ProxyError> {
        let rule = Rule::new(
            RuleAction::Deny,
            pattern,
            format!("deny:{pattern}"),
            "policy",
        )?;
        Ok(self.push(rule))
    }

    /// Lifts the private-address guard for a host pattern (its resolved addresses may be
    /// non-public) or for an IP/CIDR (that address may be connected to). Any `:port` is ignored.
    /// This does not allow the host: an allow rule is still required.
    pub fn allow_private(&mut self, pattern: &str) -> Result<&mut Self, ProxyError> {
        let t = Target::parse(pattern)?;
        self.private_exceptions.push(t.host);
        Ok(self)
    }

    /// Tunnels `pattern`'s hosts without interception (judged by host alone).
    pub fn passthrough(&mut self, pattern: &str) -> Result<&mut Self, ProxyError> {
        let t = Target::parse(pattern)?;
        self.passthrough.push(t.host);
        Ok(self)
    }

    /// Whether tunnels to `host` are passed through uninspected.
    pub fn is_passthrough(&self, host: &Host) -> bool {
        self.passthrough.iter().any(|p| p.matches(host))
    }

    /// Makes `host` resolve to `addrs` instead of asking the system resolver (tests, pinning).
    /// The private-address guard still applies to these addresses.
    pub fn resolve_override(
        &mut self,
        host: &str,
        addrs: Vec<IpAddr>,
    ) -> Result<&mut Self, ProxyError> {
        let h = Host::parse(host).map_err(|reason| ProxyError::Pattern {
            pattern: sanitize(host),
            reason,
        })?;
        self.resolve_overrides.insert(h.as_text(), addrs);
        Ok(self)
    }

    /// All rules, in evaluation order for allows (denies always win).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub(crate) fn override_for(&self, host: &Host) -> Option<&Vec<IpAddr>> {
        match host {
            Host::Name(n) => self.resolve_overrides.get(n),
            Host::Ip(_) => None,
        }
    }

    /// Whether a non-public `ip`, reached by asking for `host`, is explicitly permitted.
    pub fn private_allowed(&self, host: &Host, ip: IpAddr) -> bool {
        self.private_exceptions.iter().any(|p| {
            if p.is_address() {
                p.matches_ip(ip)
            } else {
                p.matches(host)
            }
        })
    }

    /// The pure policy decision for `host:port`. `method` is the HTTP method when visible
    /// (plain HTTP) and `None` for opaque tunnels (CONNECT, SOCKS5).
    pub fn decide(&self, host: &Host, port: u16, method: Option<&str>) -> Verdict {
        for r in self.rules.iter().filter(|r| r.action == RuleAction::Deny) {
            if !r.target.matches(host, port) {
                continue;
            }
            match r.method_covers(method) {
                MethodMatch::Yes | MethodMatch::Opaque => {
                    let why = if r.reason.is_empty() {
                        format!("{host}:{port} is denied by `{}` ({})", r.target, r.source)
                    } else {
                        format!("{host}:{port} is denied by `{}`: {}", r.target, r.reason)
                    };
                    return Verdict {
                        allowed: false,
                        rule: r.id.clone(),
                        reason: why,
                    };
                }
                MethodMatch::No => {}
            }
        }
        let mut near_miss: Option<(&Rule, bool)> = None;
        for r in self.rules.iter().filter(|r| r.action == RuleAction::Allow) {
            if !r.target.matches(host, port) {
                continue;
            }
            match r.method_covers(method) {
                MethodMatch::Yes => {
                    return Verdict {
                        allowed: true,
                        rule: r.id.clone(),
                        reason: format!(
                            "{host}:{port} is allowed by `{}` ({})",
                            r.target, r.source
                        ),
                    };
                }
                MethodMatch::No => near_miss = near_miss.or(Some((r, false))),
                MethodMatch::Opaque => near_miss = near_miss.or(Some((r, true))),
            }
        }
        if let Some((r, opaque)) = near_miss {
            let reason = if opaque {
                format!(
                    "`{}` only allows methods {} and a tunnel hides the method; use plain HTTP",
                    r.target,
                    r.methods.join(", ")
                )
            } else {
                format!(
                    "`{}` only allows methods {}, not {}",
                    r.target,
                    r.methods.join(", "),
                    method.map(sanitize).unwrap_or_default()
                )
            };
            return Verdict {
                allowed: false,
                rule: r.id.clone(),
                reason,
            };
        }
        let hint = if matches!(host, Host::Name(_)) {
            format!("add `{host}` to [network] allow to permit it")
        } else {
            format!("add `{host}:{port}` to [network] allow to permit it")
        };
        Verdict {
            allowed: false,
            rule: "default-deny".into(),
            reason: format!("{host}:{port} is not on the network allowlist; {hint}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Host {
        Host::parse(s).unwrap()
    }

    #[test]
    fn embedded_defaults_parse_and_every_entry_is_valid() {
        let d = Defaults::load().unwrap();
        assert!(d.version >= 1);
        assert!(!d.forges.is_empty());
        for p in d.forges.iter().chain(&d.deny).chain(&d.passthrough) {
            Target::parse(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
    }

    #[test]
    fn every_built_rule_says_where_it_came_from() {
        let ws = tempfile::tempdir().unwrap();
        std::fs::create_dir(ws.path().join(".git")).unwrap();
        std::fs::write(
            ws.path().join(".git/config"),
            "[remote \"origin\"]\n\turl = https://git.corp.invalid/team/repo.git\n",
        )
        .unwrap();
        let net = NetworkConfig {
            allow: vec!["mirror.corp.invalid:443".into()],
            deny: vec!["evil.corp.invalid".into()],
            discover_registries: Some(false),
            ..NetworkConfig::default()
        };
        let c =
            ProxyConfig::from_network_config_with(&net, ws.path(), &DiscoveryEnv::empty()).unwrap();
        let origin_of = |target: &str| {
            c.rules()
                .iter()
                .find(|r| r.target.to_string().starts_with(target))
                .map(Rule::origin)
        };
        assert_eq!(origin_of("mirror.corp.invalid"), Some(RuleOrigin::Policy));
        assert_eq!(origin_of("evil.corp.invalid"), Some(RuleOrigin::Policy));
        assert_eq!(origin_of("git.corp.invalid"), Some(RuleOrigin::GitRemote));
        assert!(
            c.rules()
                .iter()
                .any(|r| r.origin() == RuleOrigin::ForgeList)
        );
        assert!(
            c.rules()
                .iter()
                .any(|r| r.origin() == RuleOrigin::BuiltinDeny)
        );
        assert!(c.rules().iter().all(|r| r.origin() != RuleOrigin::Other));
    }

    #[test]
    fn default_is_deny() {
        let c = ProxyConfig::new();
        let v = c.decide(&h("example.test"), 443, None);
        assert!(!v.allowed);
        assert_eq!(v.rule, "default-deny");
    }

    #[test]
    fn deny_beats_allow_in_any_order() {
        let mut c = ProxyConfig::new();
        c.allow("**.example.test").unwrap();
        c.deny("bad.example.test").unwrap();
        assert!(c.decide(&h("good.example.test"), 443, None).allowed);
        let v = c.decide(&h("BAD.example.test."), 443, Some("GET"));
        assert!(!v.allowed);
        assert_eq!(v.rule, "deny:bad.example.test");
    }

    #[test]
    fn method_restricted_rules() {
        let mut c = ProxyConfig::new();
        c.push(
            Rule::new(RuleAction::Allow, "ro.test", "ro", "policy")
                .unwrap()
                .with_methods(&["get", "HEAD"])
                .unwrap(),
        );
        assert!(c.decide(&h("ro.test"), 80, Some("GET")).allowed);
        assert!(c.decide(&h("ro.test"), 80, Some("head")).allowed);
        let post = c.decide(&h("ro.test"), 80, Some("POST"));
        assert!(!post.allowed && post.rule == "ro", "{post:?}");
        assert!(
            !c.decide(&h("ro.test"), 443, None).allowed,
            "tunnels hide the method"
        );

        let mut d = ProxyConfig::new();
        d.allow("w.test").unwrap();
        d.push(
            Rule::new(RuleAction::Deny, "w.test", "no-post", "policy")
                .unwrap()
                .with_methods(&["POST"])
                .unwrap(),
        );
        assert!(d.decide(&h("w.test"), 80, Some("GET")).allowed);
        assert!(!d.decide(&h("w.test"), 80, Some("POST")).allowed);
        assert!(
            !d.decide(&h("w.test"), 443, None).allowed,
            "deny-by-method refuses tunnels"
        );
        assert!(
            Rule::new(RuleAction::Allow, "x.test", "x", "p")
                .unwrap()
                .with_methods(&["G ET"])
                .is_err()
        );
    }

    #[test]
    fn governance_file_network_section_parses_and_applies() {
        let text = r#"
            allow = ["**.corp.test", "build.test:8443"]
            deny = ["secret.corp.test:*"]
            allow_private = ["10.0.0.0/8"]
            forges = false
            discover_registries = false
            discover_git_remotes = false

            [[rule]]
            id = "docs-read-only"
            host = "docs.test"
            methods = ["GET", "HEAD"]
            reason = "documentation mirror"

            [[rule]]
            host = "*.corp.test"
            action = "deny"
            methods = ["DELETE"]
        "#;
        let cfg: NetworkConfig = toml::from_str(text).unwrap();
        let ws = tempfile::tempdir().unwrap();
        let c =
            ProxyConfig::from_network_config_with(&cfg, ws.path(), &DiscoveryEnv::empty()).unwrap();
        assert!(c.decide(&h("corp.test"), 443, None).allowed);
        assert!(c.decide(&h("build.test"), 8443, None).allowed);
        assert!(!c.decide(&h("build.test"), 443, None).allowed);
        assert!(!c.decide(&h("secret.corp.test"), 443, None).allowed);
        assert!(c.decide(&h("docs.test"), 80, Some("GET")).allowed);
        let put = c.decide(&h("docs.test"), 80, Some("PUT"));
        assert_eq!(put.rule, "docs-read-only");
        let del = c.decide(&h("x.corp.test"), 80, Some("DELETE"));
        assert!(!del.allowed && del.rule == "rule:*.corp.test", "{del:?}");
        assert!(c.private_allowed(&h("anything.test"), "10.9.8.7".parse().unwrap()));

        let typo = toml::from_str::<NetworkConfig>("alow = [\"x\"]");
        assert!(typo.is_err(), "unknown keys are rejected");
    }

    #[test]
    fn from_network_config_merges_sections_and_switches() {
        let ws = tempfile::tempdir().unwrap();
        let env = DiscoveryEnv::empty();
        let cfg = NetworkConfig {
            allow: vec!["a.test".into()],
            deny: vec!["*.a.test".into()],
            allow_private: vec!["a.test".into()],
            forges: Some(false),
            discover_registries: Some(false),
            discover_git_remotes: Some(false),
            connect_timeout_secs: Some(3),
            ..NetworkConfig::default()
        };
        let c = ProxyConfig::from_network_config_with(&cfg, ws.path(), &env).unwrap();
        assert!(c.decide(&h("a.test"), 443, None).allowed);
        assert!(!c.decide(&h("x.a.test"), 443, None).allowed);
        assert!(
            !c.decide(&h("169.254.169.254"), 80, None).allowed,
            "built-in deny"
        );
        assert!(c.private_allowed(&h("a.test"), "127.0.0.1".parse().unwrap()));
        assert!(!c.private_allowed(&h("b.test"), "127.0.0.1".parse().unwrap()));
        assert_eq!(c.limits.connect_timeout, Duration::from_secs(3));
        assert!(c.rules().iter().all(|r| !r.id.starts_with("forge:")));

        let with_forges = ProxyConfig::from_network_config_with(
            &NetworkConfig {
                discover_registries: Some(false),
                discover_git_remotes: Some(false),
                ..NetworkConfig::default()
            },
            ws.path(),
            &env,
        )
        .unwrap();
        assert!(
            with_forges
                .rules()
                .iter()
                .any(|r| r.id.starts_with("forge:"))
        );

        let bad = NetworkConfig {
            allow: vec!["exa*mple.test".into()],
            ..NetworkConfig::default()
        };
        let e = ProxyConfig::from_network_config_with(&bad, ws.path(), &env).unwrap_err();
        assert!(e.to_string().contains("exa*mple.test"), "{e}");
    }
}
