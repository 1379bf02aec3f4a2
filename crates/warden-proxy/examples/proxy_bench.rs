//! Benchmark of the egress proxy on loopback (run by `bench/proxy.sh`): CONNECT-tunnel
//! throughput against a direct TCP connection, and the connection latency the proxy adds
//! (CONNECT and SOCKS5), over several runs, printing medians and ratios. It also prints the
//! CPU time the whole process (client, upstream and, when proxied, the proxy) spends per GiB
//! moved: wall-clock throughput is noisy on a busy machine, CPU per byte much less so, and the
//! difference between the proxied and direct figures is what the tunnel costs. The same
//! CONNECT transfers through the proxy's Unix-socket listener (what the sandbox connects to)
//! are measured alongside, for information; the targets are judged on the TCP listener.
//! Each run measures direct and proxied back to back; the throughput ratio judged is the
//! median over runs of the within-run ratio (loopback throughput on a small VM is bimodal
//! from one transfer to the next, so ratios of separately taken medians wander).
//!
//! Usage: `proxy_bench [--mib N] [--runs N] [--conns N]`; environment:
//! `PROXY_BENCH_ONLY=direct|connect|unix` (one arm, e.g. under `perf record`),
//! `PROXY_BENCH_VERBOSE=1` (every transfer), `PROXY_BENCH_CC=NAME` (see [`bench_cc`]).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use warden_proxy::{Listen, ProxyConfig, spawn};

const CHUNK: usize = 256 * 1024;

