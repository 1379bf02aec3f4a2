//! Client connections once accepted: the stream type every protocol handler takes, the replay
//! of sniffed bytes, and the tunnel relay that HTTP CONNECT, SOCKS5 and interception all end in.
//! Its own module so that the handlers and the listener depend on it, not on each other.

use crate::gate::Ctx;
use crate::splice::{self, TunnelSocket};
use bytes::{Buf, Bytes};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// What a client connection must be: an async stream a tunnel can take over.
pub(crate) trait ClientStream:
    AsyncRead + AsyncWrite + TunnelSocket + Unpin + Send + Sync + 'static
{
}
impl<T: AsyncRead + AsyncWrite + TunnelSocket + Unpin + Send + Sync + 'static> ClientStream for T {}

/// Relays an open tunnel: first `extra` (bytes the HTTP parser read past the CONNECT request)
/// and anything still buffered in `client`, then both directions until done, on blocking
/// threads — zero-copy with splice(2) where the kernel supports it (see [`splice`]).
pub(crate) async fn tunnel<S: ClientStream>(
    client: Rewind<S>,
    extra: &[u8],
    mut upstream: TcpStream,
    ctx: &Ctx,
) {
    let (pre, client) = client.into_parts();
    for chunk in [extra, &pre[..]] {
        if !chunk.is_empty() && upstream.write_all(chunk).await.is_err() {
            return;
        }
    }
    // The proxy forwards each read as soon as it has it, so Nagle's delay would only add a
    // round trip to small writes (TLS handshakes, SSH keystrokes); bulk data is unaffected.
    let _ = upstream.set_nodelay(true);
    let _ = splice::relay(client, upstream, &ctx.tunnels).await;
}

/// Size of each direction's copy buffer on the (never expected) path where hyper hands back a
/// connection that is not our own stream type.
pub(crate) const TUNNEL_BUF: usize = splice::COPY_BUF;

/// A stream that first replays bytes already read from it (the sniffed protocol byte).
pub(crate) struct Rewind<S> {
    pre: Bytes,
    inner: S,
}

impl<S> Rewind<S> {
    pub(crate) fn new(pre: Bytes, inner: S) -> Self {
        Rewind { pre, inner }
    }

    /// The bytes not yet replayed, and the stream.
    pub(crate) fn into_parts(self) -> (Bytes, S) {
        (self.pre, self.inner)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.pre.is_empty() {
            let n = self.pre.len().min(buf.remaining());
            buf.put_slice(&self.pre[..n]);
            self.pre.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewind<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
