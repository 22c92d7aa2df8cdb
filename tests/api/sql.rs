//! The SQL written as text, and the schema diesel is told about, against the real database of
//! the run (SQLite, or PostgreSQL when `INFLUTRACK_TEST_POSTGRES_URL` is set): every constant
//! statement and multi-row write prepares, and `src/db/schema.rs` says exactly what the
//! migrations made.

use std::collections::{BTreeMap, BTreeSet};

use diesel::connection::SimpleConnection;
use diesel::{QueryableByName, RunQueryDsl};
use influtrack::db::{open_connection, AnyConnection, DatabaseUrl};
use influtrack::store::Written;

use crate::helpers::spawn_app;

async fn connection() -> (crate::helpers::TestApp, AnyConnection) {
    let app = spawn_app().await;
    let url = DatabaseUrl::parse(&app.db.url()).expect("database URL");
    let conn = open_connection(&url).expect("connect");
    (app, conn)
}

#[tokio::test]
async fn every_statement_written_as_text_prepares() {
    let (_app, mut conn) = connection().await;
    let statements = influtrack::store::statements();
    assert!(statements.len() >= 20, "{} statements", statements.len());
    for (i, statement) in statements.iter().enumerate() {
        let prepared = match (&mut conn, statement) {
            // EXPLAIN prepares the statement and runs only its plan (unbound values are NULL).
            (
                AnyConnection::Sqlite(c),
                Written {
                    sqlite: Some(sql), ..
                },
            ) => c.batch_execute(&format!("EXPLAIN {sql}")),
            (
                AnyConnection::Postgresql(c),
                Written {
                    postgres: Some(sql),
                    ..
                },
            ) => c.batch_execute(&format!(
                "PREPARE statement_{i} AS {sql}; DEALLOCATE statement_{i}"
            )),
            _ => Ok(()),
        };
        if let Err(e) = prepared {
            panic!("does not prepare: {e}\n{statement:#?}");
        }
    }
}

/// A column as `schema.rs` or the database describes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    name: String,
    /// `text`, `bigint`, `integer` or `boolean`.
    kind: String,
    nullable: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Table {
    columns: Vec<Column>,
    key: Vec<String>,
}

/// The tables of `src/db/schema.rs`, read as text.
fn declared() -> BTreeMap<String, Table> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/db/schema.rs"))
        .expect("schema.rs");
    let mut tables = BTreeMap::new();
    for block in text.split("diesel::table! {").skip(1) {
        let body = block.split("\n}").next().expect("a table block");
        let mut lines = body.lines().map(str::trim).filter(|l| !l.is_empty());
        let head = lines.next().expect("table head");
        let (name, key) = head.split_once(" (").expect("name (key)");
        let key = key
            .split(')')
            .next()
            .unwrap()
            .split(',')
            .map(|k| k.trim().to_string())
            .collect();
        let mut table = Table {
            columns: Vec::new(),
            key,
        };
        for line in lines {
            let Some((column, ty)) = line.split_once(" -> ") else {
                continue;
            };
            let ty = ty.trim_end_matches(',');
            let (nullable, ty) = match ty.strip_prefix("Nullable<") {
                Some(inner) => (true, inner.trim_end_matches('>')),
                None => (false, ty),
            };
            let kind = match ty {
                "Text" => "text",
                "BigInt" => "bigint",
                "Integer" => "integer",
                "Bool" => "boolean",
                other => panic!("schema.rs: unexpected type {other}"),
            };
            table.columns.push(Column {
                name: column.trim().to_string(),
                kind: kind.into(),
                nullable,
            });
        }
        tables.insert(name.trim().to_string(), table);
    }
    tables
}

#[derive(QueryableByName)]
struct PgColumn {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    column_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    data_type: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    nullable: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    key: bool,
}

#[derive(QueryableByName)]
struct SqliteTable {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

#[derive(QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    #[diesel(column_name = "type")]
    kind: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    notnull: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pk: i32,
}

/// The tables the migrations made, as the database describes them.
fn migrated(conn: &mut AnyConnection) -> BTreeMap<String, Table> {
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    match conn {
        AnyConnection::Postgresql(c) => {
            let rows: Vec<PgColumn> = diesel::sql_query(
                "SELECT c.table_name::text AS table_name, c.column_name::text AS column_name, \
                   c.data_type::text AS data_type, c.is_nullable = 'YES' AS nullable, \
                   EXISTS (SELECT 1 FROM information_schema.table_constraints t \
                     JOIN information_schema.key_column_usage k \
                       ON k.constraint_name = t.constraint_name AND k.table_name = t.table_name \
                     WHERE t.table_name = c.table_name AND t.constraint_type = 'PRIMARY KEY' \
                       AND k.column_name = c.column_name) AS key \
                 FROM information_schema.columns c \
                 WHERE c.table_schema = current_schema() \
                   AND c.table_name <> '__diesel_schema_migrations' \
                 ORDER BY c.table_name, c.ordinal_position",
            )
            .load(c)
            .expect("columns");
            for r in rows {
                let t = tables.entry(r.table_name).or_default();
                if r.key {
                    t.key.push(r.column_name.clone());
                }
                t.columns.push(Column {
                    name: r.column_name,
                    kind: r.data_type,
                    nullable: r.nullable,
                });
            }
        }
        AnyConnection::Sqlite(c) => {
            let names: Vec<SqliteTable> = diesel::sql_query(
                "SELECT name FROM main.sqlite_master WHERE type = 'table' \
                   AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations' \
                 UNION SELECT name FROM clickdb.sqlite_master WHERE type = 'table'",
            )
            .load(c)
            .expect("tables");
            for SqliteTable { name } in names {
                let columns: Vec<SqliteColumn> =
                    diesel::sql_query(format!("SELECT * FROM pragma_table_info('{name}')"))
                        .load(c)
                        .expect("table info");
                let t = tables.entry(name).or_default();
                let mut key: Vec<(i32, String)> = Vec::new();
                for col in columns {
                    if col.pk > 0 {
                        key.push((col.pk, col.name.clone()));
                    }
                    t.columns.push(Column {
                        name: col.name,
                        kind: col.kind.to_lowercase(),
                        // A primary key column is NOT NULL whatever its declaration says.
                        nullable: col.notnull == 0 && col.pk == 0,
                    });
                }
                key.sort();
                t.key = key.into_iter().map(|(_, k)| k).collect();
            }
        }
    }
    tables
}

#[tokio::test]
async fn schema_rs_describes_what_the_migrations_made() {
    let (_app, mut conn) = connection().await;
    let declared = declared();
    let migrated = migrated(&mut conn);
    let names = |t: &BTreeMap<String, Table>| t.keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(
        names(&declared),
        names(&migrated),
        "tables in schema.rs and in the database differ"
    );
    for (name, table) in &declared {
        let actual = &migrated[name];
        assert_eq!(
            table.columns, actual.columns,
            "columns of {name} (schema.rs, then the database)"
        );
        let key: BTreeSet<&String> = table.key.iter().collect();
        let actual_key: BTreeSet<&String> = actual.key.iter().collect();
        assert_eq!(key, actual_key, "primary key of {name}");
    }
}
