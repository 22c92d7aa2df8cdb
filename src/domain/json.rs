//! How request bodies spell optional and decimal fields.

use serde::Deserialize;

/// For PATCH bodies: an absent field is `None`, an explicit `null` is `Some(None)`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// For optional body fields that are not nullable (use with `#[serde(default)]`): an absent
/// field is `None`, and an explicit `null` is refused (422) like any other value of the wrong
/// type, rather than silently read as "absent".
pub fn non_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A decimal given as a string (`"129.90"`, exact) or a JSON number (`129.9`, read as
/// written), as text for the money parsers.
pub fn decimal_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        _ => Err(serde::de::Error::custom(
            "expected a decimal string such as \"129.90\"",
        )),
    }
}

/// An optional [`decimal_text`]: absent is `None`, `null` is refused like a wrong type.
pub fn optional_decimal_text<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    decimal_text(d).map(Some)
}