fn main() {
    let mut mib: usize = 512;
    let mut runs: usize = 9;
    let mut conns: usize = 500;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).and_then(|v| v.parse().ok());
        match (args[i].as_str(), v) {
            ("--mib", Some(n)) => mib = n,
            ("--runs", Some(n)) => runs = n,
            ("--conns", Some(n)) => conns = n,
            _ => {
                eprintln!("usage: proxy_bench [--mib N] [--runs N] [--conns N]");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    let bytes = mib * 1024 * 1024;

    let upstream = start_upstream(bytes);
    let mut cfg = ProxyConfig::new();
    cfg.resolve_override("bench.test", vec![Ipv4Addr::LOCALHOST.into()])
        .and_then(|c| c.allow("bench.test:*"))
        .and_then(|c| c.allow_private("bench.test"))
        .expect("bench config");
    let proxy = spawn(
        Listen::Tcp((Ipv4Addr::LOCALHOST, 0).into()),
        cfg.clone(),
        Arc::new(|_| {}),
    )
    .expect("spawn proxy");
    let paddr = proxy.tcp_addr().expect("tcp proxy");
    // The same proxy on a Unix socket: what the sandbox's relay connects to.
    let sock_dir = std::env::temp_dir().join(format!("warden-proxy-bench-{}", std::process::id()));
    std::fs::create_dir_all(&sock_dir).expect("socket dir");
    let sock = sock_dir.join("proxy.sock");
    let unix_proxy = spawn(Listen::Unix(sock.clone()), cfg, Arc::new(|_| {})).expect("spawn");
    let target = format!("bench.test:{}", upstream.port());

    println!(
        "warden-proxy benchmark: {mib} MiB per transfer, {runs} runs, {conns} connections per latency run"
    );
    // The client and upstream here use the system's congestion control (or PROXY_BENCH_CC),
    // direct and proxied alike; the proxy picks its own for legs that stay on this host.
    let cc = std::env::var("PROXY_BENCH_CC").unwrap_or_else(|_| {
        std::fs::read_to_string("/proc/sys/net/ipv4/tcp_congestion_control").unwrap_or_default()
    });
    println!(
        "TCP congestion control of the client and upstream: {}",
        cc.trim()
    );
    // `PROXY_BENCH_ONLY=direct|connect|unix` runs one arm only (for profiling with perf).
    let only = std::env::var("PROXY_BENCH_ONLY").unwrap_or_default();
    // `PROXY_BENCH_VERBOSE=1` prints every transfer.
    let verbose = std::env::var_os("PROXY_BENCH_VERBOSE").is_some();
    let arms: Vec<Arm> = [Arm::Direct, Arm::Tcp, Arm::Unix]
        .into_iter()
        .filter(|a| match only.as_str() {
            "direct" => *a == Arm::Direct,
            "connect" => *a == Arm::Tcp,
            "unix" => *a == Arm::Unix,
            _ => true,
        })
        .collect();
    let open = |arm: Arm| -> Box<dyn Stream> {
        match arm {
            Arm::Direct => Box::new(connect_direct(upstream)),
            Arm::Tcp => Box::new(connect_via_http(tcp_connect(paddr), &target)),
            Arm::Unix => Box::new(connect_via_http(
                {
                    let u = UnixStream::connect(&sock).expect("unix proxy connect");
                    if let Some(b) = std::env::var("PROXY_BENCH_UNIX_SNDBUF")
                        .ok()
                        .and_then(|v| v.parse().ok())
                    {
                        rustix::net::sockopt::set_socket_send_buffer_size(&u, b).expect("sndbuf");
                    }
                    u
                },
                &target,
            )),
        }
    };
    // One unmeasured transfer each way first, so the proxies' threads and buffers exist.
    for &arm in &arms {
        if arm != Arm::Direct {
            download(open(arm), bytes);
            upload(open(arm), bytes);
        }
    }
    let mut dl: [Vec<Transfer>; 3] = Default::default();
    let mut ul: [Vec<Transfer>; 3] = Default::default();
    // The direct and proxied transfers alternate, and the order rotates every run, so load
    // from elsewhere, and any drift in it, hits all of them alike.
    for run in 0..runs {
        for k in 0..arms.len() {
            let arm = arms[(run + k) % arms.len()];
            dl[arm as usize].push(download(open(arm), bytes));
            ul[arm as usize].push(upload(open(arm), bytes));
            if verbose {
                let (a, b) = (&dl[arm as usize], &ul[arm as usize]);
                let (a, b) = (&a[a.len() - 1], &b[b.len() - 1]);
                println!(
                    "  run {run} {arm:?}: download {:.0} MiB/s ({:.3} s/GiB), upload {:.0} MiB/s ({:.3} s/GiB)",
                    a.mib_per_s, a.cpu_s_per_gib, b.mib_per_s, b.cpu_s_per_gib
                );
            }
        }
    }
    let cpu = |v: &[Transfer]| median(v.iter().map(|t| t.cpu_s_per_gib).collect());
    let proxy_cpu = |v: &[Transfer]| median(v.iter().map(|t| t.proxy_cpu_s_per_gib).collect());
    let rate = |v: &[Transfer]| median(v.iter().map(|t| t.mib_per_s).collect());
    // Each run measured direct and proxied back to back: the ratio within a run is what is
    // judged (median over runs, with the range), so that drift between runs cancels out.
    let ratios = |v: &[Transfer], base: &[Transfer]| -> Vec<f64> {
        v.iter()
            .zip(base)
            .map(|(p, d)| 100.0 * p.mib_per_s / d.mib_per_s)
            .collect()
    };
    let (d, t, u) = (Arm::Direct as usize, Arm::Tcp as usize, Arm::Unix as usize);
    let (dd, pd, xd) = (rate(&dl[d]), rate(&dl[t]), rate(&dl[u]));
    let (du, pu, xu) = (rate(&ul[d]), rate(&ul[t]), rate(&ul[u]));
    let (rpd, rxd) = (ratios(&dl[t], &dl[d]), ratios(&dl[u], &dl[d]));
    let (rpu, rxu) = (ratios(&ul[t], &ul[d]), ratios(&ul[u], &ul[d]));
    let (cdd, cpd, cxd) = (cpu(&dl[d]), cpu(&dl[t]), cpu(&dl[u]));
    let (cdu, cpu_, cxu) = (cpu(&ul[d]), cpu(&ul[t]), cpu(&ul[u]));
    let (pcd, pcu) = (proxy_cpu(&dl[t]), proxy_cpu(&ul[t]));
    let pct = |a: f64, b: f64| 100.0 * a / b;
    let spread = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!("{:>5.1}% ({lo:>3.0}-{hi:>3.0})", median(v.to_vec()))
    };
    println!();
    println!(
        "throughput (MiB/s, median)      direct   via CONNECT   ratio (range)    | Unix listener   ratio (range)"
    );
    println!(
        "  download (upstream → client)  {dd:>6.0}   {pd:>11.0}   {}  | {xd:>13.0}   {}",
        spread(&rpd),
        spread(&rxd)
    );
    println!(
        "  upload   (client → upstream)  {du:>6.0}   {pu:>11.0}   {}  | {xu:>13.0}   {}",
        spread(&rpu),
        spread(&rxu)
    );
    println!("  (ratio: median over runs of proxied / direct within the same run)");
    println!();
    println!(
        "CPU seconds per GiB (median)   whole process:  direct   via CONNECT   tunnel adds | proxy threads | Unix listener"
    );
    println!(
        "  download                                     {cdd:>6.3}   {cpd:>11.3}   {:>11.3} | {pcd:>13.3} | {cxd:>13.3}",
        cpd - cdd
    );
    println!(
        "  upload                                       {cdu:>6.3}   {cpu_:>11.3}   {:>11.3} | {pcu:>13.3} | {cxu:>13.3}",
        cpu_ - cdu
    );
    println!(
        "  (where CPU is the limit, e.g. a busy 2-core machine, the tunnel can reach about \
         {:.0}% / {:.0}% of direct)",
        pct(cdd, cpd),
        pct(cdu, cpu_)
    );

    let mut lat_direct = Vec::new();
    let mut lat_connect = Vec::new();
    let mut lat_socks = Vec::new();
    for run in 0..runs {
        if run % 2 == 1 {
            lat_socks.push(latency(conns, || connect_via_socks(paddr, upstream.port())));
            lat_connect.push(latency(conns, || {
                connect_via_http(tcp_connect(paddr), &target)
            }));
        }
        lat_direct.push(latency(conns, || connect_direct(upstream)));
        if run % 2 == 0 {
            lat_connect.push(latency(conns, || {
                connect_via_http(tcp_connect(paddr), &target)
            }));
            lat_socks.push(latency(conns, || connect_via_socks(paddr, upstream.port())));
        }
    }
    let (ld, lc, ls) = (median(lat_direct), median(lat_connect), median(lat_socks));
    println!();
    println!("connection latency (µs, median of per-run medians; connect + 1-byte round trip)");
    println!("  direct            {ld:>8.1}");
    println!("  via CONNECT       {lc:>8.1}   added {:>7.1} µs", lc - ld);
    println!("  via SOCKS5        {ls:>8.1}   added {:>7.1} µs", ls - ld);

    let (rd, ru) = (median(rpd.clone()), median(rpu.clone()));
    let worst = rd.min(ru);
    let tput_ok = worst >= 80.0;
    let lat_ok = (lc - ld) <= 300.0 && (ls - ld) <= 300.0;
    println!();
    println!(
        "targets: throughput >= 80% of direct: {} (worst {worst:.1}%); added latency <= 0.3 ms: {}",
        if tput_ok { "MET" } else { "MISSED" },
        if lat_ok { "MET" } else { "MISSED" }
    );
    // One line for scripts: throughput MiB/s, CPU s/GiB, latency µs.
    println!(
        "summary dl_direct={dd:.0} dl_proxy={pd:.0} ul_direct={du:.0} ul_proxy={pu:.0} \
         cpu_dl_direct={cdd:.3} cpu_dl_proxy={cpd:.3} cpu_ul_direct={cdu:.3} cpu_ul_proxy={cpu_:.3} \
         proxy_cpu_dl={pcd:.3} proxy_cpu_ul={pcu:.3} \
         dl_ratio={rd:.1} ul_ratio={ru:.1} \
         dl_unix={xd:.0} ul_unix={xu:.0} cpu_dl_unix={cxd:.3} cpu_ul_unix={cxu:.3} \
         lat_direct={ld:.1} lat_connect={lc:.1} lat_socks={ls:.1}"
    );
    proxy.shutdown();
    unix_proxy.shutdown();
    let _ = std::fs::remove_dir(&sock_dir);
}

