//! What every handler shares: the pool, the backend, instance settings.

use actix_web::web;

use crate::db::{AnyConnection, Backend, DbPool};
use crate::error::{ApiError, ApiResult};

pub struct AppState {
    pub pool: DbPool,
    pub backend: Backend,
    /// Base of short links, without a trailing slash.
    pub public_url: String,
    /// SHA-256 of the operator token.
    pub operator_hash: String,
    /// The redirect's cache and click writer.
    pub tracking: crate::tracking::Tracking,
    /// Group commit of orders on SQLite.
    pub writes: crate::db::GroupCommit,
}

impl AppState {
    /// Runs blocking database work on the blocking pool with a pooled connection.
    pub async fn db<F, T>(&self, work: F) -> ApiResult<T>
    where
        F: FnOnce(&mut AnyConnection) -> ApiResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await
        .map_err(ApiError::from)?
    }
}
