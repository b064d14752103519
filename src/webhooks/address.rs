//! Where a delivery may go (server-side request forgery closed): `https` only, and only to
//! public addresses. A name is resolved by [`PublicResolver`], the client's own resolver,
//! so the addresses checked are the addresses connected to (a name that resolves to a
//! public address when checked and to 127.0.0.1 when used cannot pass); an address written
//! in the URL is checked by [`check_target`] before sending. Redirects are never followed.
//! GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE lifts all of it (development and tests).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::Url;
use reqwest::dns::{Name, Resolve, Resolving};
use url::Host;

/// Longest URL accepted.
pub const URL_MAX: usize = 2000;
/// How long a registration waits for the name to resolve.
const RESOLVE_AT_REGISTRATION: Duration = Duration::from_secs(3);

/// Whether an address is on the public internet: not loopback, private (RFC 1918),
/// carrier-grade NAT, link-local (cloud metadata at 169.254.169.254 included), unique-local,
/// multicast, unspecified, broadcast, documentation or reserved; IPv6 forms that carry an
/// IPv4 address are judged by it.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address inside them.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return is_public_v4(embedded_v4(s[1], s[2]));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local, fd00:ec2::254 (metadata) among them
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0) // Teredo
        || s[0..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible and the rest of ::/96
}

/// A registration's URL, checked: `Err` holds the reason (a 422 on `url`). A name is
/// resolved now too, and refused when it resolves to an address that is not public; one
/// that does not resolve yet is accepted (its deliveries fail until it does).
pub async fn check_registration(raw: &str, allow_private: bool) -> Result<String, String> {
    let url = check_shape(raw, allow_private)?;
    if !allow_private && let Some(Host::Domain(name)) = url.host() {
        let port = url.port_or_known_default().unwrap_or(443);
        if let Ok(Ok(addrs)) = tokio::time::timeout(RESOLVE_AT_REGISTRATION, tokio::net::lookup_host((name, port))).await {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
                return Err(format!("must resolve to public addresses; {name} resolves to {}", bad.ip()));
            }
        }
    }
    Ok(url.to_string())
}

/// What a registration checks without resolving a name: the URL's form, and an address
/// written in it.
pub fn check_shape(raw: &str, allow_private: bool) -> Result<Url, String> {
    let url = parse(raw, allow_private)?;
    check_target(&url, allow_private)?;
    Ok(url)
}

fn parse(raw: &str, allow_private: bool) -> Result<Url, String> {
    let raw = raw.trim();
    if raw.chars().count() > URL_MAX {
        return Err(format!("must be at most {URL_MAX} characters"));
    }
    let url = Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not hold a user name or password".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    if url.host().is_none() {
        return Err("must name a host".into());
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_private => Ok(url),
        _ => Err("must be an https URL".into()),
    }
}

/// What is checked before each delivery: the scheme, and an address written in the URL
/// (a name is checked by [`PublicResolver`] as it is resolved).
pub fn check_target(url: &Url, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    if url.scheme() != "https" {
        return Err("refused: not an https URL".into());
    }
    let ip = match url.host() {
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                return Err("refused: localhost is not a public address".into());
            }
            return Ok(());
        }
        None => return Err("refused: no host".into()),
    };
    if is_public(ip) { Ok(()) } else { Err(format!("refused: {ip} is not a public address")) }
}

/// The delivery client's resolver: a name resolving to any address that is not public is
/// refused, and the client connects only to the addresses checked here.
pub struct PublicResolver;

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let name = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
                return Err(format!("refused: {name} resolves to {}, not a public address", bad.ip()).into());
            }
            if addrs.is_empty() {
                return Err(format!("{name} resolves to no address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_link_local_and_metadata_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "fc00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "ff02::1",
        ] {
            assert!(!is_public(ip.parse().expect("an address")), "{ip} must not be public");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(ip.parse().expect("an address")), "{ip} is public");
        }
    }

    #[tokio::test]
    async fn http_loopback_metadata_private_and_localhost_urls_are_refused_without_the_setting() {
        for url in [
            "http://hooks.example.com/x",
            "https://127.0.0.1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.5/x",
            "https://[::1]/x",
            "https://localhost/x",
            "https://user:pass@hooks.example.com/x",
            "ftp://hooks.example.com/x",
        ] {
            assert!(check_registration(url, false).await.is_err(), "{url} must be refused");
        }
        assert!(check_registration("http://127.0.0.1:9/x", true).await.is_ok());
    }

    #[tokio::test]
    async fn the_resolver_refuses_a_name_that_resolves_to_loopback() {
        let name: Name = "localhost".parse().expect("a name");
        let refused = PublicResolver.resolve(name).await.err().expect("refused");
        assert!(refused.to_string().contains("not a public address"), "{refused}");
    }
}
