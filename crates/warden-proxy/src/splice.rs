//! Zero-copy tunnel relaying with `splice(2)`: once a CONNECT or SOCKS5 tunnel is open, bytes
//! move socket → pipe → socket inside the kernel instead of being copied through user space,
//! which is what keeps tunnel throughput close to a direct connection. Falls back to an
//! ordinary buffered copy where the kernel does not support splicing these sockets.

use rustix::pipe::{PipeFlags, SpliceFlags, fcntl_setpipe_size, pipe_with, splice};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::OnceLock;
use tokio::io::Interest;
use tokio::net::{TcpStream, UnixStream};

/// Bytes moved per splice call (and the pipe size asked for).
const CHUNK: usize = 1 << 20;

/// A socket the relay can splice: readiness from tokio, the raw descriptor for the kernel.
pub(crate) trait Spliceable: AsFd + Send + Sync {
    /// Waits for the interest to be ready.
    fn ready_for(&self, interest: Interest) -> impl Future<Output = io::Result<()>> + Send;
    /// Runs a non-blocking operation, clearing readiness when it would block.
    fn try_op<R>(&self, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R>;
}

macro_rules! spliceable {
    ($t:ty) => {
        impl Spliceable for $t {
            async fn ready_for(&self, interest: Interest) -> io::Result<()> {
                self.ready(interest).await.map(|_| ())
            }
            fn try_op<R>(
                &self,
                interest: Interest,
                f: impl FnOnce() -> io::Result<R>,
            ) -> io::Result<R> {
                self.try_io(interest, f)
            }
        }
    };
}
spliceable!(TcpStream);
spliceable!(UnixStream);

/// Whether this kernel splices socket data into pipes (checked once, on a socket pair).
pub(crate) fn supported() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        let probe = || -> io::Result<bool> {
            use std::io::Write;
            let (mut a, b) = std::os::unix::net::UnixStream::pair()?;
            let (_r, w) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
            a.write_all(b"x")?;
            let n = splice(&b, None, &w, None, 1, SpliceFlags::NONBLOCK)?;
            Ok(n == 1)
        };
        probe().unwrap_or(false)
    })
}

/// Relays both directions until each side has finished sending (half-closes are propagated);
/// the first error ends the whole tunnel.
pub(crate) async fn relay<A: Spliceable, B: Spliceable>(a: &A, b: &B) -> io::Result<()> {
    tokio::try_join!(one_way(a, b), one_way(b, a)).map(|_| ())
}

async fn one_way<A: Spliceable, B: Spliceable>(from: &A, to: &B) -> io::Result<u64> {
    let (pipe_r, pipe_w): (OwnedFd, OwnedFd) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
    // A larger pipe means fewer round trips; the default size is used if this is refused.
    let _ = fcntl_setpipe_size(&pipe_w, CHUNK);
    let flags = SpliceFlags::MOVE | SpliceFlags::NONBLOCK;
    let mut total = 0u64;
    loop {
        // The pipe is empty here, so "would block" can only mean the source has no data yet.
        let n = loop {
            from.ready_for(Interest::READABLE).await?;
            match from.try_op(Interest::READABLE, || {
                splice(from.as_fd(), None, &pipe_w, None, CHUNK, flags).map_err(io::Error::from)
            }) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            // The source finished sending: pass the half-close on.
            let _ = rustix::net::shutdown(to.as_fd(), rustix::net::Shutdown::Write);
            return Ok(total);
        }
        let mut left = n;
        while left > 0 {
            to.ready_for(Interest::WRITABLE).await?;
            match to.try_op(Interest::WRITABLE, || {
                splice(&pipe_r, None, to.as_fd(), None, left, flags).map_err(io::Error::from)
            }) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(m) => left -= m,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn linux_splices_sockets() {
        assert!(
            supported(),
            "splice(2) from a socket into a pipe must work on Linux"
        );
    }

    #[tokio::test]
    async fn relay_moves_bytes_and_half_closes_between_unix_and_tcp() {
        let (mut client, client_peer) = UnixStream::pair().unwrap();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let up_peer = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (mut upstream, _) = l.accept().await.unwrap();
        let relay_task = tokio::spawn(async move { relay(&client_peer, &up_peer).await });
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let d2 = data.clone();
        let writer = tokio::spawn(async move {
            client.write_all(&d2).await.unwrap();
            client.shutdown().await.unwrap();
            let mut back = Vec::new();
            client.read_to_end(&mut back).await.unwrap();
            back
        });
        let mut got = Vec::new();
        upstream.read_to_end(&mut got).await.unwrap();
        assert!(got == data, "client → upstream bytes differ");
        upstream.write_all(b"reply after half-close").await.unwrap();
        upstream.shutdown().await.unwrap();
        assert_eq!(writer.await.unwrap(), b"reply after half-close");
        relay_task.await.unwrap().unwrap();
    }
}
