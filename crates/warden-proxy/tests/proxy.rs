//! End-to-end tests of the proxy against real loopback upstream servers: byte-exact relaying,
//! refusals that never reach the upstream, the DNS-rebinding guard, wildcard semantics and the
//! events emitted for each decision.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::IpAddr;
use std::time::{Duration, Instant};
use warden_proxy::{Protocol, ProxyConfig, Rule, RuleAction};

const LOCAL: &str = "127.0.0.1";

/// A config that maps `name` to 127.0.0.1 and allows it (with the private guard lifted for it).
fn config_for(names: &[&str]) -> ProxyConfig {
    let mut c = ProxyConfig::new();
    for n in names {
        c.resolve_override(n, vec![LOCAL.parse().unwrap()]).unwrap();
        c.allow(&format!("{n}:*")).unwrap();
        c.allow_private(n).unwrap();
    }
    c
}

fn plain_request(proxy: std::net::SocketAddr, raw: &[u8]) -> (String, Vec<u8>) {
    let mut s = connect(proxy);
    s.write_all(raw).unwrap();
    read_http_message(&mut s).expect("response")
}

#[test]
fn plain_http_relays_large_bodies_byte_exact() {
    let up = Upstream::http();
    let (_p, proxy, events) = start_tcp(config_for(&["up.test"]));
    let payload = random_bytes(3 * 1024 * 1024 + 17, 1);
    let mut s = connect(proxy);
    write!(
        s,
        "POST http://up.test:{}/echo?x=1 HTTP/1.1\r\nHost: up.test:{}\r\nContent-Length: {}\r\n\
         Proxy-Authorization: Basic c2VjcmV0\r\nConnection: close\r\n\r\n",
        up.port(),
        up.port(),
        payload.len()
    )
    .unwrap();
    s.write_all(&payload).unwrap();
    let (head, body) = read_http_message(&mut s).expect("response");
    assert_eq!(status(&head), 200, "{head}");
    assert_eq!(header(&head, "x-seen-method").as_deref(), Some("POST"));
    assert_eq!(
        header(&head, "x-seen-path").as_deref(),
        Some("/echo?x=1"),
        "origin-form upstream"
    );
    assert!(body == payload, "body differs after round trip");
    let ev = events.wait_for(1);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0].protocol, Protocol::Http);
    assert_eq!(ev[0].host, "up.test");
    assert_eq!(ev[0].port, up.port());
    assert_eq!(ev[0].method.as_deref(), Some("POST"));
    assert!(ev[0].allowed);
    assert_eq!(ev[0].rule, format!("allow:up.test:*"));
    assert_eq!(ev[0].resolved, Some(LOCAL.parse::<IpAddr>().unwrap()));
}

#[test]
fn connect_tunnel_relays_large_payload_byte_exact() {
    let up = Upstream::echo();
    let (_p, proxy, events) = start_tcp(config_for(&["echo.test"]));
    let mut s = connect(proxy);
    let (head, _) = http_connect(&mut s, &format!("echo.test:{}", up.port()));
    assert_eq!(status(&head), 200, "{head}");
    let payload = random_bytes(8 * 1024 * 1024 + 3, 2);
    let back = echo_roundtrip(&s, &payload);
    assert_eq!(back.len(), payload.len());
    assert!(back == payload, "tunnel corrupted data");
    let ev = events.wait_for(1);
    assert_eq!(ev[0].protocol, Protocol::Connect);
    assert!(ev[0].allowed && ev[0].method.is_none());
}

