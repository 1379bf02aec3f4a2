//! The HTTP side of the listener: plain-HTTP forwarding (absolute-form requests, where the
//! method is visible to policy) and `CONNECT` tunnels, both through the policy gate.

use crate::client::{ClientStream, Rewind, TUNNEL_BUF};
use crate::event::{Handling, Protocol};
use crate::gate::{Ctx, Refusal, Refused};
use crate::judge::{NetRequest, request_facts};
use crate::pattern::{Host, sanitize};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpStream;

type Body = BoxBody<Bytes, hyper::Error>;

/// Serves one client connection speaking HTTP/1.1 to the proxy.
pub(crate) async fn serve<S>(io: Rewind<S>, ctx: Arc<Ctx>)
where
    S: ClientStream,
{
    let timeout = ctx.config.limits.handshake_timeout;
    let svc = service_fn(move |req| {
        let ctx = ctx.clone();
        async move { Ok::<_, Infallible>(handle::<S>(req, ctx).await) }
    });
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeout)
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades()
        .await;
}

async fn handle<S>(req: Request<Incoming>, ctx: Arc<Ctx>) -> Response<Body>
where
    S: ClientStream,
{
    if req.method() == Method::CONNECT {
        connect::<S>(req, ctx).await
    } else {
        forward(req, ctx).await
    }
}

async fn connect<S>(req: Request<Incoming>, ctx: Arc<Ctx>) -> Response<Body>
where
    S: ClientStream,
{
    let Some((host, port)) = authority_of(req.uri(), None) else {
        let raw = req.uri().to_string();
        let reason = format!("CONNECT target `{}` is not host:port", sanitize(&raw));
        ctx.bad_request(Protocol::Connect, &raw, 0, reason.clone());
        return plain(StatusCode::BAD_REQUEST, "bad-request", &reason);
    };
    let handling = ctx.tunnel_handling(&host);
    let net = NetRequest {
        protocol: Protocol::Connect,
        handling,
        host: host.as_text(),
        port,
        method: None,
        path: None,
        service: None,
        credentials: Vec::new(),
        credential_tier: None,
    };
    let upstream = match ctx.open(&host, &net).await {
        Ok((s, _)) => s,
        Err(r) => return refusal(&r),
    };
    tokio::spawn(async move {
        if let Ok(upgraded) = hyper::upgrade::on(req).await {
            if handling == Handling::Intercepted {
                intercepted::<S>(upgraded, upstream, host, port, ctx).await;
            } else {
                tunnel::<S>(upgraded, upstream, &ctx).await;
            }
        }
    });
    Response::new(empty())
}

/// Runs the tunnel. When the upgraded connection is our own stream type (always, in practice),
/// unwrap it so the relay runs on the raw socket without hyper in the path.
async fn tunnel<S>(upgraded: hyper::upgrade::Upgraded, mut upstream: TcpStream, ctx: &Ctx)
where
    S: ClientStream,
{
    match upgraded.downcast::<TokioIo<Rewind<S>>>() {
        Ok(parts) => {
            crate::client::tunnel(parts.io.into_inner(), &parts.read_buf, upstream, ctx).await
        }
        Err(upgraded) => {
            let mut client = TokioIo::new(upgraded);
            let _ = tokio::io::copy_bidirectional_with_sizes(
                &mut client,
                &mut upstream,
                TUNNEL_BUF,
                TUNNEL_BUF,
            )
            .await;
        }
    }
}

/// Hands an intercepted tunnel to [`crate::mitm`] (on our own stream type, always in practice).
async fn intercepted<S>(
    upgraded: hyper::upgrade::Upgraded,
    upstream: TcpStream,
    host: Host,
    port: u16,
    ctx: Arc<Ctx>,
) where
    S: ClientStream,
{
    if let Ok(parts) = upgraded.downcast::<TokioIo<Rewind<S>>>() {
        crate::mitm::serve_tunnel(
            parts.io.into_inner(),
            &parts.read_buf,
            upstream,
            host,
            port,
            ctx,
        )
        .await;
    }
}

