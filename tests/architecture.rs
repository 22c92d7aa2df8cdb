//! The layers of `src/`, enforced: every path into the crate (`use crate::…`, a path in code,
//! `$crate::…` in a macro, `crate::…` in an attribute string, `super::…` resolved, and
//! `influtrack::…` in `main.rs`) is checked against what its file's layer may import. A new
//! upward import fails with the file, the line and the rule. So does an import cycle between
//! two files.
//!
//! | layer | may import |
//! |---|---|
//! | `domain` | `domain` |
//! | `db` | `db`, `domain` |
//! | `store` | `store`, `db`, `domain` |
//! | `tracking` | `tracking`, `store`, `db`, `domain` |
//! | `shops` (calls to shops' APIs) | `shops`, `domain` |
//! | `core` | `core`, `tracking`, `shops`, `store`, `db`, `domain` |
//! | `web` (what the edges share) | `web`, `core`, `domain` |
//! | `api`, `dashboard` | itself, `web`, `core`, `domain` (never each other) |
//! | `routes` (the route table) | `routes`, `api`, `dashboard`, `web` |
//! | `demo`, `main.rs` (the shell) | itself, `core`, `domain`, `config`, `telemetry` and the crate root |
//! | `config`, `telemetry` | nothing |
//! | `lib.rs` (composes the server) | everything |

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::visit::Visit;

const LAYERS: &[&str] = &[
    "domain",
    "db",
    "store",
    "tracking",
    "shops",
    "core",
    "web",
    "api",
    "dashboard",
    "routes",
    "demo",
    "config",
    "telemetry",
];

/// What a layer may import (itself included).
fn allowed(layer: &str) -> &'static [&'static str] {
    match layer {
        "domain" => &["domain"],
        "db" => &["db", "domain"],
        "store" => &["store", "db", "domain"],
        "tracking" => &["tracking", "store", "db", "domain"],
        "shops" => &["shops", "domain"],
        "core" => &["core", "tracking", "shops", "store", "db", "domain"],
        "web" => &["web", "core", "domain"],
        "api" => &["api", "web", "core", "domain"],
        "dashboard" => &["dashboard", "web", "core", "domain"],
        "routes" => &["routes", "api", "dashboard", "web"],
        "demo" => &["demo", "core", "domain"],
        "main" => &["core", "domain", "config", "telemetry", "demo", "root"],
        "config" | "telemetry" => &[],
        "root" => LAYERS,
        other => panic!("no rule for layer {other}"),
    }
}

/// A source file of the crate and its module path (`src/core/admin/keys.rs` → core, admin,
/// keys).
struct Source {
    path: PathBuf,
    module: Vec<String>,
    layer: &'static str,
}

fn sources(dir: &Path, out: &mut Vec<Source>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(src()).expect("under src");
            let mut module: Vec<String> = rel
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|m| m == "mod") {
                module.pop();
            }
            let layer = match module.first().map(String::as_str) {
                Some("lib") => "root",
                Some("main") => "main",
                Some(first) => LAYERS
                    .iter()
                    .find(|l| **l == first)
                    .copied()
                    .unwrap_or_else(|| panic!("{} belongs to no layer", path.display())),
                None => unreachable!(),
            };
            if matches!(layer, "root" | "main") {
                module.clear();
            }
            out.push(Source {
                path,
                module,
                layer,
            });
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// One path into the crate: the module path it names (absolute) and where it is written.
struct Import {
    target: Vec<String>,
    line: usize,
    text: String,
}

struct Collector<'a> {
    file: &'a Source,
    imports: Vec<Import>,
}

