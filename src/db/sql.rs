//! SQL written as text, for what diesel's query builder cannot say on both backends or cannot
//! cache: constant statements ([`Fixed`]) and multi-row inserts and upserts that one column
//! list ([`Columns`]) spells in both dialects ([`write_rows`]).
//!
//! Nothing here assembles SQL from values: statement text comes from constants, values are
//! always bound.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sqlite::Sqlite;
use diesel::{PgConnection, QueryResult, RunQueryDsl, SqliteConnection};

use crate::db::AnyConnection;

/// A bound value. The arrays are PostgreSQL's, for `unnest`.
#[derive(Debug, Clone)]
pub enum Bind<'a> {
    Text(&'a str),
    NullableText(Option<&'a str>),
    Int(i32),
    BigInt(i64),
    Bool(bool),
    TextArray(Vec<&'a str>),
    NullableTextArray(Vec<Option<&'a str>>),
    IntArray(Vec<i32>),
    BigIntArray(Vec<i64>),
    BoolArray(Vec<bool>),
}

fn misuse(what: &str) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(format!("a SQL statement has {what}").into())
}

fn push_sqlite<'b>(out: &mut AstPass<'_, 'b, Sqlite>, value: &'b Bind<'_>) -> QueryResult<()> {
    use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text};
    match value {
        Bind::Text(v) => out.push_bind_param::<Text, str>(v),
        Bind::NullableText(v) => out.push_bind_param::<Nullable<Text>, Option<&str>>(v),
        Bind::Int(v) => out.push_bind_param::<Integer, i32>(v),
        Bind::BigInt(v) => out.push_bind_param::<BigInt, i64>(v),
        Bind::Bool(v) => out.push_bind_param::<Bool, bool>(v),
        _ => Err(misuse("an array value (PostgreSQL only)")),
    }
}

fn push_pg<'b>(out: &mut AstPass<'_, 'b, Pg>, value: &'b Bind<'_>) -> QueryResult<()> {
    use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text};
    match value {
        Bind::Text(v) => out.push_bind_param::<Text, str>(v),
        Bind::NullableText(v) => out.push_bind_param::<Nullable<Text>, Option<&str>>(v),
        Bind::Int(v) => out.push_bind_param::<Integer, i32>(v),
        Bind::BigInt(v) => out.push_bind_param::<BigInt, i64>(v),
        Bind::Bool(v) => out.push_bind_param::<Bool, bool>(v),
        Bind::TextArray(v) => out.push_bind_param::<Array<Text>, _>(v),
        Bind::NullableTextArray(v) => out.push_bind_param::<Array<Nullable<Text>>, _>(v),
        Bind::IntArray(v) => out.push_bind_param::<Array<Integer>, _>(v),
        Bind::BigIntArray(v) => out.push_bind_param::<Array<BigInt>, _>(v),
        Bind::BoolArray(v) => out.push_bind_param::<Array<Bool>, _>(v),
    }
}

/// A statement whose SQL is a constant, with `?` placeholders for `binds` (written `$n` on
/// PostgreSQL). diesel does not cache the prepared statements of hand-written SQL by default
/// (its text could vary); this one is cached by its text, so it is parsed and planned once per
/// connection. In the order benchmark, re-parsing the daily rollup upsert on every call took
/// ~19% of SQLite's instructions.
///
/// It loads rows of `QueryableByName` types and runs on a concrete connection
/// ([`crate::with_backend`]).
#[derive(Debug, Clone)]
pub struct Fixed<'a> {
    pub sql: &'static str,
    pub binds: Vec<Bind<'a>>,
}

impl<'a> Fixed<'a> {
    pub fn new(sql: &'static str, binds: Vec<Bind<'a>>) -> Self {
        Self { sql, binds }
    }

    /// The SQL with each `?` replaced by the next value, bound by `bind`.
    fn walk<'b, DB: diesel::backend::Backend>(
        &'b self,
        out: &mut AstPass<'_, 'b, DB>,
        mut bind: impl FnMut(&mut AstPass<'_, 'b, DB>, &'b Bind<'_>) -> QueryResult<()>,
    ) -> QueryResult<()> {
        let mut parts = self.sql.split('?');
        out.push_sql(parts.next().unwrap_or_default());
        let mut binds = self.binds.iter();
        for part in parts {
            let value = binds
                .next()
                .ok_or_else(|| misuse("more placeholders than values"))?;
            bind(out, value)?;
            out.push_sql(part);
        }
        if binds.next().is_some() {
            return Err(misuse("more values than placeholders"));
        }
        Ok(())
    }
}