async fn forward(mut req: Request<Incoming>, ctx: Arc<Ctx>) -> Response<Body> {
    let uri = req.uri().clone();
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => {
            let reason = format!(
                "only http:// URLs can be forwarded in plain text; use CONNECT for {}",
                sanitize(other)
            );
            ctx.bad_request(Protocol::Http, &uri.to_string(), 0, reason.clone());
            return plain(StatusCode::BAD_REQUEST, "bad-request", &reason);
        }
        None => {
            let reason =
                "this is a proxy: send absolute-form requests (GET http://host/path) or CONNECT"
                    .to_string();
            ctx.bad_request(Protocol::Http, &uri.to_string(), 0, reason.clone());
            return plain(StatusCode::BAD_REQUEST, "bad-request", &reason);
        }
    }
    let Some((host, port)) = authority_of(&uri, Some(80)) else {
        let reason = format!("bad host in `{}`", sanitize(&uri.to_string()));
        ctx.bad_request(Protocol::Http, &uri.to_string(), 0, reason.clone());
        return plain(StatusCode::BAD_REQUEST, "bad-request", &reason);
    };
    // The host contacted (and judged) is the URI's; the Host header is rewritten to it below.
    let method = req.method().as_str().to_string();
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let (path, service) = request_facts(
        &method,
        uri.path_and_query().map_or("/", |p| p.as_str()),
        content_type,
    );
    let mut net = NetRequest {
        protocol: Protocol::Http,
        handling: Handling::Plain,
        host: host.as_text(),
        port,
        method: Some(method),
        path: Some(path),
        service,
        credentials: Vec::new(),
        credential_tier: None,
    };
    let target = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    match crate::credentials::swap(&ctx.config.credentials, &host, &target, req.headers_mut()) {
        Ok(c) => {
            net.credentials = c.swapped;
            net.credential_tier = c.tier;
        }
        Err(x) => {
            let reason = crate::credentials::exfiltration_reason(&x);
            ctx.refused(&net, "credential-exfiltration", &reason);
            return plain(StatusCode::FORBIDDEN, "credential-exfiltration", &reason);
        }
    }
    let upstream = match ctx.open(&host, &net).await {
        Ok((s, _)) => s,
        Err(r) => return refusal(&r),
    };
    let (mut sender, conn) = match hyper::client::conn::http1::Builder::new()
        .handshake::<_, Incoming>(TokioIo::new(upstream))
        .await
    {
        Ok(x) => x,
        Err(e) => return upstream_error(&e),
    };
    tokio::spawn(async move {
        let _ = conn.await;
    });

    let (mut parts, body) = req.into_parts();
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    parts.uri = match path.parse::<Uri>() {
        Ok(u) => u,
        Err(_) => return plain(StatusCode::BAD_REQUEST, "bad-request", "bad request path"),
    };
    strip_hop_by_hop(&mut parts.headers);
    let host_header = match uri.port_u16() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&host_header) {
        parts.headers.insert(header::HOST, v);
    }
    match sender.send_request(Request::from_parts(parts, body)).await {
        Ok(resp) => {
            let (mut parts, body) = resp.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(parts, body.boxed())
        }
        Err(e) => upstream_error(&e),
    }
}

/// Host and port of a request target; `default_port` when the URI names none (`None`: required).
fn authority_of(uri: &Uri, default_port: Option<u16>) -> Option<(Host, u16)> {
    let auth = uri.authority()?;
    let port = auth.port_u16().or(default_port).filter(|p| *p != 0)?;
    let host = Host::parse(auth.host()).ok()?;
    Some((host, port))
}

pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for n in named {
        headers.remove(n);
    }
    for n in [
        "connection",
        "proxy-connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ] {
        headers.remove(n);
    }
}

fn empty() -> Body {
    Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed()
}

pub(crate) fn plain(status: StatusCode, rule: &str, reason: &str) -> Response<Body> {
    let body = format!("warden: {reason} (rule `{rule}`)\n");
    let mut resp = Response::new(Full::new(Bytes::from(body)).map_err(|n| match n {}).boxed());
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    let name = if status == StatusCode::FORBIDDEN {
        "x-warden-deny"
    } else {
        "x-warden-error"
    };
    if let Ok(v) = HeaderValue::from_str(&header_safe(rule)) {
        h.insert(HeaderName::from_static(name), v);
    }
    resp
}

fn header_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

fn refusal(r: &Refused) -> Response<Body> {
    let status = match r.kind {
        Refusal::Denied => StatusCode::FORBIDDEN,
        Refusal::Unresolvable | Refusal::Unreachable => StatusCode::BAD_GATEWAY,
    };
    plain(status, &r.rule, &r.reason)
}

fn upstream_error(e: &hyper::Error) -> Response<Body> {
    plain(
        StatusCode::BAD_GATEWAY,
        "upstream-error",
        &format!("upstream HTTP error: {e}"),
    )
}
