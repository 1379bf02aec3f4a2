//! Classification of non-public IP addresses: the DNS-rebinding and metadata-service guard
//! refuses to connect to these unless the governance file lifts the guard explicitly.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not a public internet address, or `None` when it is public.
///
/// Covers loopback, RFC 1918 private, unique-local (`fc00::/7`), link-local, CGNAT
/// (`100.64.0.0/10`), unspecified / "this network", multicast, broadcast, reserved, the cloud
/// metadata services (`169.254.169.254`, `fd00:ec2::254`) and IPv6 forms that embed an IPv4
/// address (v4-mapped, v4-compatible, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`), which are judged
/// by the embedded address.
pub fn non_public_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) {
        return Some("cloud metadata service");
    }
    if o[0] == 127 {
        return Some("loopback");
    }
    if o[0] == 0 {
        return Some("unspecified (this network)");
    }
    if o[0] == 10 || (o[0] == 172 && (16..=31).contains(&o[1])) || (o[0] == 192 && o[1] == 168) {
        return Some("private (RFC 1918)");
    }
    if o[0] == 169 && o[1] == 254 {
        return Some("link-local");
    }
    if o[0] == 100 && (64..=127).contains(&o[1]) {
        return Some("carrier-grade NAT (RFC 6598)");
    }
    if o[0] == 192 && o[1] == 0 && o[2] == 0 {
        return Some("IETF protocol assignments");
    }
    if o[0] == 198 && (o[1] == 18 || o[1] == 19) {
        return Some("benchmarking (RFC 2544)");
    }
    if (224..=239).contains(&o[0]) {
        return Some("multicast");
    }
    if ip == Ipv4Addr::BROADCAST {
        return Some("broadcast");
    }
    if o[0] >= 240 {
        return Some("reserved");
    }
    None
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_reason(v4);
    }
    let seg = ip.segments();
    let bits = u128::from(ip);
    if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
        return Some("cloud metadata service");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    // IPv4-compatible (deprecated) ::a.b.c.d and NAT64 64:ff9b::/96 embed an IPv4 address.
    if bits >> 32 == 0 || bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
        let low = u32::try_from(bits & 0xffff_ffff).unwrap_or(u32::MAX);
        return v4_reason(Ipv4Addr::from(low));
    }
    if seg[0] == 0x2002 {
        let v4 = Ipv4Addr::from(((u32::from(seg[1])) << 16) | u32::from(seg[2]));
        if let Some(r) = v4_reason(v4) {
            return Some(r);
        }
    }
    if seg[0] & 0xfe00 == 0xfc00 {
        return Some("unique-local (fc00::/7)");
    }
    if seg[0] & 0xffc0 == 0xfe80 {
        return Some("link-local");
    }
    if seg[0] & 0xffc0 == 0xfec0 {
        return Some("site-local (deprecated)");
    }
    if seg[0] & 0xff00 == 0xff00 {
        return Some("multicast");
    }
    if seg[0] == 0x0100 && seg[1..4] == [0, 0, 0] {
        return Some("discard-only (100::/64)");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(s: &str) -> Option<&'static str> {
        non_public_reason(s.parse().unwrap())
    }

    #[test]
    fn refuses_every_non_public_class() {
        for a in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "fec0::1",
        ] {
            assert!(reason(a).is_some(), "{a} must be refused");
        }
        assert_eq!(reason("169.254.169.254"), Some("cloud metadata service"));
        assert_eq!(reason("fd00:ec2::254"), Some("cloud metadata service"));
    }

    #[test]
    fn accepts_public_addresses() {
        for a in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "192.169.0.1",
            "2001:4860::8888",
            "2606:4700::1111",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(reason(a), None, "{a} is public");
        }
    }
}
