//! Tunnel relaying: once a CONNECT or SOCKS5 tunnel is open the proxy only copies bytes, so
//! each direction becomes a plain blocking loop on its own thread (from the runtime's blocking
//! pool, so threads are reused) that moves bytes socket → pipe → socket with `splice(2)` —
//! inside the kernel, no user-space copy, and the kernel wakes the loop directly instead of
//! going through the reactor and a task hop for every chunk. Where the kernel cannot splice
//! these sockets the loop falls back to read/write through one buffer per direction.
//!
//! Blocking threads do not notice the runtime shutting down, so every open tunnel is
//! registered in [`Tunnels`]; [`Tunnels::close_all`] shuts its sockets down, which wakes and
//! ends the loops.

use rustix::net::Shutdown;
use rustix::pipe::{PipeFlags, SpliceFlags, fcntl_setpipe_size, pipe_with, splice};
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Bytes asked for per splice call, and the pipe size asked for. 256 KiB moved as much per
/// CPU second as 1 MiB in the benchmark while holding fewer pages in flight, and leaves room
/// under the per-user pipe-page limit for many tunnels (the kernel's default size is used if
/// the larger one is refused).
const PIPE_SIZE: usize = 256 * 1024;

/// Size of each direction's buffer when tunnels are not spliced (allocated once per tunnel).
pub(crate) const COPY_BUF: usize = 256 * 1024;

/// A socket a tunnel can take over: its descriptor leaves the reactor and becomes blocking.
pub(crate) trait TunnelSocket: AsFd + Sized + Send + 'static {
    /// Deregisters the socket from the reactor and returns its descriptor.
    fn into_owned_fd(self) -> io::Result<OwnedFd>;
}

impl TunnelSocket for tokio::net::TcpStream {
    fn into_owned_fd(self) -> io::Result<OwnedFd> {
        self.into_std().map(OwnedFd::from)
    }
}

impl TunnelSocket for tokio::net::UnixStream {
    fn into_owned_fd(self) -> io::Result<OwnedFd> {
        self.into_std().map(OwnedFd::from)
    }
}

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

/// The open tunnels of one proxy, so that stopping the proxy can end them.
#[derive(Default)]
pub(crate) struct Tunnels {
    state: Mutex<TunnelsState>,
}

#[derive(Default)]
struct TunnelsState {
    closed: bool,
    next_id: u64,
    open: HashMap<u64, [Arc<OwnedFd>; 2]>,
}

impl Tunnels {
    /// Ends every open tunnel (both sockets shut down in both directions) and refuses new ones.
    pub(crate) fn close_all(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.closed = true;
        for socket in state.open.values().flatten() {
            let _ = rustix::net::shutdown(socket, Shutdown::Both);
        }
    }

    /// Registers a tunnel; `None` once [`Tunnels::close_all`] has run.
    fn register(self: &Arc<Self>, a: &Arc<OwnedFd>, b: &Arc<OwnedFd>) -> Option<Registered> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.closed {
            return None;
        }
        let id = state.next_id;
        state.next_id += 1;
        state.open.insert(id, [a.clone(), b.clone()]);
        Some(Registered {
            tunnels: self.clone(),
            id,
        })
    }

    #[cfg(test)]
    fn open_count(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .open
            .len()
    }
}

/// Removes its tunnel from the registry when dropped.
struct Registered {
    tunnels: Arc<Tunnels>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut state = self
            .tunnels
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.open.remove(&self.id);
    }
}

/// Relays both directions until each side has finished sending (half-closes are passed on);
/// the first error ends the whole tunnel. Returns the bytes moved a → b and b → a.
pub(crate) async fn relay(
    a: impl TunnelSocket,
    b: impl TunnelSocket,
    tunnels: &Arc<Tunnels>,
) -> io::Result<(u64, u64)> {
    let a = Arc::new(into_blocking(a)?);
    let b = Arc::new(into_blocking(b)?);
    let Some(registered) = tunnels.register(&a, &b) else {
        return Err(io::Error::other("the proxy is shutting down"));
    };
    let spliced = supported();
    let (a2, b2) = (a.clone(), b.clone());
    let forward = tokio::task::spawn_blocking(move || one_way(&a2, &b2, spliced));
    let backward = tokio::task::spawn_blocking(move || one_way(&b, &a, spliced));
    let (forward, backward) = tokio::join!(forward, backward);
    drop(registered);
    Ok((
        forward.map_err(io::Error::other)??,
        backward.map_err(io::Error::other)??,
    ))
}

fn into_blocking(s: impl TunnelSocket) -> io::Result<OwnedFd> {
    let fd = s.into_owned_fd()?;
    rustix::io::ioctl_fionbio(&fd, false)?;
    Ok(fd)
}

/// One direction of a tunnel. On error both sockets are shut down so the other direction
/// ends too (it may be blocked waiting for data that will never come).
fn one_way(from: &OwnedFd, to: &OwnedFd, spliced: bool) -> io::Result<u64> {
    let moved = if spliced {
        splice_until_eof(from, to)
    } else {
        copy_until_eof(from, to)
    };
    match moved {
        Ok(n) => {
            // The source finished sending: pass the half-close on.
            let _ = rustix::net::shutdown(to, Shutdown::Write);
            Ok(n)
        }
        Err(e) => {
            let _ = rustix::net::shutdown(from, Shutdown::Both);
            let _ = rustix::net::shutdown(to, Shutdown::Both);
            Err(e)
        }
    }
}

