//! Where the database is: a SQLite file or a PostgreSQL URL, told apart by the scheme.

use crate::db::{Backend, DbSetupError};

/// A database location, parsed from the URL scheme. A `postgres://` URL never falls back to
/// SQLite, and anything without a known scheme is a SQLite file path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    pub(crate) backend: Backend,
    pub(crate) url: String,
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, DbSetupError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(DbSetupError::InvalidUrl("empty".into()));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            let parsed = url::Url::parse(raw)
                .map_err(|e| DbSetupError::InvalidUrl(format!("PostgreSQL URL: {e}")))?;
            if parsed.host_str().unwrap_or("").is_empty() && !raw.contains("host=") {
                return Err(DbSetupError::InvalidUrl(
                    "PostgreSQL URL without a host".into(),
                ));
            }
            return Ok(Self {
                backend: Backend::Postgres,
                url: raw.to_string(),
            });
        }
        if let Some(path) = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(DbSetupError::InvalidUrl("sqlite URL without a path".into()));
            }
            return Ok(Self {
                backend: Backend::Sqlite,
                url: path.to_string(),
            });
        }
        if let Some((scheme, _)) = raw.split_once("://") {
            return Err(DbSetupError::InvalidUrl(format!(
                "unsupported scheme {scheme:?} (use a SQLite path, sqlite://, or postgres://)"
            )));
        }
        Ok(Self {
            backend: Backend::Sqlite,
            url: raw.to_string(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The string handed to the driver: a file path for SQLite, the URL for PostgreSQL.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    pub(crate) fn connect_string(&self) -> String {
        match self.backend {
            Backend::Postgres => self.url.clone(),
            // diesel's SQLite connection takes a plain path; `:memory:` is refused because a
            // pool of in-memory databases would be several unrelated databases.
            Backend::Sqlite => self.url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_backend_from_scheme() {
        assert_eq!(
            DatabaseUrl::parse("influtrack.db").unwrap().backend(),
            Backend::Sqlite
        );
        let u = DatabaseUrl::parse("sqlite:///tmp/x.db").unwrap();
        assert_eq!((u.backend(), u.as_str()), (Backend::Sqlite, "/tmp/x.db"));
        let u = DatabaseUrl::parse("sqlite://data/x.db").unwrap();
        assert_eq!(u.as_str(), "data/x.db");
        assert_eq!(
            DatabaseUrl::parse("postgres://u@localhost/db")
                .unwrap()
                .backend(),
            Backend::Postgres
        );
    }

    #[test]
    fn bad_urls_are_errors_not_files() {
        assert!(DatabaseUrl::parse("postgres://").is_err());
        assert!(DatabaseUrl::parse("postgres://[::1").is_err());
        assert!(DatabaseUrl::parse("mysql://localhost/x").is_err());
        assert!(DatabaseUrl::parse("").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }
}
