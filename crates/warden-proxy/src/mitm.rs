//! HTTPS interception: a tunnel the proxy may see into is answered with a leaf certificate of
//! the run's CA for the tunnel's host, the upstream is reached over TLS verified against the
//! system's trust store (plus `[network] upstream_ca`), and each request inside — HTTP/1.1 or
//! HTTP/2, whichever ALPN the client and the upstream agree on — is judged like a plain one.
//! Every request is bound to the host actually contacted: a TLS server name, `Host`,
//! absolute URI or `:authority` naming another host is refused, never followed.

use crate::ca::CertificateAuthority;
use crate::client::{ClientStream, Rewind};
use crate::event::{Handling, Protocol};
use crate::gate::Ctx;
use crate::http::{plain, strip_hop_by_hop};
use crate::judge::{NetRequest, request_facts};
use crate::pattern::Host;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::{LazyConfigAcceptor, TlsConnector};

type Body = http_body_util::combinators::BoxBody<Bytes, hyper::Error>;

/// Largest request head (HTTP/1.1 buffer, HTTP/2 header list) an intercepted client may send;
/// larger ones are refused (431) rather than forwarded.
pub const MAX_REQUEST_HEAD: usize = 64 * 1024;

/// A host and the ALPN protocol negotiated with its upstream (empty: none).
type ServerKey = (String, Vec<u8>);

/// The TLS side of interception for one proxy run.
pub(crate) struct Interceptor {
    ca: Arc<CertificateAuthority>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    upstream: Arc<ClientConfig>,
    /// Server configurations per (host, negotiated ALPN), so a second connection to a host
    /// costs no certificate work.
    servers: Mutex<HashMap<ServerKey, Arc<ServerConfig>>>,
}

impl Interceptor {
    /// Upstream trust: the system's store (`SSL_CERT_FILE`/`SSL_CERT_DIR` honoured) plus
    /// `extra` (`[network] upstream_ca`).
    pub(crate) fn new(
        ca: Arc<CertificateAuthority>,
        extra: &[CertificateDer<'static>],
    ) -> Result<Interceptor, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for c in rustls_native_certs::load_native_certs().certs {
            // A malformed system certificate is skipped, as every TLS client does.
            let _ = roots.add(c);
        }
        for c in extra {
            roots
                .add(c.clone())
                .map_err(|e| format!("upstream_ca certificate rejected: {e}"))?;
        }
        let upstream = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Interceptor {
            ca,
            provider,
            upstream: Arc::new(upstream),
            servers: Mutex::new(HashMap::new()),
        })
    }

    fn server_config(&self, host: &str, alpn: Option<&[u8]>) -> Result<Arc<ServerConfig>, String> {
        let key = (host.to_owned(), alpn.unwrap_or_default().to_vec());
        if let Ok(m) = self.servers.lock()
            && let Some(c) = m.get(&key)
        {
            return Ok(c.clone());
        }
        let leaf = self.ca.leaf(host).map_err(|e| e.to_string())?;
        let mut cfg = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(leaf.chain, leaf.key.clone_key())
            .map_err(|e| e.to_string())?;
        cfg.alpn_protocols = alpn.map(|a| vec![a.to_vec()]).unwrap_or_default();
        let cfg = Arc::new(cfg);
        if let Ok(mut m) = self.servers.lock() {
            m.insert(key, cfg.clone());
        }
        Ok(cfg)
    }
}

/// Reads and drops a refused request's body (bounded in size and time).
async fn drain(mut body: Incoming) {
    let mut left: usize = 8 << 20;
    let read = async {
        while let Some(Ok(frame)) = body.frame().await {
            let n = frame.data_ref().map_or(0, Bytes::len);
            left = left.saturating_sub(n);
            if left == 0 {
                break;
            }
        }
    };
    let _ = timeout(std::time::Duration::from_secs(5), read).await;
}

/// The request description every event of this tunnel starts from.
fn base_request(protocol: Protocol, host: &Host, port: u16) -> NetRequest {
    NetRequest {
        protocol,
        handling: Handling::Intercepted,
        host: host.as_text(),
        port,
        method: None,
        path: None,
        service: None,
        credentials: Vec::new(),
        credential_tier: None,
    }
}

