//! The parameters of an OAuth request, from its query (`/oauth/authorize`) or its urlencoded
//! body (`/oauth/token`, `/oauth/revoke`): each may appear once (RFC 6749 §3.1, §3.2) except
//! `resource` (RFC 8707 §2), and a parameter sent without a value counts as absent.

use axum::http::{HeaderMap, header};

use super::error::OAuthError;

#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

/// One `application/x-www-form-urlencoded` name or value, decoded strictly: text that is not
/// UTF-8 is an error, not silently replaced (a client's `state` must come back byte for byte).
pub fn decode(part: &[u8]) -> Result<String, OAuthError> {
    let spaced: Vec<u8> = part.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
    percent_encoding::percent_decode(&spaced)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| OAuthError::invalid_request("a parameter is not valid UTF-8"))
}

impl Params {
    pub fn parse(encoded: &[u8]) -> Result<Self, OAuthError> {
        let pairs = encoded
            .split(|&b| b == b'&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let mut halves = pair.splitn(2, |&b| b == b'=');
                let name = decode(halves.next().unwrap_or_default())?;
                let value = decode(halves.next().unwrap_or_default())?;
                Ok((name, value))
            })
            .collect::<Result<_, OAuthError>>()?;
        Ok(Self(pairs))
    }

    /// A request body, which must be urlencoded (RFC 6749 §3.2, RFC 7009 §2.1).
    pub fn form(headers: &HeaderMap, body: &[u8]) -> Result<Self, OAuthError> {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        if !content_type.is_some_and(|v| v.starts_with("application/x-www-form-urlencoded")) {
            return Err(OAuthError::invalid_request(
                "send the parameters as application/x-www-form-urlencoded",
            ));
        }
        Self::parse(body)
    }

    /// The value of `name`, if it has one; `invalid_request` when it is given twice.
    pub fn one(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut values = self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(OAuthError::invalid_request(format!("{name} is given more than once")));
        }
        Ok(first.filter(|v| !v.is_empty()))
    }

    pub fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.one(name)?.ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
    }

    /// Every value of a parameter that may repeat.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_decode_strictly_and_appear_once() {
        let params = Params::parse(b"state=a+b%2Fc&scope=&resource=x&resource=y&flag").unwrap();
        assert_eq!(params.one("state").unwrap(), Some("a b/c"));
        assert_eq!(params.one("scope").unwrap(), None, "empty counts as absent");
        assert_eq!(params.one("flag").unwrap(), None);
        assert_eq!(params.all("resource"), ["x", "y"]);
        assert!(params.one("resource").unwrap_err().description.contains("more than once"));
        assert!(params.required("code").unwrap_err().description.contains("code is required"));
        let invalid = Params::parse(b"state=%FF").unwrap_err();
        assert!(invalid.description.contains("UTF-8"));
    }
}
