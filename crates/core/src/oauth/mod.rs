//! The authorization server every hosted MCP server is (MCP authorization spec, OAuth 2.1):
//! its addresses, scopes and signing keys.

pub mod client;
pub mod client_document;
pub mod grant;
pub mod signing_key;

use url::Url;

use crate::mcp_server::Slug;

/// The scope that lets a client use a server's MCP endpoint: granted when none is asked for
/// (RFC 6749 §3.3 lets the server choose a default).
pub const DEFAULT_SCOPE: &str = "mcp";

/// Every scope the authorization servers know (RFC 8414 `scopes_supported`).
pub const SCOPES_SUPPORTED: [&str; 5] = ["mcp", "openid", "profile", "email", "offline_access"];

/// The scopes a protected resource advertises (RFC 9728 `scopes_supported`): the MCP
/// authorization spec says not to list `offline_access` there.
pub const RESOURCE_SCOPES: [&str; 1] = ["mcp"];

/// The MCP endpoint paths of a server that clients authorize for, relative to its issuer.
pub const RESOURCE_PATHS: [&str; 2] = ["/mcp", "/api/mcpserver/mcp"];

/// How a request reached a hosted server (DESIGN.md "URLs"): `{slug}.{base host}`, or
/// `{base}/s/{slug}` where wildcard DNS is not available. Each form is its own issuer, so that
/// metadata found from either URL names itself byte for byte (RFC 8414 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlForm {
    Subdomain,
    Path,
}

/// A hosted server as reached through one URL form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOrigin {
    issuer: Url,
}

impl ServerOrigin {
    /// `base` is the platform's public base URL (an origin). A base without a domain name
    /// (an IP address) has no subdomains: every server then has the path form only.
    pub fn new(base: &Url, slug: &Slug, form: UrlForm) -> Self {
        let mut issuer = base.clone();
        issuer.set_query(None);
        issuer.set_fragment(None);
        issuer.set_path(&format!("/s/{slug}"));
        if form == UrlForm::Subdomain
            && let Some(domain) = base.domain()
        {
            let mut subdomain = issuer.clone();
            // A slug is a DNS label, so this is a valid host under any domain name.
            if subdomain.set_host(Some(&format!("{slug}.{domain}"))).is_ok() {
                subdomain.set_path("");
                issuer = subdomain;
            }
        }
        Self { issuer }
    }

    /// The issuer identifier (RFC 8414 §2): no trailing slash, so that endpoint and
    /// well-known URLs are the issuer with a path appended.
    pub fn issuer(&self) -> String {
        self.issuer.as_str().trim_end_matches('/').to_owned()
    }

    /// `issuer + path`, for endpoints (`/oauth/token`) and resources (`/mcp`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer())
    }

    /// The MCP endpoint URLs clients may ask tokens for (RFC 8707 resource indicators).
    pub fn resources(&self) -> Vec<String> {
        RESOURCE_PATHS.iter().map(|path| self.url(path)).collect()
    }

    /// Where a resource's protected resource metadata is (RFC 9728 §3.1: the well-known
    /// segment inserted between the host and the resource's path).
    pub fn resource_metadata_url(&self, resource_path: &str) -> String {
        well_known(&self.issuer, "oauth-protected-resource", resource_path)
    }

    /// Where this issuer's RFC 8414 metadata is (§3.1, the same insertion).
    pub fn metadata_url(&self) -> String {
        well_known(&self.issuer, "oauth-authorization-server", "")
    }
}

/// `{origin}/.well-known/{name}{issuer path}{suffix}`.
fn well_known(issuer: &Url, name: &str, suffix: &str) -> String {
    let origin = issuer.origin().ascii_serialization();
    let path = issuer.path().trim_end_matches('/');
    format!("{origin}/.well-known/{name}{path}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(form: UrlForm) -> ServerOrigin {
        let base = Url::parse("http://localhost:3000").unwrap();
        ServerOrigin::new(&base, &Slug::parse("acme").unwrap(), form)
    }

    #[test]
    fn each_url_form_is_its_own_issuer_with_its_well_known_addresses() {
        let sub = origin(UrlForm::Subdomain);
        assert_eq!(sub.issuer(), "http://acme.localhost:3000");
        assert_eq!(sub.url("/oauth/token"), "http://acme.localhost:3000/oauth/token");
        assert_eq!(
            sub.metadata_url(),
            "http://acme.localhost:3000/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            sub.resource_metadata_url("/mcp"),
            "http://acme.localhost:3000/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            sub.resources(),
            ["http://acme.localhost:3000/mcp", "http://acme.localhost:3000/api/mcpserver/mcp"]
        );

        // Under an IP address there are no subdomains: never the base itself as an issuer.
        let ip = Url::parse("http://127.0.0.1:3000").unwrap();
        let slug = Slug::parse("acme").unwrap();
        let on_ip = ServerOrigin::new(&ip, &slug, UrlForm::Subdomain);
        assert_eq!(on_ip.issuer(), "http://127.0.0.1:3000/s/acme");

        let path = origin(UrlForm::Path);
        assert_eq!(path.issuer(), "http://localhost:3000/s/acme");
        assert_eq!(
            path.metadata_url(),
            "http://localhost:3000/.well-known/oauth-authorization-server/s/acme"
        );
        assert_eq!(
            path.resource_metadata_url("/mcp"),
            "http://localhost:3000/.well-known/oauth-protected-resource/s/acme/mcp"
        );
    }
}
