//! Fetching of `href` inputs, safe against server-side request forgery.
//!
//! Only http and https. Every address a name resolves to, and every IP in a
//! URL, must be public unless an operator-allowed network contains it:
//! loopback, private, link-local (cloud metadata lives there), carrier-grade
//! NAT, multicast and unspecified addresses are refused, and so are IPv6
//! addresses that the network turns into such an IPv4 address (mapped,
//! IPv4-compatible, NAT64, 6to4). Redirects are followed by hand so each hop
//! is checked again. Size and time are capped.

use crate::config::FetchConfig;
use crate::error::{Error, Result};
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

const MAX_REDIRECTS: usize = 5;

/// A fetched document.
pub struct Fetched {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Its media type, from `Content-Type`.
    pub media_type: Option<String>,
}

/// Fetches hrefs under the configured rules.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: Arc<Policy>,
    max_bytes: u64,
}

struct Policy {
    allow: Vec<IpNet>,
}

impl Policy {
    fn permits(&self, ip: IpAddr) -> bool {
        let admits = |ip: IpAddr| is_public(ip) || self.allow.iter().any(|net| net.contains(&ip));
        let IpAddr::V6(v6) = ip else {
            return admits(ip);
        };
        match embedded_ipv4(v6) {
            // Sockets reach these as the IPv4 address itself.
            Some(Embedded::Is(v4)) => admits(IpAddr::V4(v4)),
            // A translator on the path reaches the IPv4 address: both must pass.
            Some(Embedded::Translated(v4)) => admits(IpAddr::V4(v4)) && admits(ip),
            None => admits(ip),
        }
    }
}

/// An IPv4 address carried in an IPv6 one.
enum Embedded {
    /// IPv4-mapped (`::ffff:a.b.c.d`) or IPv4-compatible (`::a.b.c.d`,
    /// deprecated, but some stacks still send it over IPv4).
    Is(Ipv4Addr),
    /// NAT64 (`64:ff9b::/96`, RFC 6052) or 6to4 (`2002:a.b.c.d::/48`,
    /// RFC 3056): a gateway on the way connects to the IPv4 address. On an
    /// IPv6-only network with NAT64 (common in clouds) `64:ff9b::10.0.0.1`
    /// is a private host.
    Translated(Ipv4Addr),
}

fn embedded_ipv4(v6: Ipv6Addr) -> Option<Embedded> {
    let s = v6.segments();
    let last = |hi: u16, lo: u16| Ipv4Addr::from(((hi as u32) << 16) | lo as u32);
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(Embedded::Is(v4));
    }
    if s[..6] == [0; 6] && !(v6.is_loopback() || v6.is_unspecified()) {
        return Some(Embedded::Is(last(s[6], s[7])));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(Embedded::Translated(last(s[6], s[7])));
    }
    if s[0] == 0x2002 {
        return Some(Embedded::Translated(last(s[1], s[2])));
    }
    None
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                // Site-local, deprecated but routed by some networks.
                || (s[0] & 0xffc0) == 0xfec0
                // Discard-only.
                || s[..4] == [0x100, 0, 0, 0]
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                // Local-use NAT64 (RFC 8215): where the IPv4 address sits
                // depends on the operator's prefix length.
                || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1)
                // Teredo tunnels to an IPv4 address hidden in the rest.
                || (s[0] == 0x2001 && s[1] == 0))
        }
    }
}

