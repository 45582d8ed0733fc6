//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-00, which the
//! MCP authorization spec recommends): a client whose `client_id` is an HTTPS URL that serves
//! its metadata, instead of registering first.

use serde_json::Value;
use time::OffsetDateTime;
use url::Url;

use super::client::{
    ClientMetadata, ClientMetadataInput, MAX_URL_LEN, OAuthClient, RegistrationKind,
};
use crate::ids::{McpServerId, OrgId};

/// The largest document accepted (the draft's §4 suggests limiting it, at 5 kilobytes).
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;

/// Whether `client_id` names a metadata document rather than a client registered with us
/// (those are `mcp_client_…`).
pub fn is_document_url(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

/// The host serving a metadata document, when `client_id` names one: who vouches for the
/// client, as a person reads it.
pub fn document_host(client_id: &str) -> Option<String> {
    if !is_document_url(client_id) {
        return None;
    }
    Url::parse(client_id).ok()?.host_str().map(str::to_owned)
}

/// §3: an `https` URL with a path, without dot segments, fragment or credentials. Plain
/// `http` only where private networks are allowed (development and tests).
pub fn check_client_id_url(client_id: &str, allow_http: bool) -> Result<Url, String> {
    if client_id.len() > MAX_URL_LEN {
        return Err(format!("a client id URL must be at most {MAX_URL_LEN} characters"));
    }
    let url = Url::parse(client_id).map_err(|e| format!("the client id is not a URL: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        _ => return Err("a client id URL must use https".into()),
    }
    if url.host().is_none() {
        return Err("a client id URL must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a client id URL must not contain credentials".into());
    }
    if url.fragment().is_some() {
        return Err("a client id URL must not have a fragment".into());
    }
    // The parser removes dot segments, so comparing with the original finds them; it also
    // finds any other non-canonical spelling, which a client id must not have either (the
    // document's `client_id` is compared character for character).
    if url.path() == "/" || url.as_str() != client_id {
        return Err("a client id URL must have a path and be written in canonical form, without \
             . or .. segments"
            .into());
    }
    Ok(url)
}

/// §4 and the MCP spec: the fetched document must be a JSON object naming this very URL as
/// its `client_id`, with `client_name` and `redirect_uris`, and no shared secret (a document
/// anyone can read cannot hold one). The metadata is then checked like a registration.
pub fn parse_document(client_id: &str, body: &[u8]) -> Result<ClientMetadata, String> {
    let document: Value =
        serde_json::from_slice(body).map_err(|e| format!("the document is not JSON: {e}"))?;
    let Value::Object(fields) = &document else {
        return Err("the document is not a JSON object".into());
    };
    if fields.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return Err("the document's client_id is not the URL it was fetched from".into());
    }
    for secret in ["client_secret", "client_secret_expires_at"] {
        if fields.contains_key(secret) {
            return Err(format!("the document must not contain {secret}"));
        }
    }
    if fields.get("client_name").and_then(Value::as_str).is_none_or(|n| n.trim().is_empty()) {
        return Err("the document has no client_name".into());
    }
    let mut input: ClientMetadataInput =
        serde_json::from_value(document).map_err(|e| format!("malformed metadata: {e}"))?;
    match input.token_endpoint_auth_method.as_deref() {
        // Without a registration, a client has no secret: public unless it says otherwise.
        None => input.token_endpoint_auth_method = Some("none".into()),
        Some("none") => {}
        Some(other) => {
            return Err(format!(
                "token_endpoint_auth_method {other:?} is not supported for a metadata document: \
                 use none"
            ));
        }
    }
    ClientMetadata::validate(input).map_err(|e| format!("{}: {}", e.field, e.message))
}

impl OAuthClient {
    /// The client a metadata document describes, as seen by one server.
    pub fn from_document(
        client_id: &str,
        organization_id: OrgId,
        mcp_server_id: McpServerId,
        metadata: ClientMetadata,
        fetched_at: OffsetDateTime,
    ) -> Self {
        Self {
            client_id: client_id.to_owned(),
            organization_id,
            mcp_server_id,
            secret_hash: None,
            metadata,
            kind: RegistrationKind::MetadataDocument,
            created_at: fetched_at,
            revoked_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::oauth::client::TokenEndpointAuthMethod;

    const ID: &str = "https://app.example/oauth/client.json";

    fn parse(document: Value) -> Result<ClientMetadata, String> {
        parse_document(ID, document.to_string().as_bytes())
    }

    #[test]
    fn client_id_urls_follow_section_3() {
        assert!(check_client_id_url(ID, false).is_ok());
        assert!(check_client_id_url("https://app.example:8443/c?v=1", false).is_ok());
        for (bad, why) in [
            ("http://app.example/client.json", "https"),
            ("https://app.example", "path"),
            ("https://app.example/", "path"),
            ("https://app.example/a/../client.json", "canonical"),
            ("https://app.example/./client.json", "canonical"),
            ("https://user:pw@app.example/client.json", "credentials"),
            ("https://app.example/client.json#x", "fragment"),
            ("https://APP.example/client.json", "canonical"),
            ("not a url", "not a URL"),
        ] {
            let err = check_client_id_url(bad, false).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(check_client_id_url("http://127.0.0.1:9/client.json", true).is_ok());
        assert!(is_document_url(ID) && !is_document_url("mcp_client_abc"));
    }

    #[test]
    fn a_document_names_itself_has_a_name_and_redirects_and_no_secret() {
        let good = json!({"client_id": ID, "client_name": "Editor",
            "redirect_uris": ["http://127.0.0.1/callback"], "unknown": 1});
        let metadata = parse(good.clone()).unwrap();
        assert_eq!(metadata.token_endpoint_auth_method, TokenEndpointAuthMethod::None);
        assert_eq!(metadata.client_name.as_deref(), Some("Editor"));

        let with = |key: &str, value: Value| {
            let mut doc = good.clone();
            doc[key] = value;
            parse(doc).unwrap_err()
        };
        assert!(with("client_id", json!("https://other.example/c.json")).contains("not the URL"));
        assert!(with("client_secret", json!("s")).contains("client_secret"));
        assert!(with("client_name", json!(" ")).contains("client_name"));
        assert!(with("redirect_uris", json!([])).contains("redirect_uris"));
        assert!(with("redirect_uris", json!("x")).contains("malformed"));
        assert!(with("token_endpoint_auth_method", json!("client_secret_basic")).contains("none"));
        assert!(with("token_endpoint_auth_method", json!("private_key_jwt")).contains("none"));
        assert!(parse_document(ID, b"[1]").unwrap_err().contains("object"));
        assert!(parse_document(ID, b"<html>").unwrap_err().contains("not JSON"));
    }
}
