//! OTLP/HTTP decoding (protobuf and JSON) into MCPlatform telemetry rows.
//!
//! Empty until the telemetry issue lands: the crate exists so the dependency arrows of the
//! workspace (`core ← store, otlp ← web ← app`) are fixed from the start.