#[test]
fn socks5_relays_large_payload_byte_exact_for_all_address_types() {
    let up = Upstream::echo();
    let mut cfg = config_for(&["socks.test"]);
    cfg.allow(&format!("127.0.0.1:{}", up.port())).unwrap();
    cfg.allow_private("127.0.0.1").unwrap();
    let (_p, proxy, events) = start_tcp(cfg);

    let mut s = connect(proxy);
    assert_eq!(socks_connect_domain(&mut s, "socks.test", up.port()), 0);
    let payload = random_bytes(8 * 1024 * 1024 + 5, 3);
    assert!(
        echo_roundtrip(&s, &payload) == payload,
        "SOCKS5 tunnel corrupted data"
    );

    let mut s = connect(proxy);
    let mut req = vec![5, 1, 0, 1, 127, 0, 0, 1];
    req.extend_from_slice(&up.port().to_be_bytes());
    assert_eq!(socks_connect_raw(&mut s, &req), 0, "IPv4 address type");
    let small = random_bytes(100_000, 4);
    assert!(echo_roundtrip(&s, &small) == small);

    // IPv6 ::ffff:127.0.0.1 is folded to 127.0.0.1 and judged by the same rules.
    let mut s = connect(proxy);
    let mut req = vec![5, 1, 0, 4];
    req.extend_from_slice(
        &"::ffff:127.0.0.1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    req.extend_from_slice(&up.port().to_be_bytes());
    assert_eq!(socks_connect_raw(&mut s, &req), 0, "IPv6 address type");
    assert!(echo_roundtrip(&s, &small) == small);

    let ev = events.wait_for(3);
    assert!(
        ev.iter()
            .all(|e| e.allowed && e.protocol == Protocol::Socks5),
        "{ev:?}"
    );
    assert_eq!(ev[1].host, "127.0.0.1");
}

#[test]
fn denied_hosts_get_403_or_socks_0x02_and_upstream_sees_nothing() {
    let up = Upstream::echo();
    let mut cfg = ProxyConfig::new();
    cfg.resolve_override("denied.test", vec![LOCAL.parse().unwrap()])
        .unwrap();
    cfg.allow_private("denied.test").unwrap(); // even with the guard lifted, no allow = no way
    let (_p, proxy, events) = start_tcp(cfg);
    let target = format!("denied.test:{}", up.port());

    let mut s = connect(proxy);
    let (head, body) = http_connect(&mut s, &target);
    assert_eq!(status(&head), 403, "{head}");
    assert_eq!(
        header(&head, "x-warden-deny").as_deref(),
        Some("default-deny")
    );
    assert!(String::from_utf8_lossy(&body).contains("default-deny"));

    let (head, body) = plain_request(
        proxy,
        format!("GET http://{target}/ HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes(),
    );
    assert_eq!(status(&head), 403);
    assert!(String::from_utf8_lossy(&body).contains("rule `default-deny`"));

    let mut s = connect(proxy);
    assert_eq!(socks_connect_domain(&mut s, "denied.test", up.port()), 0x02);

    let ev = events.wait_for(3);
    assert_eq!(ev.len(), 3);
    assert!(
        ev.iter()
            .all(|e| !e.allowed && e.rule == "default-deny" && e.resolved.is_none())
    );
    assert_eq!(
        up.settled_count(0),
        0,
        "a refused request must not reach the upstream"
    );
}

#[test]
fn deny_beats_allow_and_normalisation_cannot_dodge_it() {
    let up = Upstream::echo();
    let mut cfg = config_for(&["bad.corp.test", "ok.corp.test"]);
    cfg.allow("**.corp.test:*").unwrap();
    cfg.deny("bad.corp.test:*").unwrap();
    let (_p, proxy, events) = start_tcp(cfg);

    for spelling in ["bad.corp.test", "BAD.Corp.Test", "bad.corp.test."] {
        let mut s = connect(proxy);
        let (head, _) = http_connect(&mut s, &format!("{spelling}:{}", up.port()));
        assert_eq!(status(&head), 403, "{spelling}: {head}");
        assert_eq!(
            header(&head, "x-warden-deny").as_deref(),
            Some("deny:bad.corp.test:*")
        );
        let mut s = connect(proxy);
        assert_eq!(
            socks_connect_domain(&mut s, spelling, up.port()),
            2,
            "{spelling}"
        );
    }
    assert_eq!(up.settled_count(0), 0);
    let mut s = connect(proxy);
    let (head, _) = http_connect(&mut s, &format!("ok.corp.test:{}", up.port()));
    assert_eq!(status(&head), 200);
    drop(s);
    assert_eq!(events.wait_for(7).iter().filter(|e| e.allowed).count(), 1);
}

#[test]
fn private_addresses_are_refused_unless_explicitly_allowed() {
    let up = Upstream::echo();
    let port = up.port();
    // Everything is allowed by policy, but nothing is exempt from the private-address guard.
    let mut cfg = ProxyConfig::new();
    cfg.allow("*:*").unwrap();
    cfg.resolve_override("rebind.test", vec![LOCAL.parse().unwrap()])
        .unwrap();
    cfg.resolve_override("meta.test", vec!["169.254.169.254".parse().unwrap()])
        .unwrap();
    let (_p, proxy, events) = start_tcp(cfg);

    // Names that resolve to loopback (system resolver and override), IP literals in several
    // spellings, and the decimal-integer trick that some resolvers turn into 127.0.0.1.
    for target in [
        format!("localhost:{port}"),
        format!("rebind.test:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::ffff:127.0.0.1]:{port}"),
        format!("[::1]:{port}"),
        format!("2130706433:{port}"),
        format!("meta.test:{port}"),
        format!("0.0.0.0:{port}"),
    ] {
        let mut s = connect(proxy);
        let (head, body) = http_connect(&mut s, &target);
        let code = status(&head);
        // 403 from the guard; `2130706433` may instead fail to resolve (502) on some resolvers.
        assert!(
            code == 403 || (code == 502 && target.starts_with("2130706433")),
            "{target}: {head}"
        );
        if code == 403 {
            assert_eq!(
                header(&head, "x-warden-deny").as_deref(),
                Some("private-address"),
                "{target}"
            );
            assert!(String::from_utf8_lossy(&body).contains("allow_private"));
        }
    }
    let mut s = connect(proxy);
    assert_eq!(socks_connect_domain(&mut s, "localhost", port), 2);
    assert_eq!(
        up.settled_count(0),
        0,
        "the guard must refuse before connecting"
    );
    let ev = events.wait_for(9);
    let meta = ev.iter().find(|e| e.host == "meta.test").unwrap();
    assert_eq!(meta.resolved, Some("169.254.169.254".parse().unwrap()));
    assert!(meta.reason.contains("metadata"), "{}", meta.reason);

    // The explicit exception admits exactly what it names.
    let mut cfg = ProxyConfig::new();
    cfg.allow("*:*").unwrap();
    cfg.allow_private("localhost").unwrap();
    cfg.allow_private("127.0.0.1").unwrap();
    let (_p2, proxy2, _) = start_tcp(cfg);
    for target in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let mut s = connect(proxy2);
        let (head, _) = http_connect(&mut s, &target);
        // `localhost` may resolve to ::1 first; the exception covers the name, so either works.
        assert_eq!(status(&head), 200, "{target}: {head}");
    }
    let mut s = connect(proxy2);
    let (head, _) = http_connect(&mut s, &format!("[::ffff:127.0.0.2]:{port}"));
    assert_eq!(status(&head), 403, "127.0.0.2 is not exempt: {head}");
}

#[test]
fn mixed_resolution_connects_only_to_the_checked_address() {
    // Two loopback listeners on the same port: 127.0.0.2 is a trap (not exempt from the
    // guard, listed first by the resolver), 127.0.0.1 is exempt.
    let up = Upstream::echo();
    let trap = Upstream::echo_on((std::net::Ipv4Addr::new(127, 0, 0, 2), up.port()).into());
    let mut cfg = ProxyConfig::new();
    cfg.allow("mixed.test:*").unwrap();
    cfg.allow_private("127.0.0.1/32").unwrap();
    cfg.resolve_override(
        "mixed.test",
        vec![
            "127.0.0.2".parse().unwrap(),
            "::1".parse().unwrap(),
            LOCAL.parse().unwrap(),
        ],
    )
    .unwrap();
    let (_p, proxy, events) = start_tcp(cfg);
    let mut s = connect(proxy);
    let (head, _) = http_connect(&mut s, &format!("mixed.test:{}", up.port()));
    assert_eq!(status(&head), 200, "{head}");
    let payload = random_bytes(10_000, 9);
    assert!(echo_roundtrip(&s, &payload) == payload);
    let ev = events.wait_for(1);
    assert_eq!(
        ev[0].resolved,
        Some(LOCAL.parse().unwrap()),
        "only the exempt address is used"
    );
    assert_eq!(
        trap.settled_count(0),
        0,
        "the non-exempt address was never contacted"
    );
    assert_eq!(up.settled_count(1), 1);
}

#[test]
fn subdomain_wildcard_excludes_apex_end_to_end() {
    let up = Upstream::echo();
    let mut cfg = ProxyConfig::new();
    for n in ["example.test", "a.example.test", "b.a.example.test"] {
        cfg.resolve_override(n, vec![LOCAL.parse().unwrap()])
            .unwrap();
    }
    cfg.allow("*.example.test:*").unwrap();
    cfg.allow_private("**.example.test").unwrap();
    let (_p, proxy, _) = start_tcp(cfg);
    for (host, want) in [
        ("a.example.test", 200),
        ("b.a.example.test", 200),
        ("example.test", 403),
    ] {
        let mut s = connect(proxy);
        let (head, _) = http_connect(&mut s, &format!("{host}:{}", up.port()));
        assert_eq!(status(&head), want, "{host}: {head}");
    }
    assert_eq!(up.settled_count(2), 2);
}

#[test]
fn method_restrictions_apply_to_plain_http_and_block_tunnels() {
    let up = Upstream::http();
    let mut cfg = ProxyConfig::new();
    cfg.resolve_override("ro.test", vec![LOCAL.parse().unwrap()])
        .unwrap();
    cfg.allow_private("ro.test").unwrap();
    cfg.push(
        Rule::new(RuleAction::Allow, "ro.test:*", "read-only", "test")
            .unwrap()
            .with_methods(&["GET", "HEAD"])
            .unwrap(),
    );
    let (_p, proxy, events) = start_tcp(cfg);
    let t = format!("ro.test:{}", up.port());
    let (head, _) = plain_request(
        proxy,
        format!("GET http://{t}/a HTTP/1.1\r\nHost: {t}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(status(&head), 200);
    let (head, body) = plain_request(
        proxy,
        format!("POST http://{t}/a HTTP/1.1\r\nHost: {t}\r\nContent-Length: 2\r\n\r\nhi")
            .as_bytes(),
    );
    assert_eq!(status(&head), 403);
    assert_eq!(header(&head, "x-warden-deny").as_deref(), Some("read-only"));
    assert!(String::from_utf8_lossy(&body).contains("GET, HEAD"));
    let mut s = connect(proxy);
    let (head, _) = http_connect(&mut s, &t);
    assert_eq!(status(&head), 403, "a tunnel hides the method: {head}");
    assert_eq!(up.settled_count(1), 1, "only the GET reached the upstream");
    let ev = events.wait_for(3);
    assert_eq!(ev[1].method.as_deref(), Some("POST"));
    assert!(!ev[1].allowed);
}

#[test]
fn every_request_on_a_keep_alive_connection_is_judged() {
    let up = Upstream::http();
    let mut cfg = config_for(&["good.test"]);
    cfg.resolve_override("evil.test", vec![LOCAL.parse().unwrap()])
        .unwrap();
    cfg.allow_private("evil.test").unwrap();
    let (_p, proxy, _) = start_tcp(cfg);
    let mut s = connect(proxy);
    let port = up.port();
    write!(
        s,
        "GET http://good.test:{port}/1 HTTP/1.1\r\nHost: good.test\r\n\r\n"
    )
    .unwrap();
    let (head, _) = read_http_message(&mut s).unwrap();
    assert_eq!(status(&head), 200);
    write!(
        s,
        "GET http://evil.test:{port}/2 HTTP/1.1\r\nHost: good.test\r\n\r\n"
    )
    .unwrap();
    let (head, _) = read_http_message(&mut s).unwrap();
    assert_eq!(
        status(&head),
        403,
        "second request on the same connection: {head}"
    );
    assert_eq!(up.settled_count(1), 1);
}

#[test]
fn host_header_cannot_redirect_a_plain_request() {
    let up = Upstream::http();
    let (_p, proxy, _) = start_tcp(config_for(&["good.test"]));
    let port = up.port();
    let (head, _) = plain_request(
        proxy,
        format!(
            "GET http://good.test:{port}/ HTTP/1.1\r\nHost: evil.test\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(status(&head), 200);
    assert_eq!(
        header(&head, "x-seen-host"),
        Some(format!("good.test:{port}"))
    );
}

#[test]
fn unresolvable_host_fails_cleanly_without_hanging() {
    let mut cfg = ProxyConfig::new();
    cfg.allow("nowhere.invalid:*").unwrap();
    cfg.limits.resolve_timeout = Duration::from_secs(3);
    let (_p, proxy, events) = start_tcp(cfg);
    let started = Instant::now();
    let mut s = connect(proxy);
    let (head, body) = http_connect(&mut s, "nowhere.invalid:443");
    assert_eq!(status(&head), 502, "{head}");
    assert_eq!(
        header(&head, "x-warden-error").as_deref(),
        Some("resolve-failed")
    );
    assert!(String::from_utf8_lossy(&body).contains("nowhere.invalid"));
    let mut s = connect(proxy);
    assert_eq!(socks_connect_domain(&mut s, "nowhere.invalid", 443), 0x04);
    assert!(started.elapsed() < Duration::from_secs(8), "must not hang");
    let ev = events.wait_for(2);
    assert!(ev.iter().all(|e| !e.allowed && e.rule == "resolve-failed"));
}

#[test]
fn malformed_and_unsupported_requests_are_refused() {
    let up = Upstream::echo();
    let (_p, proxy, _) = start_tcp(config_for(&["ok.test"]));
    // Origin-form request: not a proxy request.
    let (head, _) = plain_request(proxy, b"GET / HTTP/1.1\r\nHost: ok.test\r\n\r\n");
    assert_eq!(status(&head), 400);
    // https:// in plain text is not forwarded.
    let (head, _) = plain_request(
        proxy,
        b"GET https://ok.test/ HTTP/1.1\r\nHost: ok.test\r\n\r\n",
    );
    assert_eq!(status(&head), 400);
    // CONNECT without a port.
    let mut s = connect(proxy);
    let (head, _) = http_connect(&mut s, "ok.test");
    assert_eq!(status(&head), 400, "{head}");
    // SOCKS5: BIND is refused with 0x07; a user/password-only greeting gets 0xFF.
    let mut s = connect(proxy);
    s.write_all(&[5, 1, 0]).unwrap();
    let mut g = [0u8; 2];
    s.read_exact(&mut g).unwrap();
    let mut req = vec![5, 2, 0, 3, 7];
    req.extend_from_slice(b"ok.test");
    req.extend_from_slice(&up.port().to_be_bytes());
    s.write_all(&req).unwrap();
    let mut r = [0u8; 10];
    s.read_exact(&mut r).unwrap();
    assert_eq!(r[1], 0x07);
    let mut s = connect(proxy);
    s.write_all(&[5, 1, 2]).unwrap();
    s.read_exact(&mut g).unwrap();
    assert_eq!(g, [5, 0xff]);
    // A name with a NUL byte inside never reaches the resolver.
    let mut s = connect(proxy);
    assert_eq!(socks_connect_domain(&mut s, "ok.test\0.evil", up.port()), 2);
    assert_eq!(up.settled_count(0), 0);
}

#[test]
fn unix_socket_listener_serves_both_protocols() {
    let up = Upstream::echo();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("proxy.sock");
    let events = Events::default();
    let h = warden_proxy::spawn(
        warden_proxy::Listen::Unix(path.clone()),
        config_for(&["unix.test"]),
        events.sink(),
    )
    .unwrap();
    let mut s = std::os::unix::net::UnixStream::connect(&path).unwrap();
    let (head, _) = http_connect(&mut s, &format!("unix.test:{}", up.port()));
    assert_eq!(status(&head), 200);
    s.write_all(b"over unix").unwrap();
    let mut buf = [0u8; 9];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"over unix");

    let mut s = std::os::unix::net::UnixStream::connect(&path).unwrap();
    assert_eq!(socks_connect_domain(&mut s, "unix.test", up.port()), 0);
    s.write_all(b"socks!").unwrap();
    let mut buf = [0u8; 6];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"socks!");
    assert_eq!(events.wait_for(2).len(), 2);

    h.shutdown();
    assert!(!path.exists(), "socket file removed on shutdown");
    assert!(std::os::unix::net::UnixStream::connect(&path).is_err());
}

#[test]
fn unix_listener_refuses_to_replace_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-socket");
    std::fs::write(&path, b"keep me").unwrap();
    let err = warden_proxy::spawn(
        warden_proxy::Listen::Unix(path.clone()),
        ProxyConfig::new(),
        Events::default().sink(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not-a-socket"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"keep me");
}

#[test]
fn shutdown_stops_listening() {
    let (h, addr, _) = start_tcp(ProxyConfig::new());
    h.shutdown();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "port closed after shutdown"
    );
}

#[test]
fn userinfo_in_the_target_cannot_smuggle_a_host() {
    let up = Upstream::http();
    let mut cfg = config_for(&["good.test"]);
    cfg.resolve_override("evil.test", vec![LOCAL.parse().unwrap()])
        .unwrap();
    cfg.allow_private("evil.test").unwrap();
    let (_p, proxy, events) = start_tcp(cfg);
    let port = up.port();
    // The host is what follows the last `@`: policy and connection agree on it.
    let (head, _) = plain_request(
        proxy,
        format!("GET http://evil.test@good.test:{port}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(status(&head), 200, "{head}");
    assert_eq!(
        header(&head, "x-seen-host"),
        Some(format!("good.test:{port}"))
    );
    let (head, _) = plain_request(
        proxy,
        format!("GET http://good.test:{port}@evil.test:{port}/ HTTP/1.1\r\nHost: x\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(status(&head), 403, "{head}");
    let mut s = connect(proxy);
    let (head, _) = http_connect(&mut s, &format!("good.test:{port}@evil.test:{port}"));
    assert!(matches!(status(&head), 400 | 403), "{head}");
    assert_eq!(up.settled_count(1), 1);
    let ev = events.wait_for(3);
    assert!(
        ev.iter()
            .filter(|e| e.allowed)
            .all(|e| e.host == "good.test"),
        "{ev:?}"
    );
}
