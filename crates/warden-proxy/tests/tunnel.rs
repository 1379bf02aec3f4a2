//! End-to-end tests of the tunnel relay (CONNECT and SOCKS5, TCP and Unix listeners) against
//! real loopback upstreams: large independent streams in both directions at once arrive
//! byte-exact (length + hash), half-closes in either order are passed on while the other
//! direction keeps flowing, a finished tunnel frees its connection slot, and stopping the
//! proxy ends tunnels that are still open.

mod common;

use common::*;
use std::hash::Hasher;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};
use warden_proxy::{Listen, ProxyConfig, spawn};

/// Bytes per direction in the large-transfer tests: large enough to cycle every buffer on the
/// path (socket buffers, pipes) many times, odd so no chunk boundary lines up.
const BIG: u64 = 32 * 1024 * 1024 + 12_345;

fn config_for(name: &str) -> ProxyConfig {
    let mut c = ProxyConfig::new();
    c.resolve_override(name, vec![Ipv4Addr::LOCALHOST.into()])
        .unwrap();
    c.allow(&format!("{name}:*")).unwrap();
    c.allow_private(name).unwrap();
    c
}

/// Length and SipHash of a byte stream, fed in whatever pieces it arrives in.
#[derive(Default)]
struct Digest {
    len: u64,
    hash: std::collections::hash_map::DefaultHasher,
}

impl Digest {
    fn update(&mut self, bytes: &[u8]) {
        self.len += bytes.len() as u64;
        self.hash.write(bytes);
    }

    fn finish(&self) -> (u64, u64) {
        (self.len, self.hash.finish())
    }
}

/// Deterministic stream `seed` of `len` bytes, produced chunk by chunk (never held whole).
fn for_each_chunk(len: u64, seed: u64, mut f: impl FnMut(&[u8])) {
    let mut left = len;
    let mut i = 0u64;
    while left > 0 {
        // Chunk sizes vary so writes do not line up with any buffer size on the path.
        let n = left.min(100_000 + (i % 7) * 13_001);
        f(&random_bytes(n as usize, seed.wrapping_add(i)));
        left -= n;
        i += 1;
    }
}

fn expected(len: u64, seed: u64) -> (u64, u64) {
    let mut d = Digest::default();
    for_each_chunk(len, seed, |c| d.update(c));
    d.finish()
}

fn send_stream(w: &mut impl Write, len: u64, seed: u64) {
    for_each_chunk(len, seed, |c| w.write_all(c).expect("send stream"));
}

fn digest_to_eof(r: &mut impl Read) -> (u64, u64) {
    let mut d = Digest::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut buf).expect("read stream") {
            0 => return d.finish(),
            n => d.update(&buf[..n]),
        }
    }
}

/// An upstream that, per connection, sends `down` bytes of stream `down_seed` and half-closes
/// while it reads (and digests) whatever the client sends until EOF; the digest of what it
/// received is sent on the returned channel.
fn streaming_upstream(down: u64, down_seed: u64) -> (SocketAddr, mpsc::Receiver<(u64, u64)>) {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let tx = tx.clone();
            thread::spawn(move || {
                let mut w = s.try_clone().unwrap();
                let writer = thread::spawn(move || {
                    send_stream(&mut w, down, down_seed);
                    w.shutdown(Shutdown::Write).unwrap();
                });
                let got = digest_to_eof(&mut s);
                writer.join().unwrap();
                let _ = tx.send(got);
            });
        }
    });
    (addr, rx)
}

/// Runs the full-duplex exchange over an open tunnel and checks both directions.
fn exchange_and_check<S>(client: S, upstream_got: &mpsc::Receiver<(u64, u64)>, what: &str)
where
    S: Read + Write + Send + 'static,
    S: TryCloneStream,
{
    let mut w = client.try_clone_stream();
    let writer = thread::spawn(move || {
        send_stream(&mut w, BIG, 100);
        w.half_close();
    });
    let mut r = client;
    let down = digest_to_eof(&mut r);
    writer.join().unwrap();
    let up = upstream_got
        .recv_timeout(Duration::from_secs(60))
        .expect("upstream finished");
    assert_eq!(
        up,
        expected(BIG, 100),
        "{what}: client → upstream stream differs"
    );
    assert_eq!(
        down,
        expected(BIG, 200),
        "{what}: upstream → client stream differs"
    );
}

/// The two client stream types the proxy accepts.
trait TryCloneStream {
    fn try_clone_stream(&self) -> Self;
    fn half_close(&self);
}

impl TryCloneStream for TcpStream {
    fn try_clone_stream(&self) -> Self {
        self.try_clone().unwrap()
    }
    fn half_close(&self) {
        self.shutdown(Shutdown::Write).unwrap();
    }
}

impl TryCloneStream for UnixStream {
    fn try_clone_stream(&self) -> Self {
        self.try_clone().unwrap()
    }
    fn half_close(&self) {
        self.shutdown(Shutdown::Write).unwrap();
    }
}

#[test]
fn large_streams_arrive_byte_exact_in_both_directions_at_once_via_connect() {
    let (up, upstream_got) = streaming_upstream(BIG, 200);
    let (_p, proxy, events) = start_tcp(config_for("big.test"));
    let mut s = connect(proxy);
    let (head, _) = http_connect(&mut s, &format!("big.test:{}", up.port()));
    assert_eq!(status(&head), 200, "{head}");
    exchange_and_check(s, &upstream_got, "CONNECT");
    assert_eq!(events.wait_for(1).len(), 1, "one event per tunnel");
}

