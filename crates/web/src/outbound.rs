//! Requests the platform sends to addresses its users chose (identity providers, and later
//! client metadata documents), guarded against server-side request forgery: unless private
//! networks are allowed, only `https` to public addresses, checked on the addresses actually
//! connected to (so a DNS answer cannot point us at the loopback), and no redirects.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// What outbound requests may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboundPolicy {
    /// Allow `http://` and loopback, private and link-local addresses: for development, tests
    /// and identity providers inside the customer's own network. Off by default.
    pub allow_private_networks: bool,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum OutboundError {
    #[error("must use https://")]
    NotHttps,
    #[error("points to a private, loopback or link-local address, which is not allowed")]
    PrivateAddress,
}

/// An HTTP client for user-chosen URLs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OutboundClient {
    client: reqwest::Client,
    policy: OutboundPolicy,
}

impl OutboundClient {
    pub const TIMEOUT: Duration = Duration::from_secs(10);

    pub fn new(policy: OutboundPolicy) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("MCPlatform/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Self::TIMEOUT)
            .dns_resolver(Arc::new(GuardedResolver { policy }))
            .build()?;
        Ok(Self { client, policy })
    }

    pub fn policy(&self) -> OutboundPolicy {
        self.policy
    }

    /// Whether `url` may be requested at all; names are checked again when resolved.
    pub fn check_url(&self, url: &Url) -> Result<(), OutboundError> {
        if self.policy.allow_private_networks {
            return Ok(());
        }
        if url.scheme() != "https" {
            return Err(OutboundError::NotHttps);
        }
        let literal = match url.host() {
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(Host::Domain(name)) if name.eq_ignore_ascii_case("localhost") => {
                Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
            }
            _ => None,
        };
        match literal {
            Some(ip) if !is_public(ip) => Err(OutboundError::PrivateAddress),
            _ => Ok(()),
        }
    }

    /// The underlying client; check URLs with [`Self::check_url`] before sending.
    pub fn http(&self) -> &reqwest::Client {
        &self.client
    }
}

/// Resolves names with the system resolver and drops the addresses the policy forbids.
struct GuardedResolver {
    policy: OutboundPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.policy.allow_private_networks;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| allow_private || is_public(addr.ip()))
                .collect();
            if resolved.is_empty() {
                return Err(format!("{host}: {}", OutboundError::PrivateAddress).into());
            }
            let addrs: Addrs = Box::new(resolved.into_iter());
            Ok(addrs)
        })
    }
}

/// Whether an address is on the public internet (not loopback, private, link-local, shared,
/// multicast, documentation or otherwise reserved; RFC 6890 special-purpose registries).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(ip),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space, RFC 6598
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking, RFC 2544
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local, RFC 4193
        || (first & 0xffc0) == 0xfe80 // link-local
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || ip.segments()[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible, deprecated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "140.82.112.3", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn strict_policy_refuses_http_and_private_literals() {
        let client = OutboundClient::new(OutboundPolicy::default()).unwrap();
        let check = |url: &str| client.check_url(&url.parse().unwrap());
        assert_eq!(check("https://login.acme.com/"), Ok(()));
        assert_eq!(check("http://login.acme.com/"), Err(OutboundError::NotHttps));
        assert_eq!(check("https://127.0.0.1:8443/"), Err(OutboundError::PrivateAddress));
        assert_eq!(check("https://[::1]/"), Err(OutboundError::PrivateAddress));
        assert_eq!(check("https://LOCALHOST/"), Err(OutboundError::PrivateAddress));
        assert_eq!(check("https://169.254.169.254/latest"), Err(OutboundError::PrivateAddress));

        let open = OutboundClient::new(OutboundPolicy { allow_private_networks: true }).unwrap();
        assert_eq!(open.check_url(&"http://127.0.0.1:9000/".parse().unwrap()), Ok(()));
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused_on_connect() {
        let client = OutboundClient::new(OutboundPolicy::default()).unwrap();
        // Sent without `check_url`, so only the resolver stands in the way.
        let err = client.http().get("https://localhost:1/").send().await.unwrap_err();
        assert!(format!("{err:?}").contains("private"), "{err:?}");
    }
}
