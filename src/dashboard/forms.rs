//! Forms named as the API names its fields: what a form posts becomes the API's JSON body and
//! is read by the same input types, so an error comes back beside its field, with what was
//! typed kept, and a CSV row is checked exactly like a form.

use maud::{html, Markup};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::domain::field::FieldError;
use crate::web::problem::ApiError;

#[derive(Clone, Copy)]
pub enum Kind {
    Text,
    Url,
    Email,
    /// A whole number.
    Int,
    /// A decimal text (money, rates), sent as typed.
    Decimal,
    /// A UTC date and time (`datetime-local`), sent as RFC 3339.
    DateTime,
    Check,
    /// Yes or no, or left to the default when nothing is chosen.
    YesNo,
    Select(&'static [(&'static str, &'static str)]),
    /// One of the field's own `options` (built per page: influencers, say).
    Choice,
    /// A secret: typed, never shown back.
    Secret,
    /// Values separated by commas (tags).
    List,
}

pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    pub required: bool,
    /// Left empty, the field is sent as `null` (clears a setting); else it is left out.
    pub clears: bool,
    pub hint: &'static str,
    /// `(value, text)` of a [`Kind::Choice`].
    pub options: Vec<(String, String)>,
}

impl Field {
    pub fn new(name: &'static str, label: &'static str, kind: Kind) -> Self {
        Self {
            name,
            label,
            kind,
            required: false,
            clears: false,
            hint: "",
            options: Vec::new(),
        }
    }
    pub fn options(mut self, options: Vec<(String, String)>) -> Self {
        self.options = options;
        self
    }
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub fn clears(mut self) -> Self {
        self.clears = true;
        self
    }
    pub fn hint(mut self, hint: &'static str) -> Self {
        self.hint = hint;
        self
    }
}

/// The name-value pairs of a posted form (or of a CSV row, or of a stored record to edit).
#[derive(Default, Clone, Debug)]
pub struct Posted(pub Vec<(String, String)>);

impl Posted {
    pub fn parse(body: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(body).into_owned().collect())
    }
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
    /// Every value of a repeated name (checkboxes of one name).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.0.retain(|(k, _)| k != name);
        self.0.push((name.to_string(), value.into()));
    }
    pub fn token(&self) -> &str {
        self.get("form_token")
    }
}