impl QueryFragment<Sqlite> for Fixed<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.walk(&mut out, push_sqlite)
    }
}

impl QueryFragment<Pg> for Fixed<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.walk(&mut out, push_pg)
    }
}

impl QueryId for Fixed<'_> {
    type QueryId = ();
    // No static id: cached by the SQL text, which is a constant.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Fixed<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl<C> RunQueryDsl<C> for Fixed<'_> {}

/// How a column is bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    Text,
    NullableText,
    Int,
    BigInt,
    Bool,
}

impl SqlType {
    /// The element type of the PostgreSQL array that carries the column in an `unnest`.
    fn pg_array(self) -> &'static str {
        match self {
            Self::Text | Self::NullableText => "TEXT[]",
            Self::Int => "INTEGER[]",
            Self::BigInt => "BIGINT[]",
            Self::Bool => "BOOLEAN[]",
        }
    }
}

/// What a multi-row write does with a row whose key exists.
#[derive(Debug, Clone, Copy)]
pub enum Conflict {
    /// A plain insert: a duplicate is an error.
    Fail,
    /// A rollup: the new row's sums are added to the stored row with the same key.
    Add { key: &'static [&'static str] },
}

/// The columns one statement writes to a table, in the order each row binds them, and what a
/// conflict does: everything both dialects need to write many rows at once.
pub trait Columns: 'static {
    const TABLE: &'static str;
    /// Columns written as given.
    const COLUMNS: &'static [(&'static str, SqlType)];
    /// Counts (`BIGINT`) bound after them, added to the stored row's on a conflict.
    const SUMS: &'static [&'static str] = &[];
    const CONFLICT: Conflict;
    /// PostgreSQL only: a condition after the rows (`WHERE …`, one `?` for the value that
    /// [`write_guarded_rows`] binds); when it is false nothing is written.
    const GUARD: &'static str = "";
}

/// Every column of `T` in bind order: its columns, then its sums.
fn columns<T: Columns>() -> impl Iterator<Item = (&'static str, SqlType)> {
    T::COLUMNS
        .iter()
        .copied()
        .chain(T::SUMS.iter().map(|s| (*s, SqlType::BigInt)))
}

/// Values a row binds.
pub fn width<T: Columns>() -> usize {
    T::COLUMNS.len() + T::SUMS.len()
}

fn push_head<T: Columns, DB: diesel::backend::Backend>(out: &mut AstPass<'_, '_, DB>) {
    out.push_sql("INSERT INTO ");
    out.push_sql(T::TABLE);
    out.push_sql(" (");
    for (i, (name, _)) in columns::<T>().enumerate() {
        if i > 0 {
            out.push_sql(", ");
        }
        out.push_sql(name);
    }
    out.push_sql(") ");
}

fn push_conflict<T: Columns, DB: diesel::backend::Backend>(out: &mut AstPass<'_, '_, DB>) {
    let Conflict::Add { key } = T::CONFLICT else {
        return;
    };
    out.push_sql(" ON CONFLICT (");
    out.push_sql(&key.join(", "));
    out.push_sql(") DO UPDATE SET ");
    for (i, column) in T::SUMS.iter().enumerate() {
        if i > 0 {
            out.push_sql(", ");
        }
        for part in [
            *column,
            " = ",
            T::TABLE,
            ".",
            column,
            " + excluded.",
            column,
        ] {
            out.push_sql(part);
        }
    }
}

/// `N` rows in one SQLite statement: `INSERT … VALUES (…), (…)`. Its SQL depends only on the
/// table and `N`, so diesel caches the prepared statement by its type, without building the
/// text again.
struct SqliteRows<'a, T, const N: usize> {
    binds: &'a [Bind<'a>],
    table: std::marker::PhantomData<T>,
}

impl<T: Columns, const N: usize> QueryFragment<Sqlite> for SqliteRows<'_, T, N> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        let width = width::<T>();
        if self.binds.len() != N * width {
            return Err(misuse("a row count that is not whole"));
        }
        push_head::<T, _>(&mut out);
        out.push_sql("VALUES ");
        for (i, value) in self.binds.iter().enumerate() {
            out.push_sql(match (i % width, i) {
                (0, 0) => "(",
                (0, _) => "), (",
                _ => ", ",
            });
            push_sqlite(&mut out, value)?;
        }
        out.push_sql(")");
        push_conflict::<T, _>(&mut out);
        Ok(())
    }
}

