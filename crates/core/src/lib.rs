//! Domain types and rules of MCPlatform.
//!
//! Nothing here speaks HTTP or SQL: `store` persists these types and `web` renders them.

pub mod api_key;
pub mod audit;
pub mod clock;
pub mod crypto;
pub mod end_user;
pub mod hosting;
pub mod identity_provider;
pub mod ids;
pub mod invitation;
pub mod mcp_server;
pub mod oauth;
pub mod org;
pub mod outbox;
pub mod password;
pub mod support;
pub mod telemetry;
pub mod upstream_login;
pub mod user;
pub mod validation;
pub mod walkthrough;

pub use validation::ValidationError;

/// An error and its causes on one line (`outer: cause: root cause`), skipping a cause whose text
/// its parent already printed (many libraries include their source in their own message).
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::fmt;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn error_chain_joins_causes_and_skips_repeats() {
        let root = Layer("connection refused", None);
        let io = Layer("io error: connection refused", Some(Box::new(root)));
        let top = Layer("cannot open database", Some(Box::new(io)));
        assert_eq!(super::error_chain(&top), "cannot open database: io error: connection refused");
    }
}
