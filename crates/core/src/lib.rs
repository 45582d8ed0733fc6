//! Domain types and rules of MCPlatform.
//!
//! Nothing here speaks HTTP or SQL: `store` persists these types and `web` renders them.

pub mod clock;
pub mod crypto;
pub mod ids;
pub mod mcp_server;
pub mod org;
pub mod user;
pub mod validation;

pub use validation::ValidationError;
