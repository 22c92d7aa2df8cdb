//! Queries, one module per aggregate. Functions take a connection so that callers can compose
//! them inside one transaction. Imports only `db` and `domain`.

pub mod brands;
pub mod campaigns;
pub mod clicks;
pub mod codes;
pub mod credits;
pub mod enrollments;
pub mod events;
pub mod fx;
pub mod influencers;
pub mod integrations;
pub mod keys;
pub mod links;
pub mod orders;
pub mod payouts;
pub mod posts;
pub mod prune_log;
pub mod rollups;
pub mod settings;

/// Every statement the store writes as text, as each backend receives it (`?` on SQLite, `$n`
/// on PostgreSQL): the constants and the multi-row writes for 1, 8 and 64 rows.
pub fn statements() -> Vec<(String, String)> {
    let constants = [
        crate::db::STATEMENTS,
        codes::STATEMENTS,
        credits::STATEMENTS,
        events::STATEMENTS,
        payouts::STATEMENTS,
        rollups::STATEMENTS,
    ];
    let mut out: Vec<(String, String)> = constants
        .into_iter()
        .flatten()
        .map(|sql| crate::db::sql::fixed_sql(sql))
        .collect();
    out.extend(rollups::write_statements());
    out.extend(credits::write_statements());
    for rows in [1, 8, 64] {
        out.push(crate::db::sql::rows_sql::<clicks::ClickColumns>(rows));
    }
    out
}
