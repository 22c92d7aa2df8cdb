//! Free-text fields: trimmed, non-empty, bounded, no control characters. The bound counts the
//! characters as sent, surrounding spaces included (what openapi.yaml's `maxLength` says).

use crate::domain::field::FieldError;

pub fn required(field: &str, value: &str, max_chars: usize) -> Result<String, FieldError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    optional(field, value, max_chars).map(|s| s.unwrap_or_default())
}

pub fn optional(field: &str, value: &str, max_chars: usize) -> Result<Option<String>, FieldError> {
    if value.chars().count() > max_chars {
        return Err(FieldError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    let trimmed = value.trim();
    if trimmed.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok((!trimmed.is_empty()).then(|| trimmed.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_bounds() {
        assert_eq!(required("name", "  Acme ", 10).unwrap(), "Acme");
        assert!(required("name", "   ", 10).is_err());
        assert!(required("name", "abcdefghijk", 10).is_err());
        assert!(required("name", "abcdefghij ", 10).is_err());
        assert!(required("name", "a\u{0}b", 10).is_err());
        assert_eq!(optional("x", " ", 10).unwrap(), None);
    }
}