impl Collector<'_> {
    /// `segments` as written; absolute when it starts with `crate`, `$crate`, `super` or (in
    /// `main.rs`) `influtrack`.
    fn record(&mut self, segments: &[String], span: Span) {
        let Some(first) = segments.first() else {
            return;
        };
        let mut target: Vec<String> = match first.as_str() {
            "crate" | "$crate" => segments[1..].to_vec(),
            "influtrack" if self.file.layer == "main" => segments[1..].to_vec(),
            "super" => {
                let mut base = self.file.module.clone();
                let mut rest = segments;
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
                base.extend(rest.iter().cloned());
                base
            }
            _ => return,
        };
        target.retain(|s| s != "self");
        if target.is_empty() {
            return;
        }
        self.imports.push(Import {
            text: segments.join("::"),
            target,
            line: span.start().line,
        });
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree, span: Span) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree, p.ident.span());
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                prefix.push(n.ident.to_string());
                self.record(&prefix.clone(), n.ident.span());
                prefix.pop();
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.record(&prefix.clone(), r.ident.span());
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.record(&prefix.clone(), span),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t, span);
                }
            }
        }
    }

    /// `crate :: a :: b` (or `$crate`, `super`) sequences in a macro's tokens.
    fn tokens(&mut self, tokens: TokenStream) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < trees.len() {
            match &trees[i] {
                TokenTree::Group(g) => self.tokens(g.stream()),
                TokenTree::Ident(id)
                    if ["crate", "super"].contains(&id.to_string().as_str())
                        || (id == "influtrack" && self.file.layer == "main") =>
                {
                    let dollar =
                        i > 0 && matches!(&trees[i - 1], TokenTree::Punct(p) if p.as_char() == '$');
                    let mut segments = vec![if dollar {
                        "$crate".to_string()
                    } else {
                        id.to_string()
                    }];
                    let mut j = i + 1;
                    while j + 2 < trees.len() + 1 {
                        let colons = matches!(&trees[j], TokenTree::Punct(p) if p.as_char() == ':')
                            && matches!(trees.get(j + 1), Some(TokenTree::Punct(p)) if p.as_char() == ':');
                        match (colons, trees.get(j + 2)) {
                            (true, Some(TokenTree::Ident(next))) => {
                                segments.push(next.to_string());
                                j += 3;
                            }
                            _ => break,
                        }
                    }
                    if segments.len() > 1 {
                        self.record(&segments, id.span());
                    }
                    i = j;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &u.tree, Span::call_site());
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        if let Some(first) = p.segments.first() {
            self.record(&segments, first.ident.span());
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.tokens(m.tokens.clone());
        syn::visit::visit_macro(self, m);
    }

    fn visit_attribute(&mut self, a: &'ast syn::Attribute) {
        // `#[serde(deserialize_with = "crate::…")]` and the like.
        if let syn::Meta::List(list) = &a.meta {
            for tree in list.tokens.clone() {
                if let TokenTree::Literal(lit) = tree {
                    let text = lit.to_string();
                    let text = text.trim_matches('"');
                    if text.starts_with("crate::") {
                        let segments: Vec<String> = text.split("::").map(str::to_string).collect();
                        self.record(&segments, lit.span());
                    }
                }
            }
        }
        syn::visit::visit_attribute(self, a);
    }
}

/// The layer a path into the crate names (a root item such as `Application` is `root`).
fn target_layer(target: &[String]) -> &'static str {
    LAYERS
        .iter()
        .find(|l| target.first().is_some_and(|t| t == *l))
        .copied()
        .unwrap_or("root")
}

fn imports_of(file: &Source) -> Vec<Import> {
    let text = std::fs::read_to_string(&file.path).expect("read source");
    let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.path.display()));
    let mut collector = Collector {
        file,
        imports: Vec::new(),
    };
    collector.visit_file(&ast);
    collector.imports
}

/// Every import of a layer it may not make.
fn violations(files: &[Source]) -> Vec<String> {
    let mut out = Vec::new();
    for file in files {
        for import in imports_of(file) {
            let target = target_layer(&import.target);
            if !allowed(file.layer).contains(&target) {
                out.push(format!(
                    "{}:{}: `{}`: {} may not import {} (it may import {})",
                    file.path
                        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
                        .unwrap_or(&file.path)
                        .display(),
                    import.line,
                    import.text,
                    file.layer,
                    target,
                    allowed(file.layer).join(", ")
                ));
            }
        }
    }
    out
}

/// The file a module path lives in: the longest prefix of it that is a file's module.
fn file_of<'a>(
    modules: &'a BTreeMap<Vec<String>, String>,
    target: &[String],
) -> Option<&'a String> {
    (1..=target.len())
        .rev()
        .find_map(|n| modules.get(&target[..n].to_vec()))
}

/// Import cycles between files (`a` uses `b` and `b` uses `a`, directly or around a loop).
fn cycles(files: &[Source]) -> Vec<String> {
    let modules: BTreeMap<Vec<String>, String> = files
        .iter()
        .filter(|f| !f.module.is_empty())
        .map(|f| (f.module.clone(), f.module.join("::")))
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files.iter().filter(|f| !f.module.is_empty()) {
        let me = file.module.join("::");
        let edges = graph.entry(me.clone()).or_default();
        for import in imports_of(file) {
            if let Some(to) = file_of(&modules, &import.target) {
                // A module's own children are declared by it (`pub mod x;`), not imported.
                if *to != me && !to.starts_with(&format!("{me}::")) {
                    edges.insert(to.clone());
                }
            }
        }
    }
    let mut found = Vec::new();
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    fn walk<'g>(
        node: &'g str,
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'g str, u8>,
        stack: &mut Vec<&'g str>,
        found: &mut Vec<String>,
    ) {
        state.insert(node, 1);
        stack.push(node);
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let from = stack.iter().position(|n| *n == next).unwrap_or(0);
                    let mut cycle: Vec<&str> = stack[from..].to_vec();
                    cycle.push(next);
                    found.push(cycle.join(" → "));
                }
                Some(_) => {}
                None => walk(next, graph, state, stack, found),
            }
        }
        stack.pop();
        state.insert(node, 2);
    }
    for node in graph.keys() {
        if !state.contains_key(node.as_str()) {
            walk(node, &graph, &mut state, &mut Vec::new(), &mut found);
        }
    }
    found
}