#[test]
fn large_streams_arrive_byte_exact_in_both_directions_at_once_via_socks5_on_unix_socket() {
    let (up, upstream_got) = streaming_upstream(BIG, 200);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("proxy.sock");
    let events = Events::default();
    let _p = spawn(
        Listen::Unix(path.clone()),
        config_for("big.test"),
        events.sink(),
    )
    .unwrap();
    let mut s = UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    assert_eq!(socks_connect_domain(&mut s, "big.test", up.port()), 0);
    exchange_and_check(s, &upstream_got, "SOCKS5 over Unix socket");
}

/// An upstream for one connection: `start` runs first, then everything the client sends until
/// EOF is digested and the digest sent on the returned channel. Returns the port.
fn one_connection_upstream(
    start: impl FnOnce(&mut TcpStream) + Send + 'static,
) -> (u16, mpsc::Receiver<(u64, u64)>) {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        start(&mut s);
        let _ = tx.send(digest_to_eof(&mut s));
    });
    (port, rx)
}

/// An upstream that records everything it receives and, after the client's half-close,
/// answers with `reply` bytes of stream 300 and then closes.
fn reply_after_eof_upstream(reply: u64) -> (SocketAddr, mpsc::Receiver<(u64, u64)>) {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let tx = tx.clone();
            thread::spawn(move || {
                let got = digest_to_eof(&mut s);
                let _ = tx.send(got);
                send_stream(&mut s, reply, 300);
            });
        }
    });
    (addr, rx)
}

#[test]
fn client_half_close_first_still_delivers_the_whole_reply_and_frees_the_slot() {
    let (up, upstream_got) = reply_after_eof_upstream(4 * 1024 * 1024 + 7);
    let mut cfg = config_for("half.test");
    // One slot: the second tunnel below is only served once the first has fully ended.
    cfg.limits.max_connections = 1;
    let (_p, proxy, _events) = start_tcp(cfg);
    let target = format!("half.test:{}", up.port());

    let mut s = connect(proxy);
    let (head, _) = http_connect(&mut s, &target);
    assert_eq!(status(&head), 200, "{head}");
    send_stream(&mut s, 1_000_003, 400);
    s.shutdown(Shutdown::Write).unwrap();
    // The upstream saw the client's EOF (it answers only after that) ...
    assert_eq!(
        upstream_got.recv_timeout(Duration::from_secs(20)).unwrap(),
        expected(1_000_003, 400)
    );
    // ... and the reply still flows the other way, then the upstream's close arrives.
    assert_eq!(digest_to_eof(&mut s), expected(4 * 1024 * 1024 + 7, 300));
    drop(s);

    let mut s = connect(proxy);
    let (head, _) = http_connect(&mut s, &target);
    assert_eq!(
        status(&head),
        200,
        "the finished tunnel released its slot: {head}"
    );
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(
        upstream_got.recv_timeout(Duration::from_secs(20)).unwrap(),
        expected(0, 0)
    );
}

#[test]
fn upstream_half_close_first_lets_the_client_keep_sending() {
    // The upstream greets, half-closes, then reads everything the client sends.
    let (port, upstream_got) = one_connection_upstream(|s| {
        s.write_all(b"hello, then EOF").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
    });
    let (_p, proxy, _events) = start_tcp(config_for("half.test"));
    let mut s = connect(proxy);
    assert_eq!(socks_connect_domain(&mut s, "half.test", port), 0);
    let mut greeting = Vec::new();
    s.read_to_end(&mut greeting).unwrap();
    assert_eq!(
        greeting, b"hello, then EOF",
        "greeting, then the upstream's EOF"
    );
    // Our direction is still open after the upstream's half-close.
    send_stream(&mut s, 3_000_017, 500);
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(
        upstream_got.recv_timeout(Duration::from_secs(20)).unwrap(),
        expected(3_000_017, 500)
    );
}

#[test]
fn stopping_the_proxy_ends_open_tunnels() {
    // An upstream that holds its connection open and reports when it sees EOF.
    let (port, upstream_eof) = one_connection_upstream(|s| {
        let mut b = [0u8; 4];
        s.read_exact(&mut b).unwrap();
        s.write_all(&b).unwrap();
    });
    let (p, proxy, _events) = start_tcp(config_for("idle.test"));
    let mut s = connect(proxy);
    let (head, _) = http_connect(&mut s, &format!("idle.test:{port}"));
    assert_eq!(status(&head), 200, "{head}");
    s.write_all(b"ping").unwrap();
    let mut b = [0u8; 4];
    s.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"ping", "the tunnel is open and idle");

    let start = Instant::now();
    p.shutdown();
    let mut rest = Vec::new();
    // EOF or a reset, but not a hang (the client read timeout is 20 s).
    let _ = s.read_to_end(&mut rest);
    assert!(rest.is_empty());
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "tunnel ended when the proxy stopped"
    );
    assert_eq!(
        upstream_eof.recv_timeout(Duration::from_secs(5)).unwrap().0,
        0,
        "the upstream saw the tunnel end"
    );
}
