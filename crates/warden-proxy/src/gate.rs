//! The one path every protocol takes to the outside: policy decision, resolution, the
//! private-address guard, connection to exactly the checked address, and the audit event.

use crate::addr::non_public_reason;
use crate::config::ProxyConfig;
use crate::event::{NetworkEvent, Protocol};
use crate::pattern::Host;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Callback receiving every decision.
pub type EventSink = Arc<dyn Fn(NetworkEvent) + Send + Sync>;

/// Shared state of a running proxy.
pub(crate) struct Ctx {
    pub config: ProxyConfig,
    pub on_event: EventSink,
    /// Open tunnels, ended when the proxy stops.
    pub tunnels: Arc<crate::splice::Tunnels>,
}

/// Why a connection was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Policy (or the private-address guard) refused it: 403 / SOCKS 0x02.
    Denied,
    /// The host did not resolve: 502 / SOCKS 0x04.
    Unresolvable,
    /// Every checked address refused the connection or timed out: 502 / SOCKS 0x05.
    Unreachable,
}

/// A refusal with the rule and reason to show the client.
#[derive(Debug, Clone)]
pub(crate) struct Refused {
    pub kind: Refusal,
    pub rule: String,
    pub reason: String,
}

impl Ctx {
    fn emit(&self, ev: NetworkEvent) {
        (self.on_event)(ev);
    }

    /// Emits a refusal for a request that could not even be parsed into host and port.
    pub fn bad_request(&self, protocol: Protocol, host: &str, port: u16, reason: String) {
        self.emit(NetworkEvent {
            protocol,
            host: crate::pattern::sanitize(host),
            port,
            method: None,
            allowed: false,
            rule: "bad-request".into(),
            reason,
            resolved: None,
        });
    }

    /// Decides, resolves, guards and connects. Emits exactly one event. On refusal no upstream
    /// connection has been attempted (for `Denied`/`Unresolvable`).
    pub async fn open(
        &self,
        protocol: Protocol,
        host: &Host,
        port: u16,
        method: Option<&str>,
    ) -> Result<(TcpStream, SocketAddr), Refused> {
        let event =
            |allowed: bool, rule: &str, reason: &str, resolved: Option<IpAddr>| NetworkEvent {
                protocol,
                host: host.as_text(),
                port,
                method: method.map(str::to_string),
                allowed,
                rule: rule.to_string(),
                reason: reason.to_string(),
                resolved,
            };
        let refuse = |kind, rule: &str, reason: String, resolved| {
            self.emit(event(false, rule, &reason, resolved));
            Err(Refused {
                kind,
                rule: rule.to_string(),
                reason,
            })
        };

        let verdict = self.config.decide(host, port, method);
        if !verdict.allowed {
            return refuse(Refusal::Denied, &verdict.rule, verdict.reason, None);
        }

        let addrs = match self.resolve(host, port).await {
            Ok(a) if !a.is_empty() => a,
            Ok(_) => {
                return refuse(
                    Refusal::Unresolvable,
                    "resolve-failed",
                    format!("{host} has no addresses"),
                    None,
                );
            }
            Err(e) => {
                return refuse(
                    Refusal::Unresolvable,
                    "resolve-failed",
                    format!("cannot resolve {host}: {e}"),
                    None,
                );
            }
        };

        // The DNS-rebinding guard: drop every non-public address not explicitly permitted.
        let mut permitted = Vec::new();
        let mut first_refused: Option<(IpAddr, &'static str)> = None;
        for ip in addrs {
            let ip = ip.to_canonical();
            match non_public_reason(ip) {
                Some(why) if !self.config.private_allowed(host, ip) => {
                    first_refused.get_or_insert((ip, why));
                }
                _ => {
                    if !permitted.contains(&ip) {
                        permitted.push(ip);
                    }
                }
            }
        }
        if permitted.is_empty() {
            let (ip, why) = first_refused.unwrap_or((IpAddr::from([0, 0, 0, 0]), "unspecified"));
            return refuse(
                Refusal::Denied,
                "private-address",
                format!(
                    "{host} resolves to {ip} ({why}); add it to [network] allow_private to permit it"
                ),
                Some(ip),
            );
        }

        let mut last_err = String::new();
        for ip in permitted {
            let sa = SocketAddr::new(ip, port);
            match timeout(
                self.config.limits.connect_timeout,
                crate::host_local::connect(sa),
            )
            .await
            {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    self.emit(event(true, &verdict.rule, &verdict.reason, Some(ip)));
                    return Ok((stream, sa));
                }
                Ok(Err(e)) => last_err = format!("{sa}: {e}"),
                Err(_) => last_err = format!("{sa}: connect timed out"),
            }
        }
        refuse(
            Refusal::Unreachable,
            "upstream-unreachable",
            format!(
                "allowed by {}, but the connection failed: {last_err}",
                verdict.rule
            ),
            None,
        )
    }

    async fn resolve(&self, host: &Host, port: u16) -> Result<Vec<IpAddr>, String> {
        match host {
            Host::Ip(ip) => Ok(vec![*ip]),
            Host::Name(name) => {
                if let Some(v) = self.config.override_for(host) {
                    return Ok(v.clone());
                }
                let lookup = tokio::net::lookup_host((name.as_str(), port));
                match timeout(self.config.limits.resolve_timeout, lookup).await {
                    Ok(Ok(it)) => Ok(it.map(|sa| sa.ip()).collect()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("resolution timed out".into()),
                }
            }
        }
    }
}