/// Resolves names and drops every address the policy refuses, so the
/// connection can only go to a checked address.
struct CheckedResolver(Arc<Policy>);

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| policy.permits(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(
                    format!("{host} resolves only to addresses that may not be fetched").into(),
                );
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl Fetcher {
    /// A fetcher with `config`'s rules.
    pub fn new(config: &FetchConfig) -> Result<Self> {
        let allow = config
            .allow
            .iter()
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Internal(format!("fetch.allow: {e}")))?;
        let policy = Arc::new(Policy { allow });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(CheckedResolver(policy.clone())))
            .timeout(Duration::from_secs(config.timeout_seconds))
            .no_proxy()
            .build()
            .map_err(|e| Error::Internal(e.to_string()))?;
        Ok(Fetcher {
            client,
            policy,
            max_bytes: config.max_bytes,
        })
    }

    /// Whether a connection to `ip` may be made: public, or inside a
    /// network the operator allowed (IPv6 forms of IPv4 addresses judged by
    /// the IPv4 address they reach).
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.policy.permits(ip)
    }

    /// Checks `href` as [`Fetcher::fetch`] does before it connects: parsed,
    /// http or https, and an IP address in it permitted. Names are checked
    /// only when resolved, on fetching.
    pub fn check_href(&self, href: &str) -> Result<()> {
        let url = reqwest::Url::parse(href)
            .map_err(|e| Error::InvalidParameter(format!("href '{href}': {e}")))?;
        self.check_url(&url)
    }

    fn check_url(&self, url: &reqwest::Url) -> Result<()> {
        let refuse = |why: &str| Err(Error::InvalidParameter(format!("href '{url}' {why}")));
        if !matches!(url.scheme(), "http" | "https") {
            return refuse("is not http or https");
        }
        match url.host() {
            None => refuse("has no host"),
            Some(url::Host::Ipv4(ip)) if !self.policy.permits(IpAddr::V4(ip)) => {
                refuse("points to an address that may not be fetched")
            }
            Some(url::Host::Ipv6(ip)) if !self.policy.permits(IpAddr::V6(ip)) => {
                refuse("points to an address that may not be fetched")
            }
            _ => Ok(()),
        }
    }

    /// Fetches `href`, following up to five redirects, each checked.
    pub async fn fetch(&self, href: &str) -> Result<Fetched> {
        let mut url = reqwest::Url::parse(href)
            .map_err(|e| Error::InvalidParameter(format!("href '{href}': {e}")))?;
        for _ in 0..=MAX_REDIRECTS {
            self.check_url(&url)?;
            let failed = |e: reqwest::Error| {
                Error::InvalidParameter(format!("fetching '{href}' failed: {}", causes(&e)))
            };
            let mut response = self.client.get(url.clone()).send().await.map_err(failed)?;
            if response.status().is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or_else(|| {
                        Error::InvalidParameter(format!(
                            "fetching '{href}': redirect without Location"
                        ))
                    })?;
                url = url
                    .join(location)
                    .map_err(|e| Error::InvalidParameter(format!("bad redirect: {e}")))?;
                continue;
            }
            if !response.status().is_success() {
                return Err(Error::InvalidParameter(format!(
                    "fetching '{href}' gave HTTP {}",
                    response.status()
                )));
            }
            if response
                .content_length()
                .is_some_and(|n| n > self.max_bytes)
            {
                return Err(self.too_large(href));
            }
            let media_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let mut bytes = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(failed)? {
                if bytes.len() as u64 + chunk.len() as u64 > self.max_bytes {
                    return Err(self.too_large(href));
                }
                bytes.extend_from_slice(&chunk);
            }
            return Ok(Fetched { bytes, media_type });
        }
        Err(Error::InvalidParameter(format!(
            "fetching '{href}': more than {MAX_REDIRECTS} redirects"
        )))
    }

    /// POSTs `body` as JSON to `href` (a callback), under the same
    /// address rules as fetching. Redirects are not followed: a POST that
    /// moved is not delivered.
    pub async fn post_json(
        &self,
        href: &str,
        body: &serde_json::Value,
    ) -> std::result::Result<(), PostError> {
        let url =
            reqwest::Url::parse(href).map_err(|e| PostError::Refused(format!("'{href}': {e}")))?;
        self.check_url(&url)
            .map_err(|e| PostError::Refused(e.to_string()))?;
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| {
                let why = causes(&e);
                match why.contains("may not be fetched") {
                    true => PostError::Refused(format!("'{href}': {why}")),
                    false => PostError::Failed(format!("'{href}': {why}")),
                }
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let why = format!("'{href}' answered HTTP {status}");
        // Only these say that trying later may succeed.
        match status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
            true => Err(PostError::Failed(why)),
            false => Err(PostError::Refused(why)),
        }
    }

    fn too_large(&self, href: &str) -> Error {
        Error::InvalidParameter(format!(
            "'{href}' is larger than the limit of {} bytes",
            self.max_bytes
        ))
    }
}

/// Why [`Fetcher::post_json`] did not deliver.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// Never deliverable: a refused address or scheme, or a client error
    /// answer.
    #[error("{0}")]
    Refused(String),
    /// Perhaps deliverable later: no connection, a timeout, a server error.
    #[error("{0}")]
    Failed(String),
}

impl PostError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, PostError::Failed(_))
    }
}

/// `e` and what caused it: reqwest's own message names only the request,
/// while the reason (a refused address, a refused connection, a timeout)
/// is in its sources.
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetcher(allow: &[&str]) -> Fetcher {
        Fetcher::new(&FetchConfig {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            ..FetchConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn private_and_special_addresses_are_refused() {
        let f = fetcher(&[]);
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "198.18.0.1",
            "fec0::1",
            "100::1",
            // IPv6 forms that the network turns into private IPv4 ones.
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::10.1.2.3",
            "64:ff9b:1::a00:1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "2002:c0a8:101::",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        ] {
            assert!(
                !f.policy.permits(bad.parse().unwrap()),
                "{bad} must be refused"
            );
        }
        for good in [
            "93.184.216.34",
            "2a00:1450::1",
            "::ffff:93.184.216.34",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
        ] {
            assert!(f.policy.permits(good.parse().unwrap()), "{good}");
        }
    }

    #[test]
    fn the_allowlist_opens_a_network() {
        let f = fetcher(&["127.0.0.0/8"]);
        assert!(f.policy.permits("127.0.0.1".parse().unwrap()));
        assert!(!f.policy.permits("10.0.0.1".parse().unwrap()));
    }

    #[tokio::test]
    async fn urls_are_checked_before_connecting() {
        let f = fetcher(&[]);
        for bad in [
            "file:///etc/passwd",
            "http://127.0.0.1:1/x",
            "http://[::1]/",
            "http://[::127.0.0.1]:1/",
            "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
            "http://[2002:a9fe:a9fe::]/latest/meta-data",
            "http://169.254.169.254/latest/meta-data",
            "gopher://x",
        ] {
            assert!(
                matches!(f.fetch(bad).await, Err(Error::InvalidParameter(_))),
                "{bad}"
            );
        }
        // A name is refused for what it resolves to, and the message says so.
        let err = f.fetch("http://localhost:1/").await.err().unwrap();
        assert!(err.to_string().contains("may not be fetched"), "{err}");
    }
}
