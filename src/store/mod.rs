//! Queries, one module per aggregate. Functions take a connection so that callers can compose
//! them inside one transaction. Imports only `db` and `domain`.

pub mod announcements;
pub mod brands;
pub mod campaigns;
pub mod clicks;
pub mod code_sync;
pub mod codes;
pub mod costs;
pub mod credits;
pub mod customers;
pub mod enrollments;
pub mod events;
pub mod exclusions;
pub mod fraud;
pub mod fx;
pub mod hooks;
pub mod influencers;
pub mod integrations;
pub mod jobs;
pub mod keys;
pub mod links;
pub mod orders;
pub mod payouts;
pub mod posts;
pub mod prune_log;
pub mod rollups;
pub mod sessions;
pub mod settings;

/// A statement as each backend receives it (`?` on SQLite, `$n` on PostgreSQL); `None` where
/// a backend never runs it.
#[derive(Debug, Clone)]
pub struct Written {
    pub sqlite: Option<String>,
    pub postgres: Option<String>,
}

/// Every statement the store writes as text: the constants and the multi-row writes for 1, 8
/// and 64 rows (for the test that prepares them all on both backends).
pub fn statements() -> Vec<Written> {
    let both = |(sqlite, postgres): (String, String)| Written {
        sqlite: Some(sqlite),
        postgres: Some(postgres),
    };
    let constants = [
        codes::STATEMENTS,
        credits::STATEMENTS,
        events::STATEMENTS,
        payouts::STATEMENTS,
        rollups::STATEMENTS,
    ];
    let mut out: Vec<Written> = constants
        .into_iter()
        .flatten()
        .map(|sql| both(crate::db::sql::fixed_sql(sql)))
        .collect();
    out.extend(
        rollups::PG_STATEMENTS
            .iter()
            .chain(clicks::PG_STATEMENTS)
            .chain(crate::db::notify::PG_STATEMENTS)
            .map(|sql| Written {
                sqlite: None,
                postgres: Some(crate::db::sql::fixed_sql(sql).1),
            }),
    );
    out.extend(
        crate::db::locks::SQLITE_STATEMENTS
            .iter()
            .map(|sql| Written {
                sqlite: Some(crate::db::sql::fixed_sql(sql).0),
                postgres: None,
            }),
    );
    out.extend(rollups::write_statements().into_iter().map(both));
    out.extend(credits::write_statements().into_iter().map(both));
    for rows in [1, 8, 64] {
        out.push(both(crate::db::sql::rows_sql::<clicks::ClickColumns>(rows)));
    }
    out.push(Written {
        sqlite: None,
        postgres: Some(crate::db::sql::rows_sql::<clicks::LiveClickColumns>(1).1),
    });
    out
}
