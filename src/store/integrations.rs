//! A brand's storefront connections: the secret that signs each platform's webhooks.

use diesel::prelude::*;

use crate::db::schema::integrations;
use crate::db::types::row;
use crate::db::{with_backend, AnyConnection};
use crate::domain::ids::BrandId;
use crate::domain::integrations::Platform;

row! {
    /// A store connection; secrets as stored (sealed).
    #[derive(Debug, Clone, Insertable, AsChangeset)]
    #[diesel(treat_none_as_null = true)]
    pub struct IntegrationRow in integrations {
        pub brand_id: BrandId,
        pub platform: Platform,
        pub webhook_secret: Option<String>,
        /// Shopify's shop URL or WooCommerce's site URL.
        pub base_url: Option<String>,
        pub access_token: Option<String>,
        pub consumer_key: Option<String>,
        pub consumer_secret: Option<String>,
        pub updated_at: i64,
    }
}

impl IntegrationRow {
    /// Whether the connection has what syncing codes needs: a base URL and the credentials.
    pub fn can_sync(&self) -> bool {
        self.base_url.is_some()
            && match self.platform {
                Platform::Shopify => self.access_token.is_some(),
                Platform::WooCommerce => {
                    self.consumer_key.is_some() && self.consumer_secret.is_some()
                }
            }
    }
}

pub fn find(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    platform: Platform,
) -> QueryResult<Option<IntegrationRow>> {
    integrations::table
        .filter(integrations::brand_id.eq(brand_id))
        .filter(integrations::platform.eq(platform))
        .select(IntegrationRow::as_select())
        .first(conn)
        .optional()
}

/// The sealed webhook secret of a brand's platform, when one is set.
pub fn webhook_secret(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    platform: Platform,
) -> QueryResult<Option<String>> {
    Ok(find(conn, brand_id, platform)?.and_then(|row| row.webhook_secret))
}

/// Every connection (to seal their secrets again after a key rotation).
pub fn all(conn: &mut AnyConnection) -> QueryResult<Vec<IntegrationRow>> {
    integrations::table
        .select(IntegrationRow::as_select())
        .load(conn)
}

/// Writes a connection whole (insert or replace).
pub fn put(conn: &mut AnyConnection, row: &IntegrationRow) -> QueryResult<()> {
    with_backend!(conn, |c| diesel::insert_into(integrations::table)
        .values(row)
        .on_conflict((integrations::brand_id, integrations::platform))
        .do_update()
        .set(row)
        .execute(c))
    .map(|_| ())
}

/// Disconnects a brand's platform (nothing when it is not connected).
pub fn delete(conn: &mut AnyConnection, brand_id: &BrandId, platform: Platform) -> QueryResult<()> {
    diesel::delete(
        integrations::table
            .filter(integrations::brand_id.eq(brand_id))
            .filter(integrations::platform.eq(platform)),
    )
    .execute(conn)
    .map(|_| ())
}

/// Records a signed delivery that was refused, with the reason (never the body).
pub fn record_rejection(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    platform: Platform,
    reason: &str,
    at: i64,
) -> QueryResult<()> {
    use crate::db::schema::webhook_rejections as r;
    diesel::insert_into(r::table)
        .values((
            r::id.eq(crate::domain::ids::RejectionId::new()),
            r::brand_id.eq(brand_id),
            r::platform.eq(platform),
            r::reason.eq(reason),
            r::received_at.eq(at),
        ))
        .execute(conn)
        .map(|_| ())
}

/// The reasons of a brand's refused deliveries for a platform, newest first.
pub fn rejections(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    platform: Platform,
    limit: i64,
) -> QueryResult<Vec<(String, i64)>> {
    use crate::db::schema::webhook_rejections as r;
    r::table
        .filter(r::brand_id.eq(brand_id))
        .filter(r::platform.eq(platform))
        .order((r::received_at.desc(), r::id.desc()))
        .select((r::reason, r::received_at))
        .limit(limit)
        .load(conn)
}
