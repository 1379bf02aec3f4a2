//! Congestion control for the proxy's TCP connections whose both ends are on this host: the
//! client side always is (the proxy listens on loopback, or on a Unix socket, which has no
//! congestion control), the upstream side when it is a local service. Set when the socket is
//! made — on the listener, whose connections inherit it, and before an upstream connect —
//! because a socket that once ran a pacing algorithm keeps pacing after switching away
//! (Linux leaves its pacing status set).
//!
//! Connections that leave the host keep the system's choice, which a real network path
//! needs.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use tokio::net::{TcpSocket, TcpStream};

/// Congestion control for host-local connections. A loopback path has no bottleneck link
/// to model, and a pacing algorithm (BBR, a common system default) then only costs timers
/// and deferred sends: with BBR on both of its legs a tunnel moved about half of what a direct
/// connection moves in bench/proxy.sh, and spent twice the CPU per byte. Reno is built into
/// every kernel and always permitted to unprivileged processes; without losses (loopback has
/// none) it just keeps the window open.
pub(crate) const CONGESTION_CONTROL: &str = "reno";

/// Whether a peer at `ip` is on this host by construction: a loopback address, also written
/// as an IPv4-mapped IPv6 address.
pub(crate) fn is_host_local(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Gives a TCP socket the host-local congestion control (best effort: a connection works
/// either way, only more slowly).
pub(crate) fn tune(socket: impl AsFd) {
    let _ = rustix::net::sockopt::set_tcp_congestion(socket.as_fd(), CONGESTION_CONTROL);
}

/// Connects to `addr`, tuned before the handshake when `addr` is on this host.
pub(crate) async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    if !is_host_local(addr.ip()) {
        return TcpStream::connect(addr).await;
    }
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    tune(&socket);
    socket.connect(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::net::sockopt;

    #[test]
    fn only_loopback_peers_count_as_host_local() {
        for local in ["127.0.0.1", "127.3.4.5", "::1", "::ffff:127.0.0.1"] {
            assert!(is_host_local(local.parse().unwrap()), "{local}");
        }
        for remote in [
            "10.0.0.1",
            "192.0.2.7",
            "2001:db8::1",
            "::ffff:192.0.2.7",
            "0.0.0.0",
        ] {
            assert!(!is_host_local(remote.parse().unwrap()), "{remote}");
        }
    }

    /// Both sockets the proxy holds of a loopback connection carry it: the upstream socket
    /// from `connect`, and a client's socket accepted from a tuned listener. (Where the system
    /// default is reno already this cannot fail; the machines here default to BBR.)
    #[tokio::test]
    async fn loopback_connections_use_the_host_local_congestion_control() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        tune(&listener);
        let upstream = connect(listener.local_addr().unwrap()).await.unwrap();
        let (accepted, _) = listener.accept().unwrap();
        for (socket, what) in [
            (upstream.as_fd(), "upstream"),
            (accepted.as_fd(), "accepted"),
        ] {
            assert_eq!(
                sockopt::tcp_congestion(socket).unwrap(),
                CONGESTION_CONTROL,
                "{what} socket"
            );
        }
    }
}
