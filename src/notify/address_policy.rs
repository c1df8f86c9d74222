//! Which network addresses webhook calls may reach: public addresses, and
//! the ranges listed in `webhooks.allow_addresses`. A target is checked
//! when its channel is registered and again at every call, after its name
//! is resolved ([`PolicyResolver`]), so a name that later resolves to an
//! internal address (DNS rebinding) is refused too.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use reqwest::{
    Url,
    dns::{Addrs, Name, Resolve, Resolving},
};

/// A target refused because an address it is or resolves to is not
/// allowed. Its text names no address: it ends up in `last_error`, which
/// read-scope tokens see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("refused: the target address is not allowed")]
pub struct AddressRefused;

/// IPv4 ranges that are not public: "this network" (0.0.0.0 included),
/// private (RFC 1918), shared/CGNAT, loopback, link-local (169.254.169.254,
/// the cloud metadata service, included), IETF protocol assignments,
/// documentation, the 6to4 relay, benchmarking, multicast, and the reserved
/// 240/4 (255.255.255.255, broadcast, included).
const REFUSED_V4: [Ipv4Net; 15] = [
    Ipv4Net::new_assert(Ipv4Addr::new(0, 0, 0, 0), 8),
    Ipv4Net::new_assert(Ipv4Addr::new(10, 0, 0, 0), 8),
    Ipv4Net::new_assert(Ipv4Addr::new(100, 64, 0, 0), 10),
    Ipv4Net::new_assert(Ipv4Addr::new(127, 0, 0, 0), 8),
    Ipv4Net::new_assert(Ipv4Addr::new(169, 254, 0, 0), 16),
    Ipv4Net::new_assert(Ipv4Addr::new(172, 16, 0, 0), 12),
    Ipv4Net::new_assert(Ipv4Addr::new(192, 0, 0, 0), 24),
    Ipv4Net::new_assert(Ipv4Addr::new(192, 0, 2, 0), 24),
    Ipv4Net::new_assert(Ipv4Addr::new(192, 88, 99, 0), 24),
    Ipv4Net::new_assert(Ipv4Addr::new(192, 168, 0, 0), 16),
    Ipv4Net::new_assert(Ipv4Addr::new(198, 18, 0, 0), 15),
    Ipv4Net::new_assert(Ipv4Addr::new(198, 51, 100, 0), 24),
    Ipv4Net::new_assert(Ipv4Addr::new(203, 0, 113, 0), 24),
    Ipv4Net::new_assert(Ipv4Addr::new(224, 0, 0, 0), 4),
    Ipv4Net::new_assert(Ipv4Addr::new(240, 0, 0, 0), 4),
];

/// The IPv6 global unicast space; everything outside it (loopback,
/// unspecified, unique-local fc00::/7, link-local fe80::/10, multicast
/// ff00::/8, discard-only 100::/64 …) is refused, except the forms that
/// carry an IPv4 address, which are judged by that address.
const GLOBAL_V6: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);

/// Ranges inside the global unicast space that are not public: Teredo
/// (an obfuscated IPv4 address), benchmarking, documentation (2001:db8::/32
/// and 3fff::/20).
const REFUSED_V6: [Ipv6Net; 4] = [
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32),
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0), 48),
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
    Ipv6Net::new_assert(Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),
];

/// NAT64's well-known prefix: the last 32 bits are an IPv4 address.
const NAT64: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96);
/// 6to4: bits 16 to 48 are an IPv4 address.
const SIX_TO_FOUR: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16);

/// How long registration waits for a name to resolve.
pub const REGISTRATION_RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

/// Public addresses, plus the configured exceptions.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    allow: Arc<[IpNet]>,
}

impl AddressPolicy {
    /// Public addresses and those inside `allow`.
    pub fn new(allow: &[IpNet]) -> Self {
        Self {
            allow: allow.into(),
        }
    }

    /// May a webhook call reach `ip`? An IPv4-mapped IPv6 address
    /// (`::ffff:127.0.0.1`) is judged as the IPv4 address it is.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.allow.iter().any(|net| net.contains(&ip)) || is_public(ip)
    }

    /// Every address allowed, or [`AddressRefused`].
    pub fn check_all(&self, ips: impl IntoIterator<Item = IpAddr>) -> Result<(), AddressRefused> {
        if ips.into_iter().all(|ip| self.allows(ip)) {
            Ok(())
        } else {
            Err(AddressRefused)
        }
    }

    /// The check made on a URL whose host is an address literal
    /// (`http://10.0.0.1/`, `http://[::1]/`, and `http://2130706433/`, which
    /// the URL parser has already turned into 127.0.0.1): the resolver is
    /// not asked for those, so this is their only check. Names pass here;
    /// the resolver checks what they resolve to.
    pub fn check_literal(&self, url: &Url) -> Result<(), AddressRefused> {
        match target_host(url) {
            Some(TargetHost::Address(ip)) => self.check_all([ip]),
            Some(TargetHost::Name(_)) => Ok(()),
            None => Err(AddressRefused),
        }
    }

    /// The check made when a channel is registered. An address literal is
    /// checked; a name is resolved (for at most `timeout`) and every
    /// address it resolves to must be allowed. A name that does not
    /// resolve now is accepted: it may be registered before its DNS
    /// record exists, and every call resolves and checks it again.
    pub async fn check_target(&self, url: &Url, timeout: Duration) -> Result<(), AddressRefused> {
        let Some(TargetHost::Name(name)) = target_host(url) else {
            return self.check_literal(url);
        };
        match tokio::time::timeout(timeout, resolve(name)).await {
            Ok(Ok(addrs)) => self.check_all(addrs.iter().map(SocketAddr::ip)),
            Ok(Err(_)) | Err(_) => Ok(()),
        }
    }
}

