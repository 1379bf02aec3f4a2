//! The one path every protocol takes to the outside: policy decision, resolution, the
//! private-address guard, connection to exactly the checked address, and the audit event.

use crate::addr::non_public_reason;
use crate::config::ProxyConfig;
use crate::event::{Handling, NetworkEvent, Protocol};
use crate::judge::{Judge, Judgement, NetRequest};
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
    /// Judges each request (or tunnel) the host allowlist admits.
    pub judge: Arc<dyn Judge>,
    /// TLS interception, when the run has a CA.
    pub intercept: Option<Arc<crate::mitm::Interceptor>>,
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
            path: None,
            service: None,
            handling: Handling::Opaque,
            tier: None,
            judged_by: None,
            allowed: false,
            rule: "bad-request".into(),
            reason,
            resolved: None,
        });
    }

    /// How a tunnel to `host` is handled: passthrough hosts and runs without a CA are opaque
    /// to the proxy; every other tunnel is intercepted.
    pub fn tunnel_handling(&self, host: &Host) -> Handling {
        match &self.intercept {
            None => Handling::Opaque,
            Some(_) if self.config.is_passthrough(host) => Handling::Passthrough,
            Some(_) => Handling::Intercepted,
        }
    }

    /// Emits the event of a request the proxy refused on its own (a protocol violation such as
    /// a Host that names another host, or an upstream that failed verification).
    pub fn refused(&self, req: &NetRequest, rule: &str, reason: &str) {
        self.emit(event_of(req, false, rule, reason, None, None));
    }

    /// Judges a request inside an intercepted tunnel (the host allowlist admitted the tunnel
    /// already) and emits its event. `Err` carries the refusal to answer with.
    pub async fn judge_request(&self, req: &NetRequest, host_rule: &str) -> Result<(), Refused> {
        let j = self.judge.judge(req).await;
        match j {
            Judgement::Proceed { .. } => {
                self.emit(event_of(req, true, host_rule, "", Some(&j), None));
                Ok(())
            }
            Judgement::Refuse {
                ref rule,
                ref reason,
                ..
            } => {
                self.emit(event_of(req, false, rule, reason, Some(&j), None));
                Err(Refused {
                    kind: Refusal::Denied,
                    rule: rule.clone(),
                    reason: reason.clone(),
                })
            }
        }
    }

    /// Decides, resolves, guards and connects. Emits exactly one event. On refusal no upstream
    /// connection has been attempted (for `Denied`/`Unresolvable`).
    ///
    /// A plain request or a tunnel the proxy will not see into is also put to the judge here,
    /// after the host allowlist and before any connection; an intercepted tunnel is not (each
    /// request inside it is, see [`Ctx::judge_request`]).
    pub async fn open(
        &self,
        host: &Host,
        req: &NetRequest,
    ) -> Result<(TcpStream, SocketAddr), Refused> {
        let port = req.port;
        let mut judgement: Option<Judgement> = None;
        let refuse = |kind, rule: &str, reason: String, resolved, j: Option<&Judgement>| {
            self.emit(event_of(req, false, rule, &reason, j, resolved));
            Err(Refused {
                kind,
                rule: rule.to_string(),
                reason,
            })
        };

        let verdict = self.config.decide(host, port, req.method.as_deref());
        if !verdict.allowed {
            return refuse(Refusal::Denied, &verdict.rule, verdict.reason, None, None);
        }
        if req.handling != Handling::Intercepted {
            let j = self.judge.judge(req).await;
            if let Judgement::Refuse { rule, reason, .. } = &j {
                return refuse(Refusal::Denied, rule, reason.clone(), None, Some(&j));
            }
            judgement = Some(j);
        }
        let j = judgement.as_ref();

        let addrs = match self.resolve(host, port).await {
            Ok(a) if !a.is_empty() => a,
            Ok(_) => {
                return refuse(
                    Refusal::Unresolvable,
                    "resolve-failed",
                    format!("{host} has no addresses"),
                    None,
                    j,
                );
            }
            Err(e) => {
                return refuse(
                    Refusal::Unresolvable,
                    "resolve-failed",
                    format!("cannot resolve {host}: {e}"),
                    None,
                    j,
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
                j,
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
                    self.emit(event_of(
                        req,
                        true,
                        &verdict.rule,
                        &verdict.reason,
                        j,
                        Some(ip),
                    ));
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
            j,
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

/// The event of one decision about `req`.
fn event_of(
    req: &NetRequest,
    allowed: bool,
    rule: &str,
    reason: &str,
    judgement: Option<&Judgement>,
    resolved: Option<IpAddr>,
) -> NetworkEvent {
    NetworkEvent {
        protocol: req.protocol,
        host: req.host.clone(),
        port: req.port,
        method: req.method.clone(),
        path: req.path.clone(),
        service: req.service.clone(),
        handling: req.handling,
        tier: judgement.and_then(Judgement::tier),
        judged_by: judgement
            .map(|j| j.rule().to_owned())
            .filter(|r| !r.is_empty()),
        allowed,
        rule: rule.to_string(),
        reason: reason.to_string(),
        resolved,
    }
}
