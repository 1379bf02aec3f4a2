//! A small, strict SOCKS5 server (RFC 1928): no-authentication method only, `CONNECT` only,
//! IPv4 / domain / IPv6 address types. Refusals use reply 0x02 ("connection not allowed by
//! ruleset") and are decided before any upstream connection is attempted.

use crate::client::{ClientStream, Rewind};
use crate::event::Protocol;
use crate::gate::{Ctx, Refusal};
use crate::pattern::Host;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0;
const NO_ACCEPTABLE: u8 = 0xff;
const CMD_CONNECT: u8 = 1;

/// Reply codes.
const OK: u8 = 0x00;
const NOT_ALLOWED: u8 = 0x02;
const HOST_UNREACHABLE: u8 = 0x04;
const CONN_REFUSED: u8 = 0x05;
const CMD_UNSUPPORTED: u8 = 0x07;
const ATYP_UNSUPPORTED: u8 = 0x08;

enum Request {
    Connect(Host, u16),
    /// A parsed request we refuse (unsupported command, unparsable name) with this reply code.
    Refuse(u8, String, u16, String),
}

/// Serves one SOCKS5 client (the version byte is still in `io`).
pub(crate) async fn serve<S: ClientStream>(mut io: Rewind<S>, ctx: Arc<Ctx>) {
    let req = match timeout(ctx.config.limits.handshake_timeout, negotiate(&mut io)).await {
        Ok(Ok(Some(r))) => r,
        _ => return,
    };
    let (host, port) = match req {
        Request::Connect(h, p) => (h, p),
        Request::Refuse(code, host, port, reason) => {
            ctx.bad_request(Protocol::Socks5, &host, port, reason);
            let _ = reply(&mut io, code, None).await;
            return;
        }
    };
    let handling = ctx.tunnel_handling(&host);
    let net = crate::judge::NetRequest {
        protocol: Protocol::Socks5,
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
        Err(r) => {
            let code = match r.kind {
                Refusal::Denied => NOT_ALLOWED,
                Refusal::Unresolvable => HOST_UNREACHABLE,
                Refusal::Unreachable => CONN_REFUSED,
            };
            let _ = reply(&mut io, code, None).await;
            let _ = io.shutdown().await;
            return;
        }
    };
    let bound = upstream.local_addr().ok();
    if reply(&mut io, OK, bound).await.is_err() {
        return;
    }
    if handling == crate::event::Handling::Intercepted {
        crate::mitm::serve_tunnel(io, &[], upstream, host, port, ctx).await;
    } else {
        crate::client::tunnel(io, &[], upstream, &ctx).await;
    }
}

async fn negotiate<S>(io: &mut S) -> io::Result<Option<Request>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut head = [0u8; 2];
    io.read_exact(&mut head).await?;
    if head[0] != VERSION || head[1] == 0 {
        return Ok(None);
    }
    let mut methods = vec![0u8; usize::from(head[1])];
    io.read_exact(&mut methods).await?;
    if !methods.contains(&NO_AUTH) {
        io.write_all(&[VERSION, NO_ACCEPTABLE]).await?;
        return Ok(None);
    }
    io.write_all(&[VERSION, NO_AUTH]).await?;

    let mut req = [0u8; 4];
    io.read_exact(&mut req).await?;
    if req[0] != VERSION {
        return Ok(None);
    }
    let host_text: String;
    let host: Result<Host, String> = match req[3] {
        1 => {
            let mut b = [0u8; 4];
            io.read_exact(&mut b).await?;
            let ip = IpAddr::V4(Ipv4Addr::from(b));
            host_text = ip.to_string();
            Ok(Host::Ip(ip))
        }
        4 => {
            let mut b = [0u8; 16];
            io.read_exact(&mut b).await?;
            let ip = IpAddr::V6(Ipv6Addr::from(b)).to_canonical();
            host_text = ip.to_string();
            Ok(Host::Ip(ip))
        }
        3 => {
            let mut len = [0u8; 1];
            io.read_exact(&mut len).await?;
            let mut name = vec![0u8; usize::from(len[0])];
            io.read_exact(&mut name).await?;
            host_text = String::from_utf8_lossy(&name).into_owned();
            std::str::from_utf8(&name)
                .map_err(|_| "host name is not UTF-8".to_string())
                .and_then(Host::parse)
        }
        _ => {
            reply(io, ATYP_UNSUPPORTED, None).await?;
            return Ok(None);
        }
    };
    let mut port = [0u8; 2];
    io.read_exact(&mut port).await?;
    let port = u16::from_be_bytes(port);
    if req[1] != CMD_CONNECT {
        return Ok(Some(Request::Refuse(
            CMD_UNSUPPORTED,
            host_text,
            port,
            format!("SOCKS5 command {} is not supported (CONNECT only)", req[1]),
        )));
    }
    match host {
        Ok(h) if port != 0 => Ok(Some(Request::Connect(h, port))),
        Ok(_) => Ok(Some(Request::Refuse(
            NOT_ALLOWED,
            host_text,
            port,
            "port 0".into(),
        ))),
        Err(e) => Ok(Some(Request::Refuse(NOT_ALLOWED, host_text, port, e))),
    }
}

async fn reply<S>(io: &mut S, code: u8, bound: Option<SocketAddr>) -> io::Result<()>
where
    S: AsyncWrite + Unpin,
{
    let mut msg = vec![VERSION, code, 0];
    match bound {
        Some(SocketAddr::V6(a)) => {
            msg.push(4);
            msg.extend_from_slice(&a.ip().octets());
            msg.extend_from_slice(&a.port().to_be_bytes());
        }
        Some(SocketAddr::V4(a)) => {
            msg.push(1);
            msg.extend_from_slice(&a.ip().octets());
            msg.extend_from_slice(&a.port().to_be_bytes());
        }
        None => msg.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0]),
    }
    io.write_all(&msg).await?;
    io.flush().await
}
