//! The SSRF policy of the fetcher against a reference written from the
//! registries instead of from the code: IANA's special-purpose address
//! blocks (RFC 6890 and its updates) that are not globally reachable, and
//! the IPv6 forms that reach an IPv4 address (RFC 4291 mapped and
//! compatible, RFC 6052 NAT64, RFC 3056 6to4), for addresses and for URLs
//! alike, with and without an operator-allowed network.
//!
//! The first byte chooses the case; the rest are the address or the URL.

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;
use wades::config::FetchConfig;
use wades::fetch::Fetcher;

/// IPv4 blocks that are not public.
const V4_DENIED: &[&str] = &[
    "0.0.0.0/8",       // "this network"
    "10.0.0.0/8",      // private
    "100.64.0.0/10",   // carrier-grade NAT
    "127.0.0.0/8",     // loopback
    "169.254.0.0/16",  // link-local, cloud metadata
    "172.16.0.0/12",   // private
    "192.0.0.0/24",    // IETF protocol assignments
    "192.0.2.0/24",    // documentation
    "192.168.0.0/16",  // private
    "198.18.0.0/15",   // benchmarking
    "198.51.100.0/24", // documentation
    "203.0.113.0/24",  // documentation
    "224.0.0.0/4",     // multicast
    "240.0.0.0/4",     // reserved, and broadcast
];

/// IPv6 blocks that are not public (the IPv4-carrying ones are judged by
/// their IPv4 address instead).
const V6_DENIED: &[&str] = &[
    "::/128",         // unspecified
    "::1/128",        // loopback
    "100::/64",       // discard-only
    "2001::/32",      // Teredo
    "2001:db8::/32",  // documentation
    "64:ff9b:1::/48", // local-use NAT64
    "fc00::/7",       // unique local
    "fe80::/10",      // link-local
    "fec0::/10",      // site-local
    "ff00::/8",       // multicast
];

/// The network an operator allows in the cases that have one.
const ALLOWED: &str = "10.0.0.0/8";

fn nets(list: &[&str]) -> Vec<IpNet> {
    list.iter().map(|n| n.parse().unwrap()).collect()
}

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

/// The reference policy: may a connection to `ip` be made?
pub fn reference_permits(ip: IpAddr, allow: &[IpNet]) -> bool {
    static DENIED: OnceLock<Vec<IpNet>> = OnceLock::new();
    let denied = DENIED.get_or_init(|| [nets(V4_DENIED), nets(V6_DENIED)].concat());
    let admitted = |ip: IpAddr| {
        !denied.iter().any(|n| n.contains(&ip)) || allow.iter().any(|n| n.contains(&ip))
    };
    let IpAddr::V6(v6) = ip else {
        return admitted(ip);
    };
    let o = v6.octets();
    let v4 = |at: usize| IpAddr::V4(Ipv4Addr::new(o[at], o[at + 1], o[at + 2], o[at + 3]));
    if net("::ffff:0:0/96").contains(&ip) {
        admitted(v4(12))
    } else if net("::/96").contains(&ip)
        && ip != net("::/128").addr()
        && ip != net("::1/128").addr()
    {
        admitted(v4(12))
    } else if net("64:ff9b::/96").contains(&ip) {
        admitted(v4(12)) && admitted(ip)
    } else if net("2002::/16").contains(&ip) {
        admitted(v4(2)) && admitted(ip)
    } else {
        admitted(ip)
    }
}

fn fetchers() -> &'static [(Fetcher, Vec<IpNet>); 2] {
    static F: OnceLock<[(Fetcher, Vec<IpNet>); 2]> = OnceLock::new();
    F.get_or_init(|| {
        let make = |allow: &[&str]| {
            let config = FetchConfig {
                allow: allow.iter().map(|s| s.to_string()).collect(),
                ..FetchConfig::default()
            };
            (Fetcher::new(&config).expect("a fetcher"), nets(allow))
        };
        [make(&[]), make(&[ALLOWED])]
    })
}

/// IPv6 prefixes the fuzzer's IPv4 bytes are put behind, so that it meets
/// every form that carries an IPv4 address.
const PREFIXES: &[[u8; 12]] = &[
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff],
    [0; 12],
    [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0x64, 0xff, 0x9b, 0, 1, 0, 0, 0, 0, 0, 0],
    [0x20, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
];

/// Compares the fetcher with the reference on the case `data` makes.
pub fn check(data: &[u8]) {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let (fetcher, allow) = &fetchers()[usize::from(choice & 1)];
    let ip = match choice >> 1 {
        0 if rest.len() >= 4 => IpAddr::V4(Ipv4Addr::new(rest[0], rest[1], rest[2], rest[3])),
        1 if rest.len() >= 16 => {
            IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&rest[..16]).unwrap()))
        }
        // 6to4: 2002:AABB:CCDD::/48 and whatever follows.
        2 if rest.len() >= 4 => {
            let mut o = [0u8; 16];
            o[0] = 0x20;
            o[1] = 0x02;
            o[2..6].copy_from_slice(&rest[..4]);
            o[6..].iter_mut().zip(&rest[4..]).for_each(|(a, b)| *a = *b);
            IpAddr::V6(Ipv6Addr::from(o))
        }
        n @ 3..=7 if rest.len() >= 4 => {
            let mut o = [0u8; 16];
            o[..12].copy_from_slice(&PREFIXES[usize::from(n - 3)]);
            o[12..].copy_from_slice(&rest[..4]);
            IpAddr::V6(Ipv6Addr::from(o))
        }
        _ => return check_href(fetcher, allow, rest),
    };
    assert_eq!(
        fetcher.permits(ip),
        reference_permits(ip, allow),
        "the fetcher and the reference disagree on {ip} (allowed: {allow:?})"
    );
}

/// A URL: refused unless http(s) with a host, and an address in it must
/// be one the reference permits.
fn check_href(fetcher: &Fetcher, allow: &[IpNet], rest: &[u8]) {
    let Ok(href) = std::str::from_utf8(rest) else {
        return;
    };
    let expected = match url::Url::parse(href) {
        Err(_) => false,
        Ok(u) if !matches!(u.scheme(), "http" | "https") => false,
        Ok(u) => match u.host() {
            None => false,
            Some(url::Host::Domain(_)) => true,
            Some(url::Host::Ipv4(ip)) => reference_permits(IpAddr::V4(ip), allow),
            Some(url::Host::Ipv6(ip)) => reference_permits(IpAddr::V6(ip), allow),
        },
    };
    assert_eq!(
        fetcher.check_href(href).is_ok(),
        expected,
        "the fetcher and the reference disagree on {href:?} (allowed: {allow:?})"
    );
}