fn date_time(raw: &str) -> Option<String> {
    use chrono::{NaiveDate, NaiveDateTime};
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Some(
            t.to_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
    }
    let t = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M"))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    Some(
        t.and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

/// An RFC 3339 time as a `datetime-local` value (UTC, to the second: saving a form unchanged
/// changes no time).
pub fn local_value(rfc3339: &str) -> String {
    rfc3339.chars().take(19).collect()
}

/// The JSON body of `fields` as posted: empty fields are left out (or `null` where they clear
/// a setting), an object whose members are all empty likewise; numbers and times are checked
/// here, everything else by the API's own input type.
pub fn body(fields: &[Field], posted: &Posted) -> Result<Value, Vec<FieldError>> {
    let mut root = Map::new();
    let mut errors = Vec::new();
    for f in fields {
        let raw = posted.get(f.name).trim();
        let value = match f.kind {
            Kind::Check => Some(Value::Bool(!raw.is_empty())),
            _ if raw.is_empty() => f.clears.then_some(Value::Null),
            Kind::Int => match raw.replace([',', '_', ' '], "").parse::<i64>() {
                Ok(n) => Some(n.into()),
                Err(_) => {
                    errors.push(FieldError::new(f.name, "must be a whole number"));
                    None
                }
            },
            Kind::DateTime => match date_time(raw) {
                Some(t) => Some(Value::String(t)),
                None => {
                    errors.push(FieldError::new(
                        f.name,
                        "must be a date and time (UTC), e.g. 2026-05-01T00:00",
                    ));
                    None
                }
            },
            Kind::YesNo => Some(Value::Bool(raw == "true")),
            Kind::List => Some(Value::Array(
                raw.split([',', ';'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            )),
            _ => Some(Value::String(raw.to_string())),
        };
        if let Some(v) = value {
            match f.name.split_once('.') {
                None => {
                    root.insert(f.name.to_string(), v);
                }
                Some((object, member)) => {
                    let slot = root
                        .entry(object.to_string())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(m) = slot {
                        m.insert(member.to_string(), v);
                    }
                }
            }
        }
    }
    // An object: all empty → null or left out; partly empty → its empty members left out,
    // so that the API names the one missing.
    let objects: Vec<String> = root
        .iter()
        .filter(|(_, v)| v.is_object())
        .map(|(k, _)| k.clone())
        .collect();
    for name in objects {
        let Some(Value::Object(m)) = root.get_mut(&name) else {
            continue;
        };
        m.retain(|_, v| !v.is_null());
        if m.is_empty() {
            let clears = fields
                .iter()
                .any(|f| f.clears && f.name.starts_with(&format!("{name}.")));
            if clears {
                root.insert(name, Value::Null);
            } else {
                root.remove(&name);
            }
        }
    }
    if errors.is_empty() {
        Ok(Value::Object(root))
    } else {
        Err(errors)
    }
}

/// The API's input type from a form: its errors by field.
pub fn read<T: DeserializeOwned>(fields: &[Field], posted: &Posted) -> Result<T, Vec<FieldError>> {
    let value = body(fields, posted)?;
    crate::web::extract::from_value(value).map_err(errors_of)
}

/// An error as messages by field (`""`: the form as a whole).
pub fn errors_of(e: ApiError) -> Vec<FieldError> {
    match e {
        ApiError::Validation(v) => v,
        ApiError::Internal(_) => {
            tracing::error!(error = %e, "dashboard form");
            vec![FieldError::new(
                "",
                "Something went wrong; it has been logged.",
            )]
        }
        other => vec![FieldError::new("", other.to_string())],
    }
}

fn id_of(prefix: &str, name: &str) -> String {
    format!("{prefix}{}", name.replace(['.', '_'], "-"))
}

/// The labelled inputs of `fields` with what was posted and each field's error beside it.
pub fn inputs(fields: &[Field], posted: &Posted, errors: &[FieldError]) -> Markup {
    inputs_in("f-", fields, posted, errors)
}

/// [`inputs`] with ids under `prefix`, for a page with several forms of the same fields.
pub fn inputs_in(prefix: &str, fields: &[Field], posted: &Posted, errors: &[FieldError]) -> Markup {
    html! {
        @for f in fields { (input(prefix, f, posted.get(f.name), errors.iter().find(|e| e.field == f.name))) }
    }
}

/// Errors that belong to no field of the form, above it.
pub fn general_errors(fields: &[Field], errors: &[FieldError]) -> Markup {
    let other: Vec<&FieldError> = errors
        .iter()
        .filter(|e| !fields.iter().any(|f| f.name == e.field))
        .collect();
    html! {
        @if !other.is_empty() {
            div.notice.error role="alert" {
                @for e in other {
                    p { @if !e.field.is_empty() { strong { (e.field) } ": " } (e.message) }
                }
            }
        }
    }
}

fn input(prefix: &str, f: &Field, value: &str, error: Option<&FieldError>) -> Markup {
    let id = id_of(prefix, f.name);
    let described = match (f.hint.is_empty(), error.is_some()) {
        (true, false) => None,
        (false, false) => Some(format!("{id}-hint")),
        (true, true) => Some(format!("{id}-error")),
        (false, true) => Some(format!("{id}-hint {id}-error")),
    };
    let invalid = error.map(|_| "true");
    let (kind, mode) = match f.kind {
        Kind::Url => ("url", None),
        Kind::Email => ("email", None),
        Kind::Int => ("text", Some("numeric")),
        Kind::Decimal => ("text", Some("decimal")),
        Kind::DateTime => ("datetime-local", None),
        _ => ("text", None),
    };
    html! {
        div.field.invalid[error.is_some()] {
            @match f.kind {
                Kind::Check => {
                    label.check for=(id) {
                        input type="checkbox" id=(id) name=(f.name) value="true" checked[!value.is_empty() && value != "false"] aria-describedby=[described.as_deref()];
                        " " (f.label)
                    }
                }
                Kind::Select(options) => {
                    label for=(id) { (f.label) }
                    select id=(id) name=(f.name) required[f.required] aria-invalid=[invalid] aria-describedby=[described.as_deref()] {
                        @for (v, text) in options { option value=(v) selected[*v == value] { (text) } }
                    }
                }
                Kind::Choice => {
                    label for=(id) { (f.label) }
                    select id=(id) name=(f.name) required[f.required] aria-invalid=[invalid] aria-describedby=[described.as_deref()] {
                        @for (v, text) in &f.options { option value=(v) selected[v == value] { (text) } }
                    }
                }
                Kind::Secret => {
                    label for=(id) { (f.label) }
                    input type="password" id=(id) name=(f.name) autocomplete="off" required[f.required]
                        aria-invalid=[invalid] aria-describedby=[described.as_deref()];
                }
                Kind::YesNo => {
                    label for=(id) { (f.label) }
                    select id=(id) name=(f.name) aria-invalid=[invalid] aria-describedby=[described.as_deref()] {
                        option value="" selected[value.is_empty()] { "Default" }
                        option value="true" selected[value == "true"] { "Yes" }
                        option value="false" selected[value == "false"] { "No" }
                    }
                }
                _ => {
                    label for=(id) { (f.label) }
                    input type=(kind) id=(id) name=(f.name) value=(value) inputmode=[mode] required[f.required]
                        aria-invalid=[invalid] aria-describedby=[described.as_deref()];
                }
            }
            @if !f.hint.is_empty() { small.hint id={ (id) "-hint" } { (f.hint) } }
            @if let Some(e) = error { p.error id={ (id) "-error" } role="alert" { (e.message) } }
        }
    }
}

/// Rows of a CSV text as form values, by the header's column names (the API's field names),
/// each with the line it starts on. `Err`: the text is no CSV (a message for the whole file).
pub fn csv_rows(text: &str, max_rows: usize) -> Result<Vec<(u64, Posted)>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("the header line cannot be read: {e}"))?
        .iter()
        .map(|h| {
            h.trim_start_matches('\u{feff}')
                .to_lowercase()
                .replace(' ', "_")
        })
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err("the file is empty: its first line names the columns".into());
    }
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        if i >= max_rows {
            return Err(format!("at most {max_rows} rows at a time"));
        }
        let record = record.map_err(|e| format!("line {}: {e}", i + 2))?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        let line = record.position().map_or(i as u64 + 2, |p| p.line());
        out.push((
            line,
            Posted(
                headers
                    .iter()
                    .cloned()
                    .zip(record.iter().map(str::to_string))
                    .collect(),
            ),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posted(pairs: &[(&str, &str)]) -> Posted {
        Posted(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_form_becomes_the_apis_body() {
        let fields = [
            Field::new("name", "Name", Kind::Text),
            Field::new("budget", "Budget", Kind::Decimal).clears(),
            Field::new("holding_days", "Holding days", Kind::Int),
            Field::new("goal.metric", "Goal metric", Kind::Text).clears(),
            Field::new("goal.target", "Goal target", Kind::Decimal).clears(),
            Field::new("starts_at", "Starts at", Kind::DateTime),
            Field::new("links_apply_code", "Links apply the code", Kind::Check),
        ];
        let v = body(
            &fields,
            &posted(&[
                ("name", " Spring "),
                ("holding_days", "1,000"),
                ("goal.metric", "conversions"),
                ("starts_at", "2026-05-01T08:30"),
            ]),
        )
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"name": "Spring", "budget": null, "holding_days": 1000,
                "goal": {"metric": "conversions"}, "starts_at": "2026-05-01T08:30:00Z",
                "links_apply_code": false})
        );
        let v = body(&fields, &posted(&[("links_apply_code", "true")])).unwrap();
        assert_eq!(v["goal"], Value::Null);
        assert_eq!(v["links_apply_code"], Value::Bool(true));
        let e = body(
            &fields,
            &posted(&[("holding_days", "ten"), ("starts_at", "May")]),
        )
        .unwrap_err();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].field, "holding_days");
        assert_eq!(e[1].field, "starts_at");
    }

    #[test]
    fn csv_rows_are_read_by_their_header() {
        let rows = csv_rows(
            "\u{feff}Handle,display name\nanna, Anna K\n\n,\nbo,\"B, O\"\n",
            10,
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].1.get("handle"), "anna");
        assert_eq!(rows[0].1.get("display_name"), "Anna K");
        assert_eq!(rows[1].1.get("display_name"), "B, O");
        assert_eq!((rows[0].0, rows[1].0), (2, 5), "the lines they start on");
        assert!(csv_rows("a\n1\n2\n3\n", 2).is_err());
    }
}
