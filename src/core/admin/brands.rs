//! Brands: created by the operator; each comes with its first admin key.

use diesel::Connection;
use serde::{Deserialize, Serialize};

use crate::core::admin::{AdminError, AdminResult, Page};
use crate::core::now_micros;
use crate::db::AnyConnection;
use crate::domain::ids::{BrandId, KeyId};
use crate::domain::scope::Scope;
use crate::domain::time::rfc3339;
use crate::domain::{keys, text};
use crate::store::{self, brands::BrandRow, keys::KeyRow};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBrand {
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct BrandView {
    pub id: BrandId,
    pub name: String,
    pub created_at: String,
}

impl From<BrandRow> for BrandView {
    fn from(row: BrandRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            created_at: rfc3339(row.created_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CreatedBrand {
    #[serde(flatten)]
    pub brand: BrandView,
    /// The brand's first admin key, shown only here.
    pub admin_key: String,
    pub admin_key_id: KeyId,
}

/// Creates a brand and its first admin key in one transaction.
pub fn create(conn: &mut AnyConnection, input: CreateBrand) -> AdminResult<CreatedBrand> {
    let name = text::required("name", &input.name, 200)?;
    let now = now_micros();
    let brand = BrandRow {
        id: BrandId::new(),
        name,
        created_at: now,
    };
    let key = keys::mint_brand_key();
    let key_row = KeyRow {
        id: KeyId::new(),
        brand_id: brand.id.clone(),
        lookup: key.lookup,
        secret_hash: key.hash,
        scope: Scope::Admin,
        name: "first admin key".into(),
        influencer_id: None,
        created_at: now,
        revoked_at: None,
    };
    conn.transaction(|conn| {
        store::brands::insert(conn, &brand)?;
        store::keys::insert(conn, &key_row)
    })?;
    tracing::info!(brand_id = %brand.id, "brand created");
    Ok(CreatedBrand {
        brand: brand.into(),
        admin_key: key.full,
        admin_key_id: key_row.id,
    })
}

/// Every brand, oldest first.
pub fn list(conn: &mut AnyConnection, page: &Page) -> AdminResult<Vec<BrandRow>> {
    Ok(store::brands::list(
        conn,
        page.after.as_deref(),
        page.fetch(),
    )?)
}

pub fn get(conn: &mut AnyConnection, id: &BrandId) -> AdminResult<BrandRow> {
    store::brands::find(conn, id)?.ok_or_else(AdminError::not_found)
}

/// The getting-started checklist of a brand, each step done or not, in order.
pub fn getting_started(
    conn: &mut AnyConnection,
    id: &BrandId,
) -> AdminResult<Vec<(&'static str, bool)>> {
    let [shop, campaign, influencer, click] = crate::store::brands::progress(conn, id)?;
    Ok(vec![
        ("Connect the store", shop),
        ("Create a campaign", campaign),
        ("Add influencers", influencer),
        ("Share the links (a first click)", click),
    ])
}
