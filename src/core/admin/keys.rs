//! API keys of a brand: minted (shown once), listed (never the secret), revoked.

use diesel::Connection;
use serde::{Deserialize, Serialize};

use crate::core::admin::{AdminError, AdminResult, Page};
use crate::core::now_micros;
use crate::db::AnyConnection;
use crate::domain::field::Checks;
use crate::domain::ids::{BrandId, InfluencerId, KeyId};
use crate::domain::json::non_null;
use crate::domain::scope::Scope;
use crate::domain::time::{self, rfc3339};
use crate::domain::{keys, text};
use crate::store::{self, keys::KeyRow};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    pub scope: Scope,
    #[serde(default, deserialize_with = "non_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub influencer_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct KeyView {
    pub id: KeyId,
    pub brand_id: BrandId,
    pub scope: Scope,
    pub name: String,
    pub influencer_id: Option<InfluencerId>,
    /// The public start of the key, to recognise it in a list.
    pub prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<KeyRow> for KeyView {
    fn from(row: KeyRow) -> Self {
        Self {
            prefix: format!("itk_{}", row.lookup),
            id: row.id,
            brand_id: row.brand_id,
            scope: row.scope,
            name: row.name,
            influencer_id: row.influencer_id,
            created_at: rfc3339(row.created_at),
            revoked_at: row.revoked_at.map(time::rfc3339),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub view: KeyView,
    /// The key itself, shown only in this response.
    pub key: String,
}

/// Mints a key for a brand.
pub fn create(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    input: CreateKey,
) -> AdminResult<CreatedKey> {
    let mut checks = Checks::default();
    let name = match input.name.as_deref() {
        Some(n) => checks.take(text::optional("name", n, 200)).flatten(),
        None => None,
    };
    let influencer_id = match (input.scope, input.influencer_id) {
        (Scope::Influencer, None) => {
            checks.fail("influencer_id", "required for influencer keys");
            None
        }
        (Scope::Influencer, Some(id)) => {
            let parsed = InfluencerId::parse(&id);
            if parsed.is_none() {
                checks.fail("influencer_id", "must be a UUID");
            }
            parsed
        }
        (_, Some(_)) => {
            checks.fail(
                "influencer_id",
                "only influencer keys are bound to an influencer",
            );
            None
        }
        (_, None) => None,
    };
    checks.finish()?;
    if store::brands::find(conn, brand_id)?.is_none() {
        return Err(AdminError::not_found());
    }
    if let Some(influencer_id) = &influencer_id {
        if store::influencers::find_row(conn, brand_id, influencer_id)?.is_none() {
            return Err(AdminError::NotFound("no such influencer"));
        }
    }
    let key = keys::mint_brand_key();
    let row = KeyRow {
        id: KeyId::new(),
        brand_id: brand_id.clone(),
        lookup: key.lookup,
        secret_hash: key.hash,
        scope: input.scope,
        name: name.unwrap_or_else(|| format!("{} key", input.scope.as_str())),
        influencer_id,
        created_at: now_micros(),
        revoked_at: None,
    };
    store::keys::insert(conn, &row)?;
    tracing::info!(key_id = %row.id, brand_id = %row.brand_id, scope = %row.scope, "key created");
    Ok(CreatedKey {
        view: row.into(),
        key: key.full,
    })
}

/// A brand's keys, never the secrets.
pub fn list(conn: &mut AnyConnection, brand_id: &BrandId, page: &Page) -> AdminResult<Vec<KeyRow>> {
    if store::brands::find(conn, brand_id)?.is_none() {
        return Err(AdminError::not_found());
    }
    Ok(store::keys::list_for_brand(
        conn,
        brand_id,
        page.after.as_deref(),
        page.fetch(),
    )?)
}

/// Revokes a key at once; `brand` limits it to that brand's keys (a brand admin's call).
pub fn revoke(conn: &mut AnyConnection, brand: Option<&BrandId>, id: &KeyId) -> AdminResult<()> {
    let row = store::keys::find(conn, brand, id)?.ok_or_else(AdminError::not_found)?;
    // Its dashboard sessions end with it.
    conn.transaction(|conn| {
        store::keys::revoke(conn, &row.id, now_micros())?;
        store::sessions::delete_of_key(conn, &row.id)
    })?;
    tracing::info!(key_id = %row.id, "key revoked");
    Ok(())
}
