//! The error every validated value returns when its input is unacceptable.

/// A value failed validation. `field` names the input, `message` says what is wrong in words
/// that can be shown to the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}

/// Shared rule for text people write: trimmed, non-empty, at most `max_chars`, without control
/// characters (line breaks and tabs allowed where `multiline`; NUL, which PostgreSQL cannot
/// store, never).
pub fn parse_text(
    field: &'static str,
    input: &str,
    max_chars: usize,
    multiline: bool,
) -> Result<String, ValidationError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if trimmed.chars().count() > max_chars {
        return Err(ValidationError::new(field, format!("must be at most {max_chars} characters")));
    }
    let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if trimmed.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(ValidationError::new(field, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}
