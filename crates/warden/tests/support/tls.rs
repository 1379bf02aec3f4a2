//! Real TLS for integration tests: a throw-away certificate authority made with rcgen (its CA
//! and a `localhost`/`127.0.0.1` server certificate written as PEM files), and a small HTTPS
//! receiver (rustls over a std socket) that records every request and answers 200, standing in
//! for a webhook endpoint or an OTLP collector.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A test CA and one server certificate it issued, as PEM files in `dir`.
pub struct TestPki {
    /// The CA certificate clients should trust.
    pub ca: PathBuf,
    /// The server's certificate chain (leaf only) and key.
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A CA named `name` issuing a certificate for `localhost` and `127.0.0.1`; files `name-*.pem`.
pub fn make_pki(dir: &Path, name: &str) -> TestPki {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("{name} test CA"));
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let pki = TestPki {
        ca: dir.join(format!("{name}-ca.pem")),
        cert: dir.join(format!("{name}-cert.pem")),
        key: dir.join(format!("{name}-key.pem")),
    };
    std::fs::write(&pki.ca, ca.pem()).unwrap();
    std::fs::write(&pki.cert, leaf.pem()).unwrap();
    std::fs::write(&pki.key, leaf_key.serialize_pem()).unwrap();
    pki
}

/// One request an HTTPS receiver got: the request head and the body bytes.
#[derive(Debug, Clone)]
pub struct Received {
    pub head: String,
    pub body: Vec<u8>,
}

/// An HTTPS receiver on loopback: every request goes to `rx`; failed handshakes are counted.
pub struct HttpsReceiver {
    pub port: u16,
    pub rx: mpsc::Receiver<Received>,
    pub failed_handshakes: Arc<Mutex<Vec<String>>>,
}

/// Serve HTTPS with `pki`'s server certificate, answering every request `200` with `answer`.
pub fn https_receiver(pki: &TestPki, answer: &'static str) -> HttpsReceiver {
    let cfg = warden_tls::server_config(&pki.cert, &pki.key).expect("server TLS config");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    let failed = Arc::new(Mutex::new(Vec::new()));
    let failed2 = failed.clone();
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(mut sock) = sock else { continue };
            let _ = sock.set_read_timeout(Some(Duration::from_secs(5)));
            let mut conn = rustls::ServerConnection::new(cfg.clone()).unwrap();
            if let Err(e) = conn.complete_io(&mut sock) {
                failed2.lock().unwrap().push(e.to_string());
                continue;
            }
            let mut tls = rustls::StreamOwned::new(conn, sock);
            let mut got = Vec::new();
            let mut buf = [0u8; 8192];
            let (head, body) = loop {
                let n = match tls.read(&mut buf) {
                    Ok(0) | Err(_) => break (String::new(), Vec::new()),
                    Ok(n) => n,
                };
                got.extend_from_slice(&buf[..n]);
                let Some(p) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&got[..p]).to_string();
                let len = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if got.len() >= p + 4 + len {
                    break (head, got[p + 4..p + 4 + len].to_vec());
                }
            };
            if head.is_empty() {
                failed2.lock().unwrap().push("no request".into());
                continue;
            }
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
            let _ = tls.write_all(resp.as_bytes());
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.conn.complete_io(&mut tls.sock);
            let _ = tx.send(Received { head, body });
        }
    });
    HttpsReceiver {
        port,
        rx,
        failed_handshakes: failed,
    }
}
