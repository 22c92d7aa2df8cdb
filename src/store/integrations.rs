//! A brand's storefront connections: the secret that signs each platform's webhooks.

use diesel::prelude::*;

use crate::db::schema::integrations;
use crate::db::{with_backend, AnyConnection};
use crate::domain::ids::BrandId;
use crate::domain::integrations::Platform;

pub fn webhook_secret(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    platform: Platform,
) -> QueryResult<Option<String>> {
    integrations::table
        .filter(integrations::brand_id.eq(brand_id))
        .filter(integrations::platform.eq(platform))
        .select(integrations::webhook_secret)
        .first(conn)
        .optional()
}

/// Every stored webhook secret (sealed), to seal again after a key rotation.
pub fn all_webhook_secrets(
    conn: &mut AnyConnection,
) -> QueryResult<Vec<(BrandId, Platform, String)>> {
    integrations::table
        .select((
            integrations::brand_id,
            integrations::platform,
            integrations::webhook_secret,
        ))
        .load(conn)
}

pub fn put_webhook_secret(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    platform: Platform,
    secret: &str,
    at: i64,
) -> QueryResult<()> {
    with_backend!(conn, |c| diesel::insert_into(integrations::table)
        .values((
            integrations::brand_id.eq(brand_id),
            integrations::platform.eq(platform),
            integrations::webhook_secret.eq(secret),
            integrations::updated_at.eq(at),
        ))
        .on_conflict((integrations::brand_id, integrations::platform))
        .do_update()
        .set((
            integrations::webhook_secret.eq(secret),
            integrations::updated_at.eq(at),
        ))
        .execute(c))
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
