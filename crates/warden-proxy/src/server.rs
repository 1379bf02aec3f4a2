//! Listeners and lifecycle: one listener (Unix socket or TCP) per proxy, protocol sniffing on
//! the first byte (0x05 → SOCKS5, anything else → HTTP), and the synchronous handle that owns
//! the proxy's tokio runtime thread so the `warden` binary need not know tokio.

use crate::client::{ClientStream, Rewind};
use crate::config::ProxyConfig;
use crate::error::ProxyError;
use crate::gate::{Ctx, EventSink};
use crate::splice::Tunnels;
use crate::{http, socks};
use bytes::Bytes;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{Semaphore, oneshot};

/// Where the proxy listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// A Unix stream socket at this path (a stale socket file there is replaced; any other
    /// existing file is an error). The file is removed on shutdown.
    Unix(PathBuf),
    /// A TCP address; port 0 picks a free port (see [`ProxyHandle::local_addr`]).
    Tcp(SocketAddr),
}

/// A running proxy. Dropping it (or calling [`ProxyHandle::shutdown`]) stops accepting, aborts
/// open connections and joins the runtime thread.
#[derive(Debug)]
pub struct ProxyHandle {
    local: Listen,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ProxyHandle {
    /// The address actually listened on (the real port when `Listen::Tcp` asked for port 0).
    pub fn local_addr(&self) -> &Listen {
        &self.local
    }

    /// The TCP address, when listening on TCP.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        match &self.local {
            Listen::Tcp(a) => Some(*a),
            Listen::Unix(_) => None,
        }
    }

    /// Stops the proxy and waits for its thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Listen::Unix(p) = &self.local {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// Starts the proxy on its own thread and returns once it is listening.
///
/// `on_event` is called once per decision, from the proxy's worker threads; it should return
/// quickly (hand the event to a channel if it writes to disk).
pub fn spawn(
    listen: Listen,
    config: ProxyConfig,
    on_event: EventSink,
) -> Result<ProxyHandle, ProxyError> {
    spawn_judged(listen, config, on_event, Arc::new(crate::judge::ProceedAll))
}

/// [`spawn`] with a judge asked about every request the host allowlist admits (see
/// [`crate::Judge`]); with [`ProxyConfig::ca`] set, HTTPS tunnels are intercepted so that the
/// requests inside are judged too.
pub fn spawn_judged(
    listen: Listen,
    config: ProxyConfig,
    on_event: EventSink,
    judge: Arc<dyn crate::judge::Judge>,
) -> Result<ProxyHandle, ProxyError> {
    let intercept = match &config.ca {
        Some(ca) => Some(Arc::new(
            crate::mitm::Interceptor::new(ca.clone(), &config.upstream_ca)
                .map_err(ProxyError::Intercept)?,
        )),
        None => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.limits.worker_threads.max(1))
        // Each open tunnel holds two blocking threads (one per direction); name resolution
        // borrows a few more.
        .max_blocking_threads(config.limits.max_connections.max(1).saturating_mul(2) + 64)
        .thread_name("warden-proxy")
        .enable_all()
        .build()
        .map_err(ProxyError::Runtime)?;
    let (listener, local) = {
        let _guard = rt.enter();
        bind(&listen)?
    };
    let ctx = Arc::new(Ctx {
        config,
        on_event,
        tunnels: Arc::new(Tunnels::default()),
        judge,
        intercept,
    });
    let (tx, rx) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("warden-proxy".into())
        .spawn(move || {
            rt.block_on(accept_loop(listener, ctx.clone(), rx));
            // Tunnel threads block in the kernel and would outlive the runtime: end them first.
            ctx.tunnels.close_all();
            rt.shutdown_timeout(Duration::from_millis(200));
        })
        .map_err(ProxyError::Runtime)?;
    Ok(ProxyHandle {
        local,
        shutdown: Some(tx),
        thread: Some(thread),
    })
}

fn bind(listen: &Listen) -> Result<(Listener, Listen), ProxyError> {
    match listen {
        Listen::Tcp(addr) => {
            let err = |source| ProxyError::Listen {
                what: addr.to_string(),
                source,
            };
            let std_l = std::net::TcpListener::bind(addr).map_err(err)?;
            if crate::host_local::is_host_local(addr.ip()) {
                // Connections accepted from here inherit these settings.
                crate::host_local::tune(&std_l);
            }
            std_l.set_nonblocking(true).map_err(err)?;
            let local = std_l.local_addr().map_err(err)?;
            let l = TcpListener::from_std(std_l).map_err(err)?;
            Ok((Listener::Tcp(l), Listen::Tcp(local)))
        }
        Listen::Unix(path) => {
            let err = |source| ProxyError::Listen {
                what: path.display().to_string(),
                source,
            };
            if let Ok(meta) = std::fs::symlink_metadata(path) {
                if meta.file_type().is_socket() {
                    std::fs::remove_file(path).map_err(err)?;
                } else {
                    return Err(err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        "a file that is not a socket exists there",
                    )));
                }
            }
            let std_l = std::os::unix::net::UnixListener::bind(path).map_err(err)?;
            std_l.set_nonblocking(true).map_err(err)?;
            let l = UnixListener::from_std(std_l).map_err(err)?;
            Ok((Listener::Unix(l), Listen::Unix(path.clone())))
        }
    }
}

async fn accept_loop(listener: Listener, ctx: Arc<Ctx>, mut stop: oneshot::Receiver<()>) {
    let slots = Arc::new(Semaphore::new(ctx.config.limits.max_connections.max(1)));
    loop {
        let permit = tokio::select! {
            _ = &mut stop => return,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            _ = &mut stop => return,
            r = accept(&listener) => r,
        };
        match accepted {
            Ok(Conn::Tcp(s)) => {
                let _ = s.set_nodelay(true);
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    handle_client(s, ctx).await;
                    drop(permit);
                });
            }
            Ok(Conn::Unix(s)) => {
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    handle_client(s, ctx).await;
                    drop(permit);
                });
            }
            // Out of file descriptors or a similar transient error: back off briefly.
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

enum Conn {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

async fn accept(l: &Listener) -> io::Result<Conn> {
    match l {
        Listener::Tcp(l) => l.accept().await.map(|(s, _)| Conn::Tcp(s)),
        Listener::Unix(l) => l.accept().await.map(|(s, _)| Conn::Unix(s)),
    }
}

async fn handle_client<S: ClientStream>(mut stream: S, ctx: Arc<Ctx>) {
    let mut first = [0u8; 1];
    let read =
        tokio::time::timeout(ctx.config.limits.handshake_timeout, stream.read(&mut first)).await;
    if !matches!(read, Ok(Ok(1))) {
        return;
    }
    let io = Rewind::new(Bytes::copy_from_slice(&first), stream);
    if first[0] == 0x05 {
        socks::serve(io, ctx).await;
    } else {
        http::serve(io, ctx).await;
    }
}
