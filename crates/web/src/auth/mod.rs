//! Platform (dashboard) authentication: sessions held in the database behind an `HttpOnly`
//! cookie, CSRF tokens derived from the cookie secret, and login throttling.
//!
//! End users of hosted MCP servers never touch any of this: they have their own identity
//! system, cookies and tokens.

pub mod csrf;
pub mod limiter;
pub mod session;

pub use csrf::{AnonymousCsrf, CsrfForm, CsrfToken};
pub use limiter::LoginLimiter;
pub use session::{CurrentSession, SessionSettings};