impl<T: Columns, const N: usize> QueryId for SqliteRows<'_, T, N> {
    type QueryId = SqliteRows<'static, T, N>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<T, C, const N: usize> RunQueryDsl<C> for SqliteRows<'_, T, N> {}

/// Any number of rows in one PostgreSQL statement: one array per column, `unnest`ed. Its SQL
/// never changes with the row count, so it is parsed and planned once per connection.
struct PgRows<'a, T> {
    arrays: Vec<Bind<'a>>,
    /// The value of `T::GUARD`'s placeholder.
    guard: Option<Bind<'a>>,
    table: std::marker::PhantomData<T>,
}

impl<T: Columns> QueryFragment<Pg> for PgRows<'_, T> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        push_head::<T, _>(&mut out);
        out.push_sql("SELECT * FROM unnest(");
        for (i, ((_, ty), array)) in columns::<T>().zip(&self.arrays).enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_sql("CAST(");
            push_pg(&mut out, array)?;
            out.push_sql(" AS ");
            out.push_sql(ty.pg_array());
            out.push_sql(")");
        }
        out.push_sql(")");
        if let Some(guard) = &self.guard {
            let (before, after) = T::GUARD
                .split_once('?')
                .ok_or_else(|| misuse("a guard without its placeholder"))?;
            out.push_sql(before);
            push_pg(&mut out, guard)?;
            out.push_sql(after);
        }
        push_conflict::<T, _>(&mut out);
        Ok(())
    }
}

impl<T: Columns> QueryId for PgRows<'_, T> {
    type QueryId = PgRows<'static, T>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<T, C> RunQueryDsl<C> for PgRows<'_, T> {}

/// Rows per `unnest` statement on PostgreSQL.
pub const PG_ROWS: usize = 5_000;

/// Writes rows to `T`'s table: `binds` holds each row's values in the order of `T::COLUMNS`.
/// SQLite: statements of 64, 8 and 1 rows, each prepared once per connection (parsing a fresh
/// multi-row statement costs more than running a prepared one again in-process, and one row a
/// statement spent its time binding, stepping and finding the cached statement again: 20–30%
/// slower for the click rollups). PostgreSQL: one `unnest` statement per 5,000 rows, one round
/// trip each.
pub fn write_rows<T: Columns>(conn: &mut AnyConnection, binds: &[Bind<'_>]) -> QueryResult<()> {
    let width = width::<T>();
    if width == 0 || !binds.len().is_multiple_of(width) {
        return Err(misuse("a row count that is not whole"));
    }
    match conn {
        AnyConnection::Sqlite(c) => sqlite_rows::<T>(c, binds),
        AnyConnection::Postgresql(c) => pg_rows::<T>(c, binds),
    }
}

fn sqlite_rows<T: Columns>(c: &mut SqliteConnection, binds: &[Bind<'_>]) -> QueryResult<()> {
    let width = width::<T>();
    let mut wide = binds.chunks_exact(64 * width);
    for chunk in wide.by_ref() {
        SqliteRows::<T, 64> {
            binds: chunk,
            table: std::marker::PhantomData,
        }
        .execute(c)?;
    }
    let mut narrow = wide.remainder().chunks_exact(8 * width);
    for chunk in narrow.by_ref() {
        SqliteRows::<T, 8> {
            binds: chunk,
            table: std::marker::PhantomData,
        }
        .execute(c)?;
    }
    for row in narrow.remainder().chunks_exact(width) {
        SqliteRows::<T, 1> {
            binds: row,
            table: std::marker::PhantomData,
        }
        .execute(c)?;
    }
    Ok(())
}

fn pg_rows<T: Columns>(c: &mut PgConnection, binds: &[Bind<'_>]) -> QueryResult<()> {
    for chunk in binds.chunks(PG_ROWS * width::<T>()) {
        pg_statement::<T>(chunk, None)?.execute(c)?;
    }
    Ok(())
}

/// PostgreSQL: writes up to [`PG_ROWS`] rows in one statement that writes them only when
/// `T::GUARD` holds for `guard`; returns the rows written (all or none).
pub fn write_guarded_rows<T: Columns>(
    c: &mut PgConnection,
    binds: &[Bind<'_>],
    guard: &str,
) -> QueryResult<usize> {
    let width = width::<T>();
    if width == 0 || !binds.len().is_multiple_of(width) || binds.len() > PG_ROWS * width {
        return Err(misuse(
            "a row count that is not whole or not one statement's",
        ));
    }
    if T::GUARD.is_empty() {
        return Err(misuse("no guard"));
    }
    pg_statement::<T>(binds, Some(Bind::Text(guard)))?.execute(c)
}

/// One `unnest` statement of these rows: each column's values as one array.
fn pg_statement<'a, T: Columns>(
    binds: &'a [Bind<'a>],
    guard: Option<Bind<'a>>,
) -> QueryResult<PgRows<'a, T>> {
    let width = width::<T>();
    let rows = binds.len() / width;
    let column = |j: usize| (0..rows).map(move |i| &binds[i * width + j]);
    let mut arrays = Vec::with_capacity(width);
    for (j, (_, ty)) in columns::<T>().enumerate() {
        arrays.push(array_of(ty, column(j))?);
    }
    Ok(PgRows {
        arrays,
        guard,
        table: std::marker::PhantomData,
    })
}

/// One column's values as the array that binds them.
fn array_of<'a, 'b: 'a>(
    ty: SqlType,
    values: impl Iterator<Item = &'a Bind<'b>>,
) -> QueryResult<Bind<'b>> {
    /// Every value as the column's type, or the misuse.
    fn each<'a, 'b: 'a, T>(
        values: impl Iterator<Item = &'a Bind<'b>>,
        pick: impl Fn(&Bind<'b>) -> Option<T>,
    ) -> QueryResult<Vec<T>> {
        values
            .map(|v| pick(v).ok_or_else(|| misuse("a value of another type than its column")))
            .collect()
    }
    Ok(match ty {
        SqlType::Text => Bind::TextArray(each(values, |v| match v {
            Bind::Text(t) => Some(*t),
            _ => None,
        })?),
        SqlType::NullableText => Bind::NullableTextArray(each(values, |v| match v {
            Bind::NullableText(t) => Some(*t),
            Bind::Text(t) => Some(Some(*t)),
            _ => None,
        })?),
        SqlType::Int => Bind::IntArray(each(values, |v| match v {
            Bind::Int(n) => Some(*n),
            _ => None,
        })?),
        SqlType::BigInt => Bind::BigIntArray(each(values, |v| match v {
            Bind::BigInt(n) => Some(*n),
            _ => None,
        })?),
        SqlType::Bool => Bind::BoolArray(each(values, |v| match v {
            Bind::Bool(b) => Some(*b),
            _ => None,
        })?),
    })
}

