//! Requests the platform sends to addresses its users chose (identity providers, and later
//! client metadata documents), guarded against server-side request forgery. Unless private
//! networks are allowed: only `https`, only public addresses — checked on every request's URL
//! (IP literals never reach a resolver) and again on the addresses a name resolves to (so a DNS
//! answer cannot point us at the loopback) — no redirects, no proxy from the environment, and
//! bodies of at most [`OutboundClient::MAX_BODY_BYTES`].

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};
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

/// Why an outbound request got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url} {reason}")]
    Refused { url: String, reason: OutboundError },
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    #[error("malformed request or answer: {0}")]
    Malformed(String),
}

/// An HTTP client for user-chosen URLs. Cheap to clone. It is the `AsyncHttpClient` handed to
/// `openidconnect` and `oauth2`, so their requests (discovery, keys, tokens) pass the guard.
#[derive(Debug, Clone)]
pub struct OutboundClient {
    client: reqwest::Client,
    policy: OutboundPolicy,
}

impl OutboundClient {
    pub const TIMEOUT: Duration = Duration::from_secs(10);
    /// Metadata documents, key sets, token and userinfo answers are a few kilobytes.
    pub const MAX_BODY_BYTES: usize = 1024 * 1024;

    pub fn new(policy: OutboundPolicy) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("MCPlatform/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the target itself, out of the resolver's sight.
            .no_proxy()
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

    /// Sends `request` if the policy allows its URL, and reads at most
    /// [`Self::MAX_BODY_BYTES`] of the answer.
    pub async fn execute(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        self.execute_limited(request, Self::MAX_BODY_BYTES).await
    }

    /// Sends `request` if the policy allows its URL, and answers its status without reading
    /// the body (a webhook receiver's page is nobody's business).
    pub async fn status_of(&self, request: HttpRequest) -> Result<reqwest::StatusCode, FetchError> {
        Ok(self.send(request).await?.status())
    }

    async fn send(&self, request: HttpRequest) -> Result<reqwest::Response, FetchError> {
        let url = Url::parse(&request.uri().to_string())
            .map_err(|e| FetchError::Malformed(e.to_string()))?;
        self.check_url(&url)
            .map_err(|reason| FetchError::Refused { url: url.to_string(), reason })?;
        let request = reqwest::Request::try_from(request)?;
        Ok(self.client.execute(request).await?)
    }

    /// [`Self::execute`] reading at most `max_bytes` of the answer.
    pub async fn execute_limited(
        &self,
        request: HttpRequest,
        max_bytes: usize,
    ) -> Result<HttpResponse, FetchError> {
        let mut response = self.send(request).await?;
        if response.content_length().is_some_and(|len| len > max_bytes as u64) {
            return Err(FetchError::TooLarge(max_bytes));
        }
        let mut builder = axum::http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > max_bytes {
                return Err(FetchError::TooLarge(max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        builder.body(body).map_err(|e| FetchError::Malformed(e.to_string()))
    }
}

impl<'c> AsyncHttpClient<'c> for OutboundClient {
    type Error = FetchError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, FetchError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.execute(request))
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
    let [first, second, third, ..] = ip.segments();
    // Only global unicast (2000::/3, RFC 4291 §2.4) is public; that leaves out loopback,
    // unique local, link-local, multicast, NAT64 (64:ff9b::/96) and IPv4-compatible forms.
    if first & 0xe000 != 0x2000 {
        return false;
    }
    match first {
        // IETF protocol assignments (2001::/23, Teredo included) and documentation.
        0x2001 if second < 0x0200 || second == 0x0db8 => false,
        // 6to4 (RFC 3056) reaches the IPv4 address it embeds.
        0x2002 => {
            let [a, b] = second.to_be_bytes();
            let [c, d] = third.to_be_bytes();
            is_public_v4(Ipv4Addr::new(a, b, c, d))
        }
        _ => true,
    }
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
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::a00:1",
            "2002:a9fe:a9fe::1",
            "2001:0:4136:e378::1",
            "2001:db8::1",
            "100::1",
            "fec0::1",
            "::a00:1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "1.1.1.1",
            "140.82.112.3",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "2002:0808:0808::1",
        ] {
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

    fn get(url: &str) -> HttpRequest {
        axum::http::Request::get(url).body(Vec::new()).unwrap()
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused_by_the_resolver() {
        // The resolver is what stands between a public-looking name and a private address.
        let resolver = GuardedResolver { policy: OutboundPolicy::default() };
        let name: Name = "localhost".parse().unwrap();
        let Err(err) = resolver.resolve(name).await else {
            panic!("localhost resolved to an allowed address");
        };
        assert!(err.to_string().contains("private"), "{err}");
        let open = GuardedResolver { policy: OutboundPolicy { allow_private_networks: true } };
        assert!(open.resolve("localhost".parse().unwrap()).await.is_ok());
    }

    #[tokio::test]
    async fn every_request_is_checked_even_ip_literals_that_skip_the_resolver() {
        let client = OutboundClient::new(OutboundPolicy::default()).unwrap();
        let err = client.execute(get("http://169.254.169.254/latest")).await.unwrap_err();
        assert!(matches!(err, FetchError::Refused { reason: OutboundError::NotHttps, .. }));
        let err = client.execute(get("https://10.0.0.5:8500/")).await.unwrap_err();
        assert!(matches!(err, FetchError::Refused { reason: OutboundError::PrivateAddress, .. }));
    }

    #[tokio::test]
    async fn answers_larger_than_the_cap_are_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let big = "x".repeat(OutboundClient::MAX_BODY_BYTES + 1);
        let app = axum::Router::new().route("/", axum::routing::get(move || async move { big }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = OutboundClient::new(OutboundPolicy { allow_private_networks: true }).unwrap();
        let err = client.execute(get(&format!("http://{address}/"))).await.unwrap_err();
        assert!(matches!(err, FetchError::TooLarge(_)), "{err:?}");
    }
}
