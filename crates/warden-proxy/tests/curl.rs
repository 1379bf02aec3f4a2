//! The proxy with a real client: `curl` through the HTTP proxy (plain and `--proxytunnel`
//! CONNECT), through SOCKS5 with remote resolution, and through SOCKS5 over the Unix-socket
//! listener (`socks5h://localhost/PATH`). curl is installed by `scripts/setup-proxy.sh`.
//! (curl cannot speak to an HTTP proxy over a Unix socket — `--unix-socket` replaces the
//! origin, not the proxy — so that path is covered by a raw client in `tests/proxy.rs`.)

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};
use warden_proxy::{Listen, Protocol, ProxyConfig, spawn};

fn config() -> ProxyConfig {
    let mut c = ProxyConfig::new();
    c.resolve_override("up.test", vec!["127.0.0.1".parse().unwrap()])
        .unwrap();
    c.allow("up.test:*").unwrap();
    c.allow_private("up.test").unwrap();
    c
}

fn curl(args: &[&str]) -> Output {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "20"]).args(args);
    for v in [
        "http_proxy",
        "https_proxy",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        cmd.env_remove(v);
    }
    cmd.output()
        .expect("curl must be installed (scripts/setup-proxy.sh installs it)")
}

/// POSTs `payload` through curl with the given proxy arguments and checks the echo.
fn roundtrip(proxy_args: &[&str], up: &Upstream, dir: &Path, seed: u64) {
    let payload = random_bytes(2 * 1024 * 1024 + 11, seed);
    let input = dir.join(format!("in-{seed}"));
    let output = dir.join(format!("out-{seed}"));
    std::fs::write(&input, &payload).unwrap();
    let url = format!("http://up.test:{}/echo", up.port());
    let data = format!("@{}", input.display());
    let mut args: Vec<&str> = proxy_args.to_vec();
    let out_s = output.display().to_string();
    args.extend([
        "-H",
        "Expect:",
        "--data-binary",
        &data,
        "-o",
        &out_s,
        "-w",
        "%{http_code}",
        &url,
    ]);
    let out = curl(&args);
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    let back = std::fs::read(&output).unwrap();
    assert!(
        back == payload,
        "curl round trip differs ({} vs {} bytes)",
        back.len(),
        payload.len()
    );
}

#[test]
fn curl_through_http_proxy_connect_and_socks5() {
    let up = Upstream::http();
    let dir = tempfile::tempdir().unwrap();
    let (_p, proxy, events) = start_tcp(config());
    let px = format!("http://{proxy}");
    roundtrip(&["-x", &px], &up, dir.path(), 1);
    roundtrip(&["-x", &px, "--proxytunnel"], &up, dir.path(), 2);
    let sx = proxy.to_string();
    roundtrip(&["--socks5-hostname", &sx], &up, dir.path(), 3);
    let ev = events.wait_for(3);
    let protos: Vec<Protocol> = ev.iter().map(|e| e.protocol).collect();
    assert_eq!(
        protos,
        [Protocol::Http, Protocol::Connect, Protocol::Socks5]
    );
    assert!(ev.iter().all(|e| e.allowed && e.host == "up.test"));
}

#[test]
fn curl_sees_refusals() {
    let up = Upstream::http();
    let (_p, proxy, _) = start_tcp(config());
    let px = format!("http://{proxy}");
    let url = format!("http://blocked.test:{}/", up.port());
    let out = curl(&["-x", &px, "-D", "-", "-o", "/dev/null", &url]);
    let head = String::from_utf8_lossy(&out.stdout);
    assert!(head.contains(" 403"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("x-warden-deny: default-deny"),
        "{head}"
    );

    let out = curl(&["-x", &px, "--proxytunnel", &url]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("403"),
        "{:?}",
        out
    );

    let sx = proxy.to_string();
    let out = curl(&["--socks5-hostname", &sx, &url]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_ascii_lowercase();
    assert!(
        err.contains("not allowed") || err.contains("ruleset") || err.contains("(2)"),
        "{err}"
    );
    assert_eq!(up.settled_count(0), 0);
}

#[test]
fn curl_socks5_over_the_unix_socket_listener() {
    let up = Upstream::http();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("p.sock");
    let events = Events::default();
    let _h = spawn(Listen::Unix(sock.clone()), config(), events.sink()).unwrap();
    let px = format!("socks5h://localhost{}", sock.display());
    roundtrip(&["--proxy", &px], &up, dir.path(), 4);
    assert_eq!(events.wait_for(1)[0].protocol, Protocol::Socks5);
}
