//! Shared helpers for the proxy integration tests: real loopback upstream servers that count
//! the connections they receive, raw protocol clients, and an event recorder.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;
use warden_proxy::{EventSink, Listen, NetworkEvent, ProxyConfig, ProxyHandle, spawn};

/// Deterministic pseudo-random bytes (xorshift64*), different per seed.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A loopback upstream server that counts accepted connections.
pub struct Upstream {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Upstream {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The connections accepted once the count has settled: the proxy answers its client as
    /// soon as the kernel completes the upstream handshake, which can be before this server's
    /// thread gets to `accept`, so a count read at once can lag. Waits (bounded) for `expected`
    /// and then a little longer, so that an unexpected extra connection is counted too.
    pub fn settled_count(&self, expected: usize) -> usize {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.accepted.load(Ordering::SeqCst) < expected
            && std::time::Instant::now() < deadline
        {
            thread::sleep(Duration::from_millis(5));
        }
        thread::sleep(Duration::from_millis(100));
        self.accepted.load(Ordering::SeqCst)
    }

    /// A raw TCP echo server: every byte received is sent back.
    pub fn echo() -> Upstream {
        Self::echo_on((Ipv4Addr::LOCALHOST, 0).into())
    }

    /// An echo server on a given loopback address.
    pub fn echo_on(addr: SocketAddr) -> Upstream {
        Self::start_on(addr, |mut s| {
            let mut r = s.try_clone().expect("clone");
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = s.shutdown(Shutdown::Write);
        })
    }

    /// A minimal HTTP/1.1 server: answers each request with its own body echoed back, plus
    /// `X-Seen-Method`, `X-Seen-Path` and `X-Seen-Host` headers, then closes.
    pub fn http() -> Upstream {
        Self::start(|mut s| {
            let Some((head, body)) = read_http_message(&mut s) else {
                return;
            };
            let mut lines = head.lines();
            let request_line = lines.next().unwrap_or_default().to_string();
            let mut parts = request_line.split(' ');
            let method = parts.next().unwrap_or_default().to_string();
            let path = parts.next().unwrap_or_default().to_string();
            let host = header(&head, "host").unwrap_or_default();
            let resp_head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Seen-Method: {method}\r\n\
                 X-Seen-Path: {path}\r\nX-Seen-Host: {host}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(resp_head.as_bytes());
            let _ = s.write_all(&body);
            let _ = s.flush();
        })
    }

    fn start(handler: fn(TcpStream)) -> Upstream {
        Self::start_on((Ipv4Addr::LOCALHOST, 0).into(), handler)
    }

    fn start_on(addr: SocketAddr, handler: fn(TcpStream)) -> Upstream {
        let l = TcpListener::bind(addr).expect("bind upstream");
        let addr = l.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (acc, st) = (accepted.clone(), stop.clone());
        thread::spawn(move || {
            for s in l.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(s) = s else { continue };
                acc.fetch_add(1, Ordering::SeqCst);
                thread::spawn(move || handler(s));
            }
        });
        Upstream {
            addr,
            accepted,
            stop,
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag (this connection is not counted as a test
        // connection because the flag is checked first).
        let _ = TcpStream::connect(self.addr);
    }
}

/// Reads one HTTP message (head + Content-Length body). Returns the head text and body.
pub fn read_http_message<R: Read>(s: &mut R) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let len: usize = header(&head, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    Some((head, body))
}

/// A header value from a message head (case-insensitive name).
pub fn header(head: &str, name: &str) -> Option<String> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

/// Status code of a response head.
pub fn status(head: &str) -> u16 {
    head.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Records every event the proxy emits.
#[derive(Clone, Default)]
pub struct Events(pub Arc<Mutex<Vec<NetworkEvent>>>);

impl Events {
    pub fn sink(&self) -> EventSink {
        let v = self.0.clone();
        Arc::new(move |e| v.lock().expect("lock").push(e))
    }

    pub fn all(&self) -> Vec<NetworkEvent> {
        self.0.lock().expect("lock").clone()
    }

    /// Waits briefly for at least `n` events (they are emitted from the proxy's threads).
    pub fn wait_for(&self, n: usize) -> Vec<NetworkEvent> {
        for _ in 0..200 {
            let v = self.all();
            if v.len() >= n {
                return v;
            }
            thread::sleep(Duration::from_millis(10));
        }
        self.all()
    }
}

/// Starts a proxy on an ephemeral loopback TCP port.
pub fn start_tcp(config: ProxyConfig) -> (ProxyHandle, SocketAddr, Events) {
    let events = Events::default();
    let h = spawn(
        Listen::Tcp((Ipv4Addr::LOCALHOST, 0).into()),
        config,
        events.sink(),
    )
    .expect("spawn proxy");
    let addr = h.tcp_addr().expect("tcp");
    (h, addr, events)
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect to proxy");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    s
}

/// Sends an HTTP CONNECT and returns the response head.
pub fn http_connect<S: Read + Write>(s: &mut S, target: &str) -> (String, Vec<u8>) {
    write!(s, "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").expect("write");
    read_http_message(s).expect("CONNECT response")
}

/// Performs a SOCKS5 no-auth CONNECT to a domain name; returns the reply code.
pub fn socks_connect_domain<S: Read + Write>(s: &mut S, host: &str, port: u16) -> u8 {
    let mut req = vec![5, 1, 0, 3, u8::try_from(host.len()).expect("short host")];
    req.extend_from_slice(host.as_bytes());
    req.extend_from_slice(&port.to_be_bytes());
    socks_connect_raw(s, &req)
}

/// Performs a SOCKS5 no-auth CONNECT with a raw request (`VER CMD RSV ATYP ADDR PORT`).
pub fn socks_connect_raw<S: Read + Write>(s: &mut S, request: &[u8]) -> u8 {
    s.write_all(&[5, 1, 0]).expect("greeting");
    let mut g = [0u8; 2];
    s.read_exact(&mut g).expect("method reply");
    assert_eq!(g, [5, 0], "no-auth accepted");
    s.write_all(request).expect("request");
    let mut head = [0u8; 4];
    s.read_exact(&mut head).expect("reply head");
    assert_eq!(head[0], 5);
    let rest = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        other => panic!("unexpected ATYP {other} in reply"),
    };
    let mut tail = vec![0u8; rest];
    s.read_exact(&mut tail).expect("reply addr");
    head[1]
}

/// Sends `payload` through a connected tunnel to an echo server (writing from another thread)
/// and returns what came back.
pub fn echo_roundtrip(s: &TcpStream, payload: &[u8]) -> Vec<u8> {
    let mut w = s.try_clone().expect("clone");
    let data = payload.to_vec();
    let writer = thread::spawn(move || {
        w.write_all(&data).expect("send payload");
        w.shutdown(Shutdown::Write).expect("half close");
    });
    let mut back = Vec::with_capacity(payload.len());
    let mut r = s.try_clone().expect("clone");
    r.read_to_end(&mut back).expect("read echo");
    writer.join().expect("writer");
    back
}