/// Takes over a tunnel the proxy intercepts (CONNECT or SOCKS5, already admitted by the host
/// allowlist and connected to `upstream`). TLS is intercepted; other bytes are refused on
/// port 443 and otherwise tunnelled, judged by host alone.
pub(crate) async fn serve_tunnel<S: ClientStream>(
    client: Rewind<S>,
    extra: &[u8],
    upstream: TcpStream,
    host: Host,
    port: u16,
    ctx: Arc<Ctx>,
) {
    let (pre, mut raw) = client.into_parts();
    let mut first = BytesMut::new();
    first.extend_from_slice(extra);
    first.extend_from_slice(&pre);
    if first.is_empty() {
        let mut buf = vec![0u8; 4096];
        match timeout(ctx.config.limits.handshake_timeout, raw.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => first.extend_from_slice(&buf[..n]),
            _ => return,
        }
    }
    let is_tls = first.first() == Some(&0x16);
    let client = Rewind::new(first.freeze(), raw);
    if is_tls {
        intercept(client, upstream, host, port, ctx).await;
        return;
    }
    let mut req = base_request(Protocol::Connect, &host, port);
    req.handling = Handling::Opaque;
    if port == 443 {
        ctx.refused(
            &req,
            "not-tls",
            &format!("the tunnel to {host}:443 carries bytes that are not TLS; refused"),
        );
        return;
    }
    let host_rule = ctx.config.decide(&host, port, None).rule;
    if ctx.judge_request(&req, &host_rule).await.is_ok() {
        crate::client::tunnel(client, &[], upstream, &ctx).await;
    }
}

/// Whether `name` (a TLS server name or an authority's host) is the tunnel's host.
fn same_host(name: &str, host: &Host) -> bool {
    Host::parse(name).is_ok_and(|h| &h == host)
}

