//! PostgreSQL's `LISTEN`/`NOTIFY`, for the instances of one database to tell each other what
//! changed.

use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::db::sql::{Bind, Fixed};
use crate::db::AnyConnection;

/// Sends a notification (delivered to listeners once the sender's transaction commits; at once
/// outside one).
const NOTIFY: &str = "SELECT pg_notify(?, ?)";
/// The other instances listening on this database, by their listeners' `application_name`.
const OTHERS: &str = "SELECT substr(application_name, 21) AS name FROM pg_stat_activity \
     WHERE datname = current_database() AND application_name LIKE 'influtrack-instance %' \
     AND pid <> pg_backend_pid() ORDER BY 1";
/// A round trip that tells a live connection from a dead one.
const PING: &str = "SELECT 1";

/// The constant statements of this module (see [`crate::db::sql::Fixed`]), PostgreSQL only.
pub const PG_STATEMENTS: &[&str] = &[NOTIFY, OTHERS, PING];

/// Notifies `channel` with `payload` (nothing on SQLite).
pub fn notify(conn: &mut AnyConnection, channel: &str, payload: &str) -> diesel::QueryResult<()> {
    let AnyConnection::Postgresql(pg) = conn else {
        return Ok(());
    };
    Fixed::new(NOTIFY, vec![Bind::Text(channel), Bind::Text(payload)])
        .execute(pg)
        .map(|_| ())
}

/// A connection of its own that listens on `channel`, named `influtrack-instance <instance>`
/// so that other instances can see it.
pub fn listen(url: &str, channel: &str, instance: &str) -> Result<PgConnection, String> {
    // TCP keepalives and a send timeout: a connection dropped without a word (a failover, a
    // firewall) is noticed in seconds, not after the kernel's 15 minutes.
    let separator = if url.contains('?') { '&' } else { '?' };
    let url = format!(
        "{url}{separator}keepalives=1&keepalives_idle=10&keepalives_interval=5&keepalives_count=3&tcp_user_timeout=20000"
    );
    let mut c = PgConnection::establish(&url).map_err(|e| e.to_string())?;
    // Identifiers and a setting's value cannot be bound; both come from this program (the
    // instance id is hex and digits).
    let safe = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if !safe(channel) || !safe(instance) {
        return Err("unsafe channel or instance name".into());
    }
    diesel::sql_query(format!(
        "SET application_name = 'influtrack-instance {instance}'"
    ))
    .execute(&mut c)
    .and_then(|_| diesel::sql_query(format!("LISTEN {channel}")).execute(&mut c))
    .map_err(|e| e.to_string())?;
    Ok(c)
}

/// The other instances listening on this database.
pub fn others(conn: &mut PgConnection) -> diesel::QueryResult<Vec<String>> {
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let rows: Vec<Name> = Fixed::new(OTHERS, vec![]).load(conn)?;
    Ok(rows.into_iter().map(|r| r.name).collect())
}

/// The payloads that arrived since the last call (reads what the socket holds, never waits).
pub fn received(conn: &mut PgConnection) -> diesel::QueryResult<Vec<String>> {
    conn.notifications_iter()
        .map(|n| n.map(|n| n.payload))
        .collect()
}

/// Fails when the connection is dead.
pub fn ping(conn: &mut PgConnection) -> diesel::QueryResult<()> {
    Fixed::new(PING, vec![]).execute(conn).map(|_| ())
}
