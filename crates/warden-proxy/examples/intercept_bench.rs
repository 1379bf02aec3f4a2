//! Benchmark of HTTPS interception (run by `bench/intercept.sh`, release build): download and
//! upload throughput of one HTTPS transfer to a loopback TLS upstream — direct, through
//! warden-proxy intercepting (per-run CA, upstream verified against a test CA), and through
//! mitmproxy doing the same interception (when `MITMDUMP` names its `mitmdump`) — and the time
//! to first byte of new HTTPS connections: direct, through the proxy to a host it has a leaf
//! for (cached), and to a host it sees for the first time (a leaf minted). Also the CPU time
//! each interceptor spends per GiB (warden-proxy's runtime threads, mitmproxy's process) beside
//! the direct arm's (the client's and the upstream's TLS ends: the work an interceptor repeats).
//!
//! `intercept_bench [MIB] [CONNECTIONS] [ROUNDS]` (default 256 MiB, 50 connections per TTFB
//! arm, 5 rounds of transfers with the arms interleaved; the median per arm is reported).

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use warden_proxy::{CertificateAuthority, Listen, ProceedAll, ProxyConfig, spawn_judged};

type Err = Box<dyn std::error::Error + Send + Sync>;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A test CA (PEM, DER) and an upstream leaf for localhost and *.bench.invalid.
fn upstream_identity() -> (String, Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let ca_key = KeyPair::generate().expect("key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "intercept bench upstream CA");
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(p, ca_key).expect("ca");
    let leaf_key = KeyPair::generate().expect("key");
    let mut lp =
        CertificateParams::new(vec!["localhost".into(), "*.bench.invalid".into()]).expect("params");
    lp.distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    lp.use_authority_key_identifier_extension = true;
    let leaf = lp.signed_by(&leaf_key, &ca).expect("leaf");
    (
        ca.pem(),
        vec![leaf.der().clone(), ca.der().clone()],
        PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    )
}

/// The upstream: `GET` answers `payload`, `PUT` reads the body and answers its length.
async fn upstream(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    payload: Bytes,
) -> SocketAddr {
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("cert");
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else { return };
            let _ = s.set_nodelay(true);
            let acceptor = acceptor.clone();
            let payload = payload.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(s).await else {
                    return;
                };
                let svc = service_fn(move |req: Request<Incoming>| {
                    let payload = payload.clone();
                    async move {
                        let body = if req.method() == hyper::Method::PUT {
                            let mut n = 0usize;
                            let mut b = req.into_body();
                            while let Some(Ok(f)) = b.frame().await {
                                n += f.data_ref().map_or(0, Bytes::len);
                            }
                            Bytes::from(n.to_string())
                        } else {
                            payload
                        };
                        Ok::<_, Infallible>(Response::new(Full::new(body)))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    addr
}

/// How a client reaches the upstream.
#[derive(Clone)]
struct Route {
    /// The proxy to CONNECT through, if any.
    proxy: Option<SocketAddr>,
    /// What the client trusts (the upstream's CA when direct, the proxy's CA otherwise).
    tls: Arc<rustls::ClientConfig>,
    port: u16,
}

fn client_config(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.expect("pem")).expect("root");
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    // Every connection pays a full handshake, direct or not.
    cfg.resumption = rustls::client::Resumption::disabled();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(cfg)
}

/// One request on a new connection: (time to first response byte, total time, bytes moved).
async fn request(
    r: &Route,
    host: &str,
    upload: Option<Bytes>,
) -> Result<(Duration, Duration, usize), Err> {
    let start = Instant::now();
    let target = format!("{host}:{}", r.port);
    let mut tcp = match r.proxy {
        Some(p) => {
            let mut s = TcpStream::connect(p).await?;
            s.set_nodelay(true)?;
            s.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
                .await?;
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if s.read(&mut b).await? == 0 {
                    return Err("proxy closed".into());
                }
                head.push(b[0]);
            }
            if !head.starts_with(b"HTTP/1.1 200") {
                return Err(String::from_utf8_lossy(&head).into_owned().into());
            }
            s
        }
        None => {
            let s = TcpStream::connect((Ipv4Addr::LOCALHOST, r.port)).await?;
            s.set_nodelay(true)?;
            s
        }
    };
    tcp.flush().await?;
    let tls = tokio_rustls::TlsConnector::from(r.tls.clone())
        .connect(ServerName::try_from(host.to_owned())?, tcp)
        .await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
    tokio::spawn(conn);
    let req = Request::builder()
        .uri("/")
        .header("host", &target)
        .method(if upload.is_some() { "PUT" } else { "GET" });
    let resp = match upload {
        Some(b) => {
            let n = b.len();
            let resp = sender.send_request(req.body(Full::new(b).boxed())?).await?;
            let ttfb = start.elapsed();
            resp.into_body().collect().await?;
            return Ok((ttfb, start.elapsed(), n));
        }
        None => {
            sender
                .send_request(req.body(Empty::<Bytes>::new().boxed())?)
                .await?
        }
    };
    let ttfb = start.elapsed();
    let status = resp.status();
    if !status.is_success() {
        let body = resp.into_body().collect().await?.to_bytes();
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body)).into());
    }
    // Counted, not collected: gathering 256 MiB into one buffer (allocation, page faults, a
    // copy) cost the client as much as a TLS layer and capped every arm at the client's speed.
    let mut body = resp.into_body();
    let mut n = 0usize;
    while let Some(frame) = body.frame().await {
        n += frame?.data_ref().map_or(0, Bytes::len);
    }
    Ok((ttfb, start.elapsed(), n))
}

