//! The API's own description: `openapi.yaml` as written, as JSON, and rendered as a page (on
//! the server, with the dashboard's stylesheet: no script, nothing fetched from elsewhere).

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::HttpResponse;
use maud::{html, Markup, DOCTYPE};
use serde_json::Value;

const YAML: &str = include_str!("../../openapi.yaml");
const JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));
const METHODS: [&str; 6] = ["get", "head", "post", "put", "patch", "delete"];

fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| serde_json::from_str(JSON).unwrap_or(Value::Null))
}

/// `GET /api/v1/openapi.yaml`
pub async fn openapi_yaml() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/yaml; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(YAML)
}

/// `GET /api/v1/openapi.json`
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(JSON)
}

/// `GET /api/docs`: every operation by tag, with its parameters, body and answers, and every
/// schema.
pub async fn api_docs() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(page(spec()).into_string())
}

/// Paragraphs of a description (blank lines apart).
fn prose(text: Option<&str>) -> Markup {
    html! {
        @for p in text.unwrap_or_default().split("\n\n").filter(|p| !p.trim().is_empty()) {
            p { (p.trim()) }
        }
    }
}

/// The name a `$ref` points to.
fn ref_name(r: &str) -> &str {
    r.rsplit('/').next().unwrap_or(r)
}

/// A schema in a few words: its type (or the schema it names), format, values, nullability.
fn type_of(schema: &Value) -> String {
    if let Some(r) = schema["$ref"].as_str() {
        return ref_name(r).to_string();
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(options) = schema[combinator].as_array() {
            let sep = if combinator == "allOf" { " & " } else { " | " };
            return options.iter().map(type_of).collect::<Vec<_>>().join(sep);
        }
    }
    let mut out = match schema["type"].as_str() {
        Some("array") => format!("array of {}", type_of(&schema["items"])),
        Some(t) => t.to_string(),
        None => "any".to_string(),
    };
    if let Some(format) = schema["format"].as_str() {
        out.push_str(&format!(" ({format})"));
    }
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        out.push_str(&format!(": {}", values.join(", ")));
    }
    if schema["nullable"].as_bool() == Some(true) {
        out.push_str(", nullable");
    }
    out
}

/// A schema's properties as a table (or its type when it has none).
fn properties(schema: &Value) -> Markup {
    let Some(props) = schema["properties"].as_object() else {
        return html! { p { code { (type_of(schema)) } } };
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    html! {
        table {
            thead { tr { th { "Field" } th { "Type" } th { "Description" } } }
            tbody {
                @for (name, p) in props {
                    tr {
                        td { code { (name) } @if required.contains(&name.as_str()) { " (required)" } }
                        td { code { (type_of(p)) } }
                        td { (p["description"].as_str().unwrap_or_default()) }
                    }
                }
            }
        }
    }
}

fn operation(method: &str, path: &str, op: &Value, shared: &Value) -> Markup {
    let id = op["operationId"].as_str().unwrap_or_default();
    let public = op["security"].as_array().is_some_and(|s| s.is_empty());
    let mut parameters: Vec<&Value> = shared
        .as_array()
        .map(|p| p.iter().collect())
        .unwrap_or_default();
    parameters.extend(op["parameters"].as_array().into_iter().flatten());
    let body = op["requestBody"]["content"].as_object();
    html! {
        section.card id=(id) {
            h3 { code { (method.to_uppercase()) " " (path) } }
            p { strong { (op["summary"].as_str().unwrap_or_default()) } }
            p.meta { (if public { "No key." } else { "Bearer key." }) " Operation " code { (id) } "." }
            (prose(op["description"].as_str()))
            @if !parameters.is_empty() {
                h4 { "Parameters" }
                table {
                    thead { tr { th { "Name" } th { "In" } th { "Type" } th { "Description" } } }
                    tbody { @for p in &parameters {
                        tr {
                            td { code { (p["name"].as_str().unwrap_or_default()) } @if p["required"].as_bool() == Some(true) { " (required)" } }
                            td { (p["in"].as_str().unwrap_or_default()) }
                            td { code { (type_of(&p["schema"])) } }
                            td { (p["description"].as_str().unwrap_or_default()) }
                        }
                    } }
                }
            }
            @if let Some(body) = body {
                h4 { "Body" }
                @for (media, content) in body {
                    p { code { (media) } }
                    (properties(&content["schema"]))
                }
            }
            h4 { "Answers" }
            ul {
                @for (status, answer) in op["responses"].as_object().into_iter().flatten() {
                    li {
                        code { (status) } " "
                        @match answer["$ref"].as_str() {
                            Some(r) => { (ref_name(r)) }
                            None => { (answer["description"].as_str().unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    }
}

fn page(spec: &Value) -> Markup {
    let info = &spec["info"];
    let tags: Vec<&str> = spec["tags"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    let paths = spec["paths"].as_object();
    let operations = |tag: &str| -> Vec<(String, String, Value, Value)> {
        let mut out = Vec::new();
        for (path, item) in paths.into_iter().flatten() {
            for method in METHODS {
                let op = &item[method];
                let tagged = op["tags"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|x| x.as_str() == Some(tag)));
                if op.is_object() && tagged {
                    out.push((
                        method.to_string(),
                        path.clone(),
                        op.clone(),
                        item["parameters"].clone(),
                    ));
                }
            }
        }
        out
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (info["title"].as_str().unwrap_or("API")) " API " (info["version"].as_str().unwrap_or_default()) }
                link rel="stylesheet" href="/dashboard/app.css";
            }
            body {
                main {
                    h1 { (info["title"].as_str().unwrap_or("API")) " API " small { (info["version"].as_str().unwrap_or_default()) } }
                    (prose(info["description"].as_str()))
                    p { "The same as " a href="/api/v1/openapi.yaml" { "openapi.yaml" } " (or " a href="/api/v1/openapi.json" { "JSON" } ")." }
                    nav { ul { @for tag in &tags { li { a href={ "#" (tag) } { (tag) } } } } }
                    @for tag in &tags {
                        h2 id=(tag) { (tag) }
                        @for (method, path, op, shared) in operations(tag) {
                            (operation(&method, &path, &op, &shared))
                        }
                    }
                    h2 #schemas { "Schemas" }
                    @for (name, schema) in spec["components"]["schemas"].as_object().into_iter().flatten() {
                        section.card id={ "schema-" (name) } {
                            h3 { (name) }
                            (prose(schema["description"].as_str()))
                            (properties(schema))
                        }
                    }
                }
            }
        }
    }
}