/// What a URL's host is.
enum TargetHost<'a> {
    Address(IpAddr),
    Name(&'a str),
}

/// The host of `url`. The URL parser has already turned every IPv4 form
/// (`2130706433`, `0x7f.1`) into dotted decimal and keeps IPv6 in
/// brackets, so a host that parses as an address is one.
fn target_host(url: &Url) -> Option<TargetHost<'_>> {
    let host = url.host_str()?;
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Some(match bare.parse::<IpAddr>() {
        Ok(ip) => TargetHost::Address(ip),
        Err(_) => TargetHost::Name(host),
    })
}

/// `localhost` and every name under `.localhost` (RFC 6761), whatever DNS
/// or `/etc/hosts` say of them.
fn is_localhost_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// The addresses of `name`: loopback for the localhost names, otherwise
/// the system resolver's answer.
async fn resolve(name: &str) -> std::io::Result<Vec<SocketAddr>> {
    if is_localhost_name(name) {
        return Ok(vec![
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            SocketAddr::from((Ipv6Addr::LOCALHOST, 0)),
        ]);
    }
    Ok(tokio::net::lookup_host((name, 0)).await?.collect())
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    !REFUSED_V4.iter().any(|net| net.contains(&ip))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    GLOBAL_V6.contains(&ip) && !REFUSED_V6.iter().any(|net| net.contains(&ip))
}

/// The IPv4 address carried by an IPv6 form that a host may route to it:
/// IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, which
/// also covers `::` and `::1` as 0.0.0.0 and 0.0.0.1, both refused),
/// NAT64 and 6to4.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let octets = ip.octets();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6].iter().all(|&x| x == 0) || NAT64.contains(&ip) {
        return Some(Ipv4Addr::new(
            octets[12], octets[13], octets[14], octets[15],
        ));
    }
    if SIX_TO_FOUR.contains(&ip) {
        return Some(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5]));
    }
    None
}

/// The resolver of the webhook client: the system resolver (the localhost
/// names answered as loopback), then the policy on every address, so a
/// connection is only ever opened to an allowed address.
#[derive(Debug, Clone)]
pub struct PolicyResolver {
    policy: AddressPolicy,
}

impl PolicyResolver {
    pub fn new(policy: AddressPolicy) -> Self {
        Self { policy }
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let name = name.as_str().to_string();
        Box::pin(async move {
            let addrs = resolve(&name).await?;
            policy.check_all(addrs.iter().map(SocketAddr::ip))?;
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(policy: &AddressPolicy, ip: &str) -> bool {
        policy.allows(ip.parse().expect("an address"))
    }

    #[test]
    fn only_public_addresses_by_default() {
        let policy = AddressPolicy::default();
        for ip in [
            "0.0.0.0",
            "10.0.0.1",
            "100.64.1.1",
            "127.0.0.1",
            "127.1.2.3",
            "169.254.169.254",
            "172.16.5.4",
            "172.31.255.255",
            "192.0.2.10",
            "192.168.1.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.1.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "2001:0:4136:e378::1",
            "100::1",
        ] {
            assert!(!allowed(&policy, ip), "{ip} must be refused");
        }
        for ip in [
            "1.1.1.1",
            "93.184.215.14",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:1.1.1.1",
            "64:ff9b::101:101",
            "2002:101:101::",
        ] {
            assert!(allowed(&policy, ip), "{ip} must be allowed");
        }
    }

    #[test]
    fn the_allowlist_opens_ranges_including_mapped_forms() {
        let policy = AddressPolicy::new(&[
            "127.0.0.0/8".parse().expect("a range"),
            "fd00::/8".parse().expect("a range"),
        ]);
        assert!(allowed(&policy, "127.0.0.1"));
        assert!(allowed(&policy, "::ffff:127.0.0.1"));
        assert!(allowed(&policy, "fd12::1"));
        assert!(!allowed(&policy, "::1"));
        assert!(!allowed(&policy, "10.0.0.1"));
    }

    #[test]
    fn literals_are_read_as_the_url_parser_normalises_them() {
        let policy = AddressPolicy::default();
        for url in [
            "http://2130706433/",
            "http://0x7f.1/",
            "http://127.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::1]:8080/",
            "http://0.0.0.0/",
            "http://127.0.0.1./",
            "http://0177.0.0.1/",
            "http://[0:0:0:0:0:ffff:7f00:1]/",
            "http://[::127.0.0.1]/",
        ] {
            let url = Url::parse(url).expect("a URL");
            assert_eq!(policy.check_literal(&url), Err(AddressRefused), "{url}");
        }
        let url = Url::parse("https://hooks.slack.com/services/x").expect("a URL");
        assert_eq!(policy.check_literal(&url), Ok(()));
    }

    #[tokio::test]
    async fn localhost_names_are_loopback_without_asking_dns() {
        let policy = AddressPolicy::default();
        for url in [
            "http://localhost/",
            "http://LOCALHOST./",
            "http://hooks.localhost:9000/x",
        ] {
            let url = Url::parse(url).expect("a URL");
            assert_eq!(
                policy
                    .check_target(&url, REGISTRATION_RESOLVE_TIMEOUT)
                    .await,
                Err(AddressRefused),
                "{url}"
            );
        }
    }
}