/// What is measured: a direct connection, CONNECT through the TCP listener, CONNECT through
/// the Unix-socket listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arm {
    Direct = 0,
    Tcp = 1,
    Unix = 2,
}

/// A client connection of either kind.
trait Stream: Read + Write {
    fn half_close(&self);
}

impl Stream for TcpStream {
    fn half_close(&self) {
        self.shutdown(Shutdown::Write).expect("half close");
    }
}

impl Stream for UnixStream {
    fn half_close(&self) {
        self.shutdown(Shutdown::Write).expect("half close");
    }
}

impl Stream for Box<dyn Stream> {
    fn half_close(&self) {
        (**self).half_close();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Upstream: first byte is a command — `D` send `bytes` then close, `U` read to EOF then ack
/// with one byte, `E` echo one byte.
fn start_upstream(bytes: usize) -> SocketAddr {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let addr = l.local_addr().expect("addr");
    thread::spawn(move || {
        let data = Arc::new(vec![0x5au8; CHUNK]);
        for s in l.incoming().flatten() {
            let data = data.clone();
            let _ = thread::Builder::new()
                .name("upstream".into())
                .spawn(move || serve(s, bytes, &data));
        }
    });
    addr
}

fn serve(mut s: TcpStream, bytes: usize, data: &[u8]) {
    bench_cc(&s);
    let _ = s.set_nodelay(true);
    let mut cmd = [0u8; 1];
    if s.read_exact(&mut cmd).is_err() {
        return;
    }
    match cmd[0] {
        b'D' => {
            let mut left = bytes;
            while left > 0 {
                let n = left.min(data.len());
                if s.write_all(&data[..n]).is_err() {
                    return;
                }
                left -= n;
            }
            let _ = s.shutdown(Shutdown::Write);
        }
        b'U' => {
            let mut buf = vec![0u8; CHUNK];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
            }
            let _ = s.write_all(b"k");
        }
        b'E' => {
            let _ = s.write_all(b"e");
        }
        _ => {}
    }
}

fn connect_direct(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("direct connect");
    bench_cc(&s);
    let _ = s.set_nodelay(true);
    s
}

fn tcp_connect(proxy: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(proxy).expect("proxy connect");
    bench_cc(&s);
    let _ = s.set_nodelay(true);
    s
}

fn connect_via_http<S: Stream>(mut s: S, target: &str) -> S {
    s.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .expect("CONNECT");
    let mut head = Vec::with_capacity(64);
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).expect("CONNECT response");
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 200"), "CONNECT refused");
    s
}

