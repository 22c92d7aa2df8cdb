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