fn all_sources() -> Vec<Source> {
    let mut files = Vec::new();
    sources(&src(), &mut files);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

#[test]
fn every_import_follows_the_layers() {
    let files = all_sources();
    assert!(files.len() > 50, "found only {} files", files.len());
    let bad = violations(&files);
    assert!(
        bad.is_empty(),
        "imports across the layers:\n{}",
        bad.join("\n")
    );
}

#[test]
fn no_two_files_import_each_other() {
    let found = cycles(&all_sources());
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

/// The test itself catches what it is for: an upward import in a file of each lower layer,
/// the API and the dashboard importing each other, and a cycle.
#[test]
fn the_rules_catch_upward_imports_and_cycles() {
    let dir = tempfile::tempdir().unwrap();
    let file = |module: &[&str], layer: &'static str, text: &str| {
        let path = dir.path().join(format!("{}.rs", module.join("_")));
        std::fs::write(&path, text).unwrap();
        Source {
            path,
            module: module.iter().map(|s| s.to_string()).collect(),
            layer,
        }
    };
    let cases = [
        file(&["domain", "x"], "domain", "use crate::store::clicks;"),
        file(&["store", "x"], "store", "fn f() { crate::core::now_micros(); }"),
        file(&["db", "x"], "db", "use crate::{domain::ids, api::routes};"),
        file(&["api", "x"], "api", "use crate::dashboard::home;"),
        file(&["dashboard", "x"], "dashboard", "fn f() -> maud::Markup { maud::html! { (crate::api::ops::x()) } }"),
        file(&["core", "x"], "core", "#[derive(serde::Deserialize)] struct A { #[serde(deserialize_with = \"crate::web::x\")] a: u8 }"),
        file(&["core", "admin", "x"], "core", "use super::super::super::api::App;"),
    ];
    let _ = std::fs::create_dir_all(dir.path());
    let bad = violations(&cases);
    assert_eq!(bad.len(), cases.len(), "{bad:#?}");
    let fine = [file(
        &["store", "y"],
        "store",
        "use crate::{db::AnyConnection, domain::ids::LinkId};",
    )];
    assert!(violations(&fine).is_empty());
    let cycle = [
        file(&["store", "a"], "store", "use crate::store::b::f;"),
        file(&["store", "b"], "store", "use crate::store::a::g;"),
    ];
    assert_eq!(cycles(&cycle).len(), 1, "{:?}", cycles(&cycle));
}

/// SQL written as text lives in named constants of `db/` and `store/`, and each is listed in
/// its file's `STATEMENTS` (or `PG_STATEMENTS`, `SQLITE_STATEMENTS`), which
/// `store::statements()` hands to the test that prepares them on both backends
/// (`tests/api/sql.rs`). Nowhere else is SQL handed to diesel as text built at run time.
#[test]
fn every_constant_statement_is_catalogued() {
    let catalogue =
        std::fs::read_to_string(src().join("store").join("mod.rs")).expect("store/mod.rs");
    let mut missing = Vec::new();
    for file in all_sources() {
        let text = std::fs::read_to_string(&file.path).unwrap();
        let ast = syn::parse_file(&text).unwrap();
        let mut statements: Vec<String> = Vec::new();
        let mut listed: Vec<(String, String)> = Vec::new();
        for item in &ast.items {
            let syn::Item::Const(c) = item else { continue };
            let name = c.ident.to_string();
            let value = quote_of(&c.expr);
            if name.ends_with("STATEMENTS") {
                listed.push((name, value));
            } else if ["SELECT ", "INSERT ", "UPDATE ", "DELETE "]
                .iter()
                .any(|k| value.contains(k))
            {
                statements.push(name);
            }
        }
        let rel = file.path.strip_prefix(src()).unwrap().display().to_string();
        for name in &statements {
            if !listed.iter().any(|(_, v)| v.contains(name.as_str())) {
                missing.push(format!("src/{rel}: {name} is in no STATEMENTS list"));
            }
        }
        let module = file.module.join("::");
        for (list, _) in &listed {
            let short = module.trim_start_matches("store::");
            let named = [
                format!("{short}::{list}"),
                format!("crate::{module}::{list}"),
            ];
            if !named.iter().any(|n| catalogue.contains(n.as_str())) {
                missing.push(format!(
                    "src/{rel}: {list} is not read by store::statements()"
                ));
            }
        }
        if !matches!(file.layer, "db") {
            for needle in [
                "sql_query(format!",
                "batch_execute(&format!",
                "sql_query(&format!",
            ] {
                if text.contains(needle) {
                    missing.push(format!("src/{rel}: SQL built at run time ({needle}…)"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

fn quote_of(expr: &syn::Expr) -> String {
    use quote::ToTokens;
    expr.to_token_stream().to_string()
}