fn splice_until_eof(from: &OwnedFd, to: &OwnedFd) -> io::Result<u64> {
    let (pipe_r, pipe_w) = pipe_with(PipeFlags::CLOEXEC)?;
    // A larger pipe means fewer calls; the default size is used if this is refused.
    let _ = fcntl_setpipe_size(&pipe_w, PIPE_SIZE);
    let mut total = 0u64;
    loop {
        // Blocks until the source has data (or has finished: 0); takes what is there.
        let n = retry_eintr(|| splice(from, None, &pipe_w, None, PIPE_SIZE, SpliceFlags::MOVE))?;
        if n == 0 {
            return Ok(total);
        }
        let mut left = n;
        while left > 0 {
            match retry_eintr(|| splice(&pipe_r, None, to, None, left, SpliceFlags::MOVE))? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                m => left -= m,
            }
        }
        total += n as u64;
    }
}

fn copy_until_eof(from: &OwnedFd, to: &OwnedFd) -> io::Result<u64> {
    let mut buf = vec![0u8; COPY_BUF];
    let mut total = 0u64;
    loop {
        let n = retry_eintr(|| rustix::io::read(from, &mut buf[..]))?;
        if n == 0 {
            return Ok(total);
        }
        let mut sent = 0;
        while sent < n {
            match retry_eintr(|| rustix::io::write(to, &buf[sent..n]))? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                m => sent += m,
            }
        }
        total += n as u64;
    }
}

fn retry_eintr<T>(mut f: impl FnMut() -> rustix::io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(rustix::io::Errno::INTR) => continue,
            r => return r.map_err(io::Error::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::unix::net::UnixStream;

    #[test]
    fn linux_splices_sockets() {
        assert!(
            supported(),
            "splice(2) from a socket into a pipe must work on Linux"
        );
    }

    fn pattern(len: usize, seed: u32) -> Vec<u8> {
        (0..len as u32)
            .map(|i| (i.wrapping_mul(7) ^ seed ^ (i / 251)) as u8)
            .collect()
    }

    /// A Unix pair for the client side and a TCP pair for the upstream side, both relayed by
    /// a tunnel; returns (client end, upstream end, relay task).
    fn tunnel_between(
        rt: &tokio::runtime::Runtime,
        tunnels: &Arc<Tunnels>,
    ) -> (
        UnixStream,
        TcpStream,
        tokio::task::JoinHandle<io::Result<(u64, u64)>>,
    ) {
        let (client, client_peer) = UnixStream::pair().unwrap();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let up_peer = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (upstream, _) = l.accept().unwrap();
        let tunnels = tunnels.clone();
        let task = rt.spawn(async move {
            client_peer.set_nonblocking(true)?;
            up_peer.set_nonblocking(true)?;
            let c = tokio::net::UnixStream::from_std(client_peer)?;
            let u = tokio::net::TcpStream::from_std(up_peer)?;
            relay(c, u, &tunnels).await
        });
        (client, upstream, task)
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn relay_moves_bytes_and_half_closes_between_unix_and_tcp() {
        let rt = runtime();
        let tunnels = Arc::new(Tunnels::default());
        let (mut client, mut upstream, task) = tunnel_between(&rt, &tunnels);
        let data = pattern(3_000_000, 1);
        let d2 = data.clone();
        let writer = std::thread::spawn(move || {
            client.write_all(&d2).unwrap();
            client.shutdown(std::net::Shutdown::Write).unwrap();
            let mut back = Vec::new();
            client.read_to_end(&mut back).unwrap();
            back
        });
        let mut got = Vec::new();
        upstream.read_to_end(&mut got).unwrap();
        assert!(got == data, "client → upstream bytes differ");
        upstream.write_all(b"reply after half-close").unwrap();
        upstream.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(writer.join().unwrap(), b"reply after half-close");
        let (forward, backward) = rt.block_on(task).unwrap().unwrap();
        assert_eq!((forward, backward), (3_000_000, 22));
        assert_eq!(
            tunnels.open_count(),
            0,
            "a finished tunnel leaves the registry"
        );
    }

    #[test]
    fn close_all_ends_idle_tunnels_and_refuses_new_ones() {
        let rt = runtime();
        let tunnels = Arc::new(Tunnels::default());
        let (mut client, mut upstream, task) = tunnel_between(&rt, &tunnels);
        // The tunnel works, then sits idle with both relay threads blocked in splice.
        client.write_all(b"ping").unwrap();
        let mut b = [0u8; 4];
        upstream.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ping");
        while tunnels.open_count() == 0 {
            std::thread::yield_now();
        }
        tunnels.close_all();
        rt.block_on(task).unwrap().unwrap();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).unwrap();
        upstream.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
        assert_eq!(tunnels.open_count(), 0);

        let (_client, _upstream, task) = tunnel_between(&rt, &tunnels);
        let err = rt.block_on(task).unwrap().unwrap_err();
        assert!(err.to_string().contains("shutting down"), "{err}");
    }
}
