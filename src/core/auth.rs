//! Who is asking: the operator (instance-wide) or one brand's key with its scope. Scope
//! failures are 403, tenancy failures 404 (another brand's id answers like a missing one).

use crate::core::Core;
use crate::db::DbError;
use crate::domain::ids::{BrandId, InfluencerId, KeyId};
use crate::domain::keys::{self, Presented};
use crate::domain::scope::{Access, Scope};
use crate::store;

/// A brand key that passed authentication.
#[derive(Debug, Clone)]
pub struct BrandKey {
    pub key_id: KeyId,
    pub brand_id: BrandId,
    pub scope: Scope,
    /// Set for influencer keys.
    pub influencer_id: Option<InfluencerId>,
}

#[derive(Debug, Clone)]
pub enum Principal {
    Operator,
    Brand(BrandKey),
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing or invalid API key")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(&'static str),
    /// Another brand's resource: answered like a missing one.
    #[error("no such resource")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What a scope failure says.
pub const WRONG_SCOPE: &str = "this key's scope does not allow this operation";

impl Principal {
    /// Instance-wide operations (creating brands).
    pub fn operator(&self) -> Result<(), AuthError> {
        match self {
            Self::Operator => Ok(()),
            Self::Brand(_) => Err(AuthError::Forbidden(
                "this operation needs the operator token",
            )),
        }
    }

    /// Brand-scoped operations: the brand is the key's own.
    pub fn brand(&self, access: Access) -> Result<&BrandKey, AuthError> {
        match self {
            Self::Brand(key) if access.allows(key.scope) => Ok(key),
            Self::Brand(_) => Err(AuthError::Forbidden(WRONG_SCOPE)),
            Self::Operator => Err(AuthError::Forbidden(
                "the operator token does not act on brand data; use a brand key",
            )),
        }
    }

    /// Operations on a named brand that the operator and that brand's admins may perform.
    /// Scope is judged first, so a missing and a foreign brand answer alike (404).
    pub fn admin_of(&self, brand_id: &BrandId) -> Result<(), AuthError> {
        match self {
            Self::Operator => Ok(()),
            Self::Brand(key) if key.scope != Scope::Admin => Err(AuthError::Forbidden(WRONG_SCOPE)),
            Self::Brand(key) if key.brand_id == *brand_id => Ok(()),
            Self::Brand(_) => Err(AuthError::NotFound),
        }
    }

    /// The brand a principal may read one brand as: the operator any, a key its own.
    pub fn may_see_brand(&self, brand_id: &BrandId) -> Result<(), AuthError> {
        match self {
            Self::Brand(key) if key.brand_id != *brand_id => Err(AuthError::NotFound),
            _ => Ok(()),
        }
    }

