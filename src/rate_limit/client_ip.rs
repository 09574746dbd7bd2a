//! Which address a request comes from, for the per-address budget: the TCP peer, unless the peer
//! is a trusted proxy (`rate_limit.trusted_proxies`); then the nearest address in
//! `X-Forwarded-For` that is not itself a trusted proxy. Nothing a client sends is believed
//! otherwise: without trusted proxies the header is ignored.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;

/// The client's address given the TCP `peer`, the `X-Forwarded-For` header values in the order
/// received, and the trusted proxies.
///
/// The header is read from the right (the entry the nearest proxy appended) and each trusted
/// proxy's entry skipped; the first other address is the client. An entry that is not an
/// address stops the walk at the last trusted hop, and so does a header of only trusted hops.
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let peer = canonical(peer);
    if !is_trusted(&peer) {
        return peer;
    }
    let entries: Vec<&str> = forwarded_for.flat_map(|value| value.split(',')).collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(ip) = parse_entry(entry) else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:80`, `[::1]:80`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(canonical)
}

/// IPv4-mapped IPv6 addresses as IPv4, so one client is one key however it connected.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The key of the per-address budget: an IPv4 address as is, an IPv6 address by its /64 (one
/// subscriber usually holds a whole /64, so counting single addresses would be no limit).
pub fn budget_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn the_header_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let header = ["203.0.113.7"];
        assert_eq!(
            client_ip(ip("198.51.100.1"), header.into_iter(), &[]),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_ip(
                ip("198.51.100.1"),
                header.into_iter(),
                &nets(&["10.0.0.0/8"])
            ),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_ip(ip("10.1.2.3"), header.into_iter(), &nets(&["10.0.0.0/8"])),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn trusted_hops_are_skipped_from_the_right_and_spoofed_entries_on_the_left_ignored() {
        let trusted = nets(&["10.0.0.0/8", "192.0.2.1/32"]);
        // The client claimed 1.1.1.1; the first proxy saw 203.0.113.7; a second proxy (10.0.0.2)
        // appended its own peer.
        let header = ["1.1.1.1, 203.0.113.7", "10.0.0.2"];
        assert_eq!(
            client_ip(ip("192.0.2.1"), header.into_iter(), &trusted),
            ip("203.0.113.7")
        );
        // Only trusted hops: the leftmost one.
        assert_eq!(
            client_ip(ip("10.0.0.9"), ["10.0.0.5, 10.0.0.6"].into_iter(), &trusted),
            ip("10.0.0.5")
        );
        // Garbage stops the walk at the last trusted hop; ports are allowed.
        assert_eq!(
            client_ip(ip("10.0.0.9"), ["nonsense, 10.0.0.6"].into_iter(), &trusted),
            ip("10.0.0.6")
        );
        assert_eq!(
            client_ip(ip("10.0.0.9"), ["[2001:db8::1]:443"].into_iter(), &trusted),
            ip("2001:db8::1")
        );
        // No header: the proxy itself.
        assert_eq!(
            client_ip(ip("10.0.0.9"), std::iter::empty(), &trusted),
            ip("10.0.0.9")
        );
    }

    #[test]
    fn ipv6_clients_share_a_budget_per_64_and_mapped_ipv4_is_ipv4() {
        assert_eq!(budget_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(budget_key(ip("203.0.113.7")), ip("203.0.113.7"));
        assert_eq!(
            client_ip(ip("::ffff:203.0.113.7"), std::iter::empty(), &[]),
            ip("203.0.113.7")
        );
    }
}