async fn intercept<S: ClientStream>(
    client: Rewind<S>,
    upstream: TcpStream,
    host: Host,
    port: u16,
    ctx: Arc<Ctx>,
) {
    let Some(icpt) = ctx.intercept.clone() else {
        return;
    };
    let hs = ctx.config.limits.handshake_timeout;
    let base = base_request(Protocol::Https, &host, port);
    let acceptor = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), client);
    let Ok(Ok(start)) = timeout(hs, acceptor).await else {
        return;
    };
    let hello = start.client_hello();
    if let Some(sni) = hello.server_name()
        && !same_host(sni, &host)
    {
        let reason = format!(
            "the TLS server name `{}` is not the tunnel's host {host}; refused",
            crate::pattern::sanitize(sni)
        );
        ctx.refused(&base, "sni-mismatch", &reason);
        return;
    }
    let offered: Vec<Vec<u8>> = hello
        .alpn()
        .map(|it| {
            it.filter(|p| *p == b"h2" || *p == b"http/1.1")
                .map(<[u8]>::to_vec)
                .collect()
        })
        .unwrap_or_default();

    let server_name = match &host {
        Host::Name(n) => ServerName::try_from(n.clone()).map_err(|e| e.to_string()),
        Host::Ip(ip) => Ok(ServerName::IpAddress((*ip).into())),
    };
    let connected = match server_name {
        Ok(name) => {
            let connector = TlsConnector::from(icpt.upstream.clone());
            match timeout(hs, connector.with_alpn(offered).connect(name, upstream)).await {
                Ok(Ok(s)) => Ok(s),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("the TLS handshake timed out".to_string()),
            }
        }
        Err(e) => Err(e),
    };
    let up = match connected {
        Ok(s) => s,
        Err(e) => {
            // Never downgraded: the client gets a TLS session with the proxy only to be told,
            // on every request, why its upstream was refused.
            let reason = format!("the upstream {host}:{port} failed TLS verification: {e}");
            ctx.refused(&base, "upstream-tls", &reason);
            let Ok(cfg) = icpt.server_config(&base.host, Some(b"http/1.1")) else {
                return;
            };
            if let Ok(Ok(tls)) = timeout(hs, start.into_stream(cfg)).await {
                let svc = service_fn(move |_req: Request<Incoming>| {
                    let r = plain(StatusCode::BAD_GATEWAY, "upstream-tls", &reason);
                    async move { Ok::<_, Infallible>(r) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            }
            return;
        }
    };
    let negotiated = up.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    let Ok(cfg) = icpt.server_config(&base.host, negotiated.as_deref()) else {
        return;
    };
    let Ok(Ok(tls)) = timeout(hs, start.into_stream(cfg)).await else {
        return;
    };
    let h2 = negotiated.as_deref() == Some(b"h2");
    let sender = if h2 {
        match hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .handshake::<_, Incoming>(TokioIo::new(up))
            .await
        {
            Ok((s, conn)) => {
                tokio::spawn(conn);
                Upstream::H2(s)
            }
            Err(_) => return,
        }
    } else {
        match hyper::client::conn::http1::Builder::new()
            .handshake::<_, Incoming>(TokioIo::new(up))
            .await
        {
            Ok((s, conn)) => {
                tokio::spawn(conn);
                Upstream::H1(tokio::sync::Mutex::new(s))
            }
            Err(_) => return,
        }
    };
    let session = Arc::new(Session {
        host_rule: ctx.config.decide(&host, port, None).rule,
        ctx,
        host,
        port,
        base,
        upstream: sender,
    });
    let svc = service_fn(move |req| {
        let s = session.clone();
        async move { Ok::<_, Infallible>(s.handle(req).await) }
    });
    let io = TokioIo::new(tls);
    if h2 {
        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .max_header_list_size(MAX_REQUEST_HEAD as u32)
            .serve_connection(io, svc)
            .await;
    } else {
        let _ = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .max_buf_size(MAX_REQUEST_HEAD)
            .serve_connection(io, svc)
            .await;
    }
}

enum Upstream {
    H1(tokio::sync::Mutex<hyper::client::conn::http1::SendRequest<Incoming>>),
    H2(hyper::client::conn::http2::SendRequest<Incoming>),
}

/// One intercepted tunnel: its host, the upstream connection and the context to judge in.
struct Session {
    ctx: Arc<Ctx>,
    host: Host,
    port: u16,
    host_rule: String,
    base: NetRequest,
    upstream: Upstream,
}

impl Session {
    /// Whether an authority (`host[:port]`) names this tunnel's host and port.
    fn authority_matches(&self, authority: &str) -> bool {
        let Ok(a) = authority.parse::<hyper::http::uri::Authority>() else {
            return false;
        };
        same_host(a.host(), &self.host) && a.port_u16().unwrap_or(443) == self.port
    }

    fn refuse(
        &self,
        req: &NetRequest,
        status: StatusCode,
        rule: &str,
        reason: &str,
    ) -> Response<Body> {
        self.ctx.refused(req, rule, reason);
        plain(status, rule, reason)
    }

    /// Answers one request: refused (its body read and dropped first, so the client, still
    /// sending, reads the answer instead of a reset) or forwarded.
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let (mut parts, body) = req.into_parts();
        match self.check(&mut parts).await {
            Ok((authority, pq)) => self.forward(parts, body, &authority, &pq).await,
            Err(refusal) => {
                drain(body).await;
                refusal
            }
        }
    }

    /// Everything decided before forwarding: the request's host, size and judgement. Returns
    /// the authority to forward with and the path and query.
    async fn check(
        &self,
        req: &mut hyper::http::request::Parts,
    ) -> Result<(String, String), Response<Body>> {
        let method = req.method.as_str().to_owned();
        let pq = req
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let content_type = req
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let (path, service) = request_facts(&method, &pq, content_type);
        let mut net = NetRequest {
            method: Some(method),
            path: Some(path),
            service,
            ..self.base.clone()
        };

        let head: usize = req
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum();
        if head > MAX_REQUEST_HEAD {
            let reason = format!("request headers of {head} bytes exceed {MAX_REQUEST_HEAD}");
            return Err(self.refuse(
                &net,
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "oversized-headers",
                &reason,
            ));
        }

        // The host actually contacted is the tunnel's: every name the request gives must be it.
        let host_header = req.headers.get(header::HOST).map(|v| v.to_str().ok());
        let uri_authority = req.uri.authority().map(|a| a.as_str().to_owned());
        let named: Vec<String> = match (&host_header, &uri_authority) {
            (Some(None), _) => {
                return Err(self.refuse(
                    &net,
                    StatusCode::BAD_REQUEST,
                    "bad-host",
                    "unreadable Host header",
                ));
            }
            _ => host_header
                .flatten()
                .map(str::to_owned)
                .into_iter()
                .chain(uri_authority.clone())
                .collect(),
        };
        if named.is_empty() {
            return Err(self.refuse(
                &net,
                StatusCode::BAD_REQUEST,
                "bad-host",
                "the request names no host",
            ));
        }
        if let Some(other) = named.iter().find(|n| !self.authority_matches(n)) {
            let reason = format!(
                "the request names `{}`, but this connection goes to {}:{}; open a connection to that host instead",
                crate::pattern::sanitize(other),
                self.host,
                self.port
            );
            return Err(self.refuse(
                &net,
                StatusCode::MISDIRECTED_REQUEST,
                "host-mismatch",
                &reason,
            ));
        }
        // Framing (Content-Length against Transfer-Encoding) is hyper's: it frames by
        // Transfer-Encoding, closes the connection after such a request and re-frames what is
        // forwarded, so the upstream reads exactly the requests judged here (see the smuggling
        // case in tests/intercept.rs).
        match crate::credentials::swap(
            &self.ctx.config.credentials,
            &self.host,
            &pq,
            &mut req.headers,
        ) {
            Ok(c) => {
                net.credentials = c.swapped;
                net.credential_tier = c.tier;
            }
            Err(x) => {
                let reason = crate::credentials::exfiltration_reason(&x);
                return Err(self.refuse(
                    &net,
                    StatusCode::FORBIDDEN,
                    "credential-exfiltration",
                    &reason,
                ));
            }
        }
        if let Err(r) = self.ctx.judge_request(&net, &self.host_rule).await {
            return Err(plain(StatusCode::FORBIDDEN, &r.rule, &r.reason));
        }

        Ok((named[0].clone(), pq))
    }

    async fn forward(
        &self,
        mut parts: hyper::http::request::Parts,
        body: Incoming,
        authority: &str,
        pq: &str,
    ) -> Response<Body> {
        strip_hop_by_hop(&mut parts.headers);
        let sent = match &self.upstream {
            Upstream::H1(sender) => {
                parts.uri = match pq.parse::<Uri>() {
                    Ok(u) => u,
                    Err(_) => {
                        return plain(StatusCode::BAD_REQUEST, "bad-request", "bad request path");
                    }
                };
                parts.version = hyper::Version::HTTP_11;
                if let Ok(v) = HeaderValue::from_str(authority) {
                    parts.headers.insert(header::HOST, v);
                }
                let mut s = sender.lock().await;
                match s.ready().await {
                    Ok(()) => s.send_request(Request::from_parts(parts, body)).await,
                    Err(e) => Err(e),
                }
            }
            Upstream::H2(sender) => {
                parts.uri = match format!("https://{authority}{pq}").parse::<Uri>() {
                    Ok(u) => u,
                    Err(_) => {
                        return plain(StatusCode::BAD_REQUEST, "bad-request", "bad request path");
                    }
                };
                parts.version = hyper::Version::HTTP_2;
                parts.headers.remove(header::HOST);
                let mut s = sender.clone();
                match s.ready().await {
                    Ok(()) => s.send_request(Request::from_parts(parts, body)).await,
                    Err(e) => Err(e),
                }
            }
        };
        match sent {
            Ok(resp) => {
                let (mut parts, body) = resp.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                Response::from_parts(parts, body.boxed())
            }
            Err(e) => plain(
                StatusCode::BAD_GATEWAY,
                "upstream-error",
                &format!("upstream HTTP error: {e}"),
            ),
        }
    }
}