    /// The influencer's own key (for its own view).
    pub fn influencer(&self) -> Result<(&BrandKey, &InfluencerId), AuthError> {
        const ONLY: &str = "this is the influencer's own view; use an influencer key";
        match self {
            Self::Brand(key) if key.scope == Scope::Influencer => key
                .influencer_id
                .as_ref()
                .map(|id| (key, id))
                .ok_or(AuthError::Forbidden(WRONG_SCOPE)),
            _ => Err(AuthError::Forbidden(ONLY)),
        }
    }
}

/// Checks a presented token: the operator token, or a brand key that exists, is not revoked
/// and matches its stored hash (compared in constant time).
pub async fn authenticate(core: &Core, token: String) -> Result<Principal, AuthError> {
    let presented_hash = keys::hash_secret(&token);
    let lookup = match keys::classify(&token) {
        Presented::Operator => {
            return if keys::hashes_match(&presented_hash, &core.operator_hash) {
                Ok(Principal::Operator)
            } else {
                Err(AuthError::Unauthorized)
            };
        }
        Presented::Brand { lookup } => lookup.to_string(),
    };
    let row = core
        .read(move |conn| {
            store::keys::find_by_lookup(conn, &lookup).map_err(|e| AuthError::Db(e.into()))
        })
        .await?
        .ok_or(AuthError::Unauthorized)?;
    if row.revoked_at.is_some() || !keys::hashes_match(&presented_hash, &row.secret_hash) {
        return Err(AuthError::Unauthorized);
    }
    Ok(Principal::Brand(BrandKey {
        key_id: row.id,
        brand_id: row.brand_id,
        scope: row.scope,
        influencer_id: row.influencer_id,
    }))
}

/// Name of the setting that holds the operator token's hash.
const OPERATOR_HASH_SETTING: &str = "operator_token_hash";

/// The operator token's hash: from the configured token when given, else the stored one, else
/// a new token generated now (returned too, so that it can be shown once; only its hash is
/// stored).
pub fn operator_hash(
    conn: &mut crate::db::AnyConnection,
    configured: Option<&str>,
) -> Result<(String, Option<String>), DbError> {
    if let Some(token) = configured.filter(|t| !t.trim().is_empty()) {
        return Ok((keys::hash_secret(token.trim()), None));
    }
    if let Some(hash) = store::settings::get(conn, OPERATOR_HASH_SETTING)? {
        return Ok((hash, None));
    }
    let token = keys::mint_operator_token();
    let hash = keys::hash_secret(&token);
    let stored = store::settings::get_or_insert(conn, OPERATOR_HASH_SETTING, &hash)?;
    // Another instance may have won the race; then its token is the one.
    let shown = (stored == hash).then_some(token);
    Ok((stored, shown))
}

/// A dashboard session ends after this long without a request…
pub const SESSION_IDLE_MICROS: i64 = 12 * 3_600 * 1_000_000;
/// …and this long after sign-in, whatever happens.
pub const SESSION_ABSOLUTE_MICROS: i64 = 7 * 24 * 3_600 * 1_000_000;
/// The idle expiry is moved on at most this often (one write per page view would be waste).
const SESSION_TOUCH_MICROS: i64 = 60 * 1_000_000;

/// A new dashboard session for a key that passed [`authenticate`]: the secret for the cookie
/// (only its hash is stored).
pub fn start_session(
    conn: &mut crate::db::AnyConnection,
    key: &BrandKey,
    now: i64,
) -> Result<String, DbError> {
    let secret = keys::mint_session_secret();
    store::sessions::delete_expired(conn, now)?;
    store::sessions::insert(
        conn,
        &store::sessions::SessionRow {
            id: keys::hash_secret(&secret),
            key_id: key.key_id.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: (now + SESSION_IDLE_MICROS).min(now + SESSION_ABSOLUTE_MICROS),
        },
    )?;
    Ok(secret)
}

/// The key of a live session: not expired (idle or absolute), its key not revoked.
pub fn session_key(
    conn: &mut crate::db::AnyConnection,
    secret: &str,
    now: i64,
) -> Result<BrandKey, AuthError> {
    let id = keys::hash_secret(secret);
    let (session, key) = store::sessions::find(conn, &id)
        .map_err(DbError::from)?
        .ok_or(AuthError::Unauthorized)?;
    if key.revoked_at.is_some() || session.expires_at <= now {
        store::sessions::delete(conn, &id).map_err(DbError::from)?;
        return Err(AuthError::Unauthorized);
    }
    if now - session.last_seen_at >= SESSION_TOUCH_MICROS {
        let expires_at =
            (now + SESSION_IDLE_MICROS).min(session.created_at + SESSION_ABSOLUTE_MICROS);
        store::sessions::touch(conn, &id, now, expires_at).map_err(DbError::from)?;
    }
    Ok(BrandKey {
        key_id: key.id,
        brand_id: key.brand_id,
        scope: key.scope,
        influencer_id: key.influencer_id,
    })
}

/// Ends a session (sign-out); an unknown secret ends nothing.
pub fn end_session(conn: &mut crate::db::AnyConnection, secret: &str) -> Result<(), DbError> {
    store::sessions::delete(conn, &keys::hash_secret(secret))?;
    Ok(())
}