fn connect_via_socks(proxy: SocketAddr, port: u16) -> TcpStream {
    let mut s = TcpStream::connect(proxy).expect("proxy connect");
    let _ = s.set_nodelay(true);
    let host = b"bench.test";
    let mut msg = vec![5, 1, 0, 5, 1, 0, 3, host.len() as u8];
    msg.extend_from_slice(host);
    msg.extend_from_slice(&port.to_be_bytes());
    s.write_all(&msg).expect("socks request");
    let mut r = [0u8; 2 + 10];
    s.read_exact(&mut r).expect("socks reply");
    assert_eq!(r[3], 0, "SOCKS refused");
    s
}

/// One measured transfer.
struct Transfer {
    mib_per_s: f64,
    /// CPU time of the whole process (all threads, user + system) per GiB moved.
    cpu_s_per_gib: f64,
    /// CPU time of the proxy's own threads per GiB moved.
    proxy_cpu_s_per_gib: f64,
}

/// Starts measuring a transfer.
struct Meter {
    wall: Instant,
    cpu: Duration,
    proxy_cpu: Duration,
}

impl Meter {
    fn start() -> Meter {
        Meter {
            proxy_cpu: proxy_threads_cpu(),
            cpu: process_cpu(),
            wall: Instant::now(),
        }
    }

    fn finish(self, bytes: usize) -> Transfer {
        let wall = self.wall.elapsed();
        let cpu = process_cpu().saturating_sub(self.cpu);
        let proxy_cpu = proxy_threads_cpu().saturating_sub(self.proxy_cpu);
        let gib = bytes as f64 / (1u64 << 30) as f64;
        Transfer {
            mib_per_s: bytes as f64 / (1024.0 * 1024.0) / wall.as_secs_f64(),
            cpu_s_per_gib: cpu.as_secs_f64() / gib,
            proxy_cpu_s_per_gib: proxy_cpu.as_secs_f64() / gib,
        }
    }
}

/// Run time of the proxy's threads (named `warden-proxy*`) so far, from
/// `/proc/self/task/*/schedstat`; zero where that file is missing.
fn proxy_threads_cpu() -> Duration {
    let mut ns = 0u64;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    for task in tasks.flatten() {
        let dir = task.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !comm.starts_with("warden-proxy") {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("schedstat")).unwrap_or_default();
        ns += stat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Duration::from_nanos(ns)
}

fn process_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// Receives `bytes`.
fn download(mut s: impl Stream, bytes: usize) -> Transfer {
    let meter = Meter::start();
    s.write_all(b"D").expect("cmd");
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0usize;
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => panic!("download: {e}"),
        }
    }
    assert_eq!(got, bytes, "short download");
    meter.finish(bytes)
}

/// Sends `bytes` (until the upstream acknowledges receipt of all of them).
fn upload(mut s: impl Stream, bytes: usize) -> Transfer {
    let meter = Meter::start();
    s.write_all(b"U").expect("cmd");
    let data = vec![0xa5u8; CHUNK];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(CHUNK);
        s.write_all(&data[..n]).expect("upload");
        left -= n;
    }
    s.half_close();
    let mut ack = [0u8; 1];
    s.read_exact(&mut ack).expect("ack");
    meter.finish(bytes)
}

/// Median microseconds of `n` × (establish + 1-byte round trip).
fn latency(n: usize, mut open: impl FnMut() -> TcpStream) -> f64 {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let mut s = open();
        s.write_all(b"E").expect("echo cmd");
        let mut b = [0u8; 1];
        s.read_exact(&mut b).expect("echo");
        v.push(start.elapsed().as_secs_f64() * 1e6);
    }
    median(v)
}

/// `PROXY_BENCH_CC=NAME` gives the benchmark's own client and upstream sockets that TCP
/// congestion control instead of the system's (direct and proxied alike), e.g. to compare on
/// equal terms with the proxy's host-local legs (`reno`).
fn bench_cc(s: &TcpStream) {
    if let Ok(cc) = std::env::var("PROXY_BENCH_CC") {
        rustix::net::sockopt::set_tcp_congestion(s, &cc).expect("cc");
    }
}