fn mib_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / d.as_secs_f64()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Seconds of CPU (user and system) in a `/proc/.../stat` line.
fn stat_cpu(stat: &str) -> f64 {
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; the kernel
    // counts them in USER_HZ, 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds of this process's threads named `warden-proxy` (the proxy's runtime).
fn proxy_threads_cpu() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.trim_end() == "warden-proxy")
        })
        .filter_map(|t| std::fs::read_to_string(t.path().join("stat")).ok())
        .map(|s| stat_cpu(&s))
        .sum()
}

/// CPU seconds of process `pid`, all its threads.
fn process_cpu(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(0.0, |s| stat_cpu(&s))
}

/// A child process killed when dropped (also when the benchmark fails half-way).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `mitmdump` intercepting on a free port, trusting `upstream_ca`; returns its port,
/// its CA (PEM) and the child.
fn mitmproxy(
    mitmdump: &str,
    dir: &std::path::Path,
    upstream_ca: &std::path::Path,
) -> Option<(u16, String, std::process::Child)> {
    let port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = std::process::Command::new(mitmdump)
        .args(["-q", "--listen-host", "127.0.0.1", "--listen-port"])
        .arg(port.to_string())
        .arg("--set")
        .arg(format!("confdir={}", dir.display()))
        .arg("--set")
        .arg(format!(
            "ssl_verify_upstream_trusted_ca={}",
            upstream_ca.display()
        ))
        .arg("--set")
        .arg("stream_large_bodies=1m")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let ca = dir.join("mitmproxy-ca-cert.pem");
    for _ in 0..200 {
        if ca.exists() && std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Some((port, std::fs::read_to_string(&ca).ok()?, child));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Err> {
    let args: Vec<String> = std::env::args().collect();
    let mib: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(256);
    let conns: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(50);
    let rounds: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(5).max(1);
    let bytes = mib << 20;
    let payload = Bytes::from(vec![7u8; bytes]);

    let dir = std::env::temp_dir().join(format!("warden-intercept-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (ca_pem, chain, key) = upstream_identity();
    let ca_file = dir.join("upstream-ca.pem");
    std::fs::write(&ca_file, &ca_pem)?;
    let up = upstream(chain, key, payload.clone()).await;

    let run_ca = Arc::new(CertificateAuthority::generate()?);
    let mut cfg = ProxyConfig::new();
    cfg.allow("localhost:*")?;
    cfg.allow("*.bench.invalid:*")?;
    cfg.allow_private("localhost")?;
    cfg.allow_private("*.bench.invalid")?;
    for i in 0..conns {
        cfg.resolve_override(
            &format!("h{i}.bench.invalid"),
            vec![Ipv4Addr::LOCALHOST.into()],
        )?;
    }
    cfg.resolve_override("localhost", vec![Ipv4Addr::LOCALHOST.into()])?;
    cfg.upstream_ca = warden_proxy::read_pem_certs(&ca_file)?;
    cfg.ca = Some(run_ca.clone());
    let proxy = spawn_judged(
        Listen::Tcp((Ipv4Addr::LOCALHOST, 0).into()),
        cfg,
        Arc::new(|_| {}),
        Arc::new(ProceedAll),
    )?;

    let direct = Route {
        proxy: None,
        tls: client_config(&ca_pem),
        port: up.port(),
    };
    let warden = Route {
        proxy: proxy.tcp_addr(),
        tls: client_config(&run_ca.cert_pem()),
        port: up.port(),
    };
    let mut arms = vec![("direct", direct.clone()), ("warden", warden.clone())];
    let mut mitm_child = None;
    if let Ok(m) = std::env::var("MITMDUMP") {
        let confdir = dir.join("mitmproxy");
        std::fs::create_dir_all(&confdir)?;
        match mitmproxy(&m, &confdir, &ca_file) {
            Some((port, ca, child)) => {
                arms.push((
                    "mitmproxy",
                    Route {
                        proxy: Some((Ipv4Addr::LOCALHOST, port).into()),
                        tls: client_config(&ca),
                        port: up.port(),
                    },
                ));
                mitm_child = Some(KillOnDrop(child));
            }
            None => eprintln!("mitmproxy did not start; its arm is skipped"),
        }
    }

    println!(
        "intercepted HTTPS, {mib} MiB transfers, the arms interleaved over {rounds} rounds, median per arm (HTTP/1.1, loopback)"
    );
    for (name, route) in &arms {
        // Warm-up: the proxy's leaf for localhost, the upstream's connection path.
        if let Err(e) = request(route, "localhost", None).await {
            return Err(format!("{name}: {e}").into());
        }
    }
    // Interleaved, so a change in the machine's load falls on every arm alike.
    let mut samples: std::collections::BTreeMap<&str, (Vec<f64>, Vec<f64>)> =
        std::collections::BTreeMap::new();
    // The CPU time each interceptor spends (download, upload), which the machine's load does
    // not change the way it changes throughput.
    let mut cpu: std::collections::BTreeMap<&str, (f64, f64)> = std::collections::BTreeMap::new();
    let mitm_pid = mitm_child.as_ref().map(|c: &KillOnDrop| c.0.id());
    // For the direct arm, the whole process (the client's and the upstream's TLS ends): the
    // same cryptography an interceptor does again, the floor of its CPU.
    let cpu_of = |name: &str| match name {
        "direct" => Some(process_cpu(std::process::id())),
        "warden" => Some(proxy_threads_cpu()),
        "mitmproxy" => mitm_pid.map(process_cpu),
        _ => None,
    };
    for _ in 0..rounds {
        for (name, route) in &arms {
            let c0 = cpu_of(name);
            let (_, t, n) = request(route, "localhost", None).await?;
            if n != bytes {
                return Err(format!("{name}: downloaded {n} bytes, not {bytes}").into());
            }
            let down = mib_per_s(n, t);
            let c1 = cpu_of(name);
            let (_, t, n) = request(route, "localhost", Some(payload.clone())).await?;
            let c2 = cpu_of(name);
            if let (Some(c0), Some(c1), Some(c2)) = (c0, c1, c2) {
                let e = cpu.entry(*name).or_default();
                e.0 += c1 - c0;
                e.1 += c2 - c1;
            }
            let s = samples.entry(*name).or_default();
            s.0.push(down);
            s.1.push(mib_per_s(n, t));
        }
    }
    let mid = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut speeds = std::collections::BTreeMap::new();
    for (name, _) in &arms {
        let (d, u) = samples.remove(*name).unwrap_or_default();
        let (down, upl) = (mid(d), mid(u));
        println!("  {name:<10} download {down:>8.0} MiB/s   upload {upl:>8.0} MiB/s");
        speeds.insert(*name, (down, upl));
    }
    let (dd, du) = speeds["direct"];
    let (wd, wu) = speeds["warden"];
    println!(
        "  warden / direct:     download {:.2}   upload {:.2}   (target >= 0.50)",
        wd / dd,
        wu / du
    );
    if let Some((md, mu)) = speeds.get("mitmproxy") {
        println!(
            "  warden / mitmproxy:  download {:.1}x  upload {:.1}x  (target >= 5x)",
            wd / md,
            wu / mu
        );
        // No interceptor can beat the direct connection it sits in: this is the most any
        // could score against mitmproxy on this machine in this run.
        println!(
            "  direct / mitmproxy:  download {:.1}x  upload {:.1}x  (the ceiling of the line above)",
            dd / md,
            du / mu
        );
    }

    let gib = (bytes * rounds) as f64 / f64::from(1u32 << 30);
    let per_gib = |name: &str| {
        cpu.get(name).map_or("-".to_owned(), |c| {
            format!("download {:.2} upload {:.2}", c.0 / gib, c.1 / gib)
        })
    };
    println!(
        "CPU seconds per GiB: warden's proxy threads {}; mitmproxy {}; direct, both TLS ends {}",
        per_gib("warden"),
        per_gib("mitmproxy"),
        per_gib("direct")
    );
    if let (Some(w), Some(m)) = (cpu.get("warden"), cpu.get("mitmproxy")) {
        println!(
            "  mitmproxy / warden CPU:  download {:.1}x  upload {:.1}x  (load-independent; target >= 5x)",
            m.0 / w.0,
            m.1 / w.1
        );
    }

    // Time to first byte of a new HTTPS connection: an empty PUT, answered with one byte.
    let ttfb = |v: Vec<Duration>| median(v).as_secs_f64() * 1e3;
    let mut direct_t = Vec::new();
    let mut cached_t = Vec::new();
    let mut first_t = Vec::new();
    for i in 0..conns {
        direct_t.push(request(&direct, "localhost", Some(Bytes::new())).await?.0);
        cached_t.push(request(&warden, "localhost", Some(Bytes::new())).await?.0);
        let fresh = format!("h{i}.bench.invalid");
        first_t.push(request(&warden, &fresh, Some(Bytes::new())).await?.0);
    }
    let (d, c, f) = (ttfb(direct_t), ttfb(cached_t), ttfb(first_t));
    println!("time to first byte of a new HTTPS connection, median of {conns}:");
    println!(
        "  direct {d:.2} ms, through warden {c:.2} ms (cached leaf), {f:.2} ms (first to a host)"
    );
    println!(
        "  added: {:.2} ms cached (target <= 1), {:.2} ms first to a host (target <= 3)",
        c - d,
        f - d
    );

    proxy.shutdown();
    drop(mitm_child);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