/// The SQL text `write_rows` sends for `T`: on SQLite for `rows` rows, on PostgreSQL for any
/// number. For the test that prepares every statement on both backends.
pub fn rows_sql<T: Columns>(rows: usize) -> (String, String) {
    let width = width::<T>();
    let sqlite_binds = vec![Bind::Int(0); rows * width];
    let sqlite = match rows {
        64 => sql_text::<Sqlite, _>(&SqliteRows::<T, 64> {
            binds: &sqlite_binds,
            table: std::marker::PhantomData,
        }),
        8 => sql_text::<Sqlite, _>(&SqliteRows::<T, 8> {
            binds: &sqlite_binds,
            table: std::marker::PhantomData,
        }),
        _ => sql_text::<Sqlite, _>(&SqliteRows::<T, 1> {
            binds: &sqlite_binds[..width],
            table: std::marker::PhantomData,
        }),
    };
    let pg = sql_text::<Pg, _>(&PgRows::<T> {
        arrays: vec![Bind::IntArray(vec![]); width],
        guard: (!T::GUARD.is_empty()).then_some(Bind::Text("")),
        table: std::marker::PhantomData,
    });
    (sqlite, pg)
}

/// The SQL of a constant statement on each backend (`?` on SQLite, `$n` on PostgreSQL).
pub fn fixed_sql(sql: &'static str) -> (String, String) {
    let placeholders = sql.matches('?').count();
    let fixed = Fixed::new(sql, vec![Bind::Int(0); placeholders]);
    (sql_text::<Sqlite, _>(&fixed), sql_text::<Pg, _>(&fixed))
}

fn sql_text<DB, Q>(query: &Q) -> String
where
    DB: diesel::backend::Backend + Default,
    DB::QueryBuilder: Default,
    Q: QueryFragment<DB>,
{
    diesel::debug_query::<DB, _>(query)
        .to_string()
        .split(" -- binds: ")
        .next()
        .unwrap_or_default()
        .to_string()
}
