//! The bearer-key extractor. Every authenticated handler takes a [`Principal`] and asks it for
//! the access it needs; scope failures are 403, tenancy failures are 404.

use std::future::Future;
use std::pin::Pin;

use actix_web::{http::header, web, FromRequest, HttpRequest};

use crate::domain::keys::{self, Presented};
use crate::domain::scope::{Access, Scope};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store;

/// A brand key that passed authentication.
#[derive(Debug, Clone)]
pub struct BrandKey {
    pub key_id: String,
    pub brand_id: String,
    pub scope: Scope,
    pub influencer_id: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Principal {
    Operator,
    Brand(BrandKey),
}

impl Principal {
    /// Instance-wide operations (creating brands).
    pub fn operator(&self) -> Result<(), ApiError> {
        match self {
            Self::Operator => Ok(()),
            Self::Brand(_) => Err(ApiError::Forbidden(
                "this operation needs the operator token".into(),
            )),
        }
    }

    /// Brand-scoped operations: the brand is the key's own.
    pub fn brand(&self, access: Access) -> Result<&BrandKey, ApiError> {
        match self {
            Self::Brand(key) if access.allows(key.scope) => Ok(key),
            Self::Brand(_) => Err(ApiError::forbidden()),
            Self::Operator => Err(ApiError::Forbidden(
                "the operator token does not act on brand data; use a brand key".into(),
            )),
        }
    }

    /// Operations on a named brand that the operator and that brand's admins may perform.
    /// Scope is judged first, so a missing and a foreign brand answer alike (404).
    pub fn admin_of(&self, brand_id: &str) -> Result<(), ApiError> {
        match self {
            Self::Operator => Ok(()),
            Self::Brand(key) if key.scope != Scope::Admin => Err(ApiError::forbidden()),
            Self::Brand(key) if key.brand_id == brand_id => Ok(()),
            Self::Brand(_) => Err(ApiError::not_found()),
        }
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty() && token.len() <= 256).then(|| token.to_string())
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = bearer(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = token.ok_or(ApiError::Unauthorized)?;
            let state = state.ok_or_else(|| ApiError::Unavailable("no state".into()))?;
            authenticate(&state, token).await
        })
    }
}

pub async fn authenticate(state: &AppState, token: String) -> Result<Principal, ApiError> {
    let presented_hash = keys::hash_secret(&token);
    let lookup = match keys::classify(&token) {
        Presented::Operator => {
            return if keys::hashes_match(&presented_hash, &state.operator_hash) {
                Ok(Principal::Operator)
            } else {
                Err(ApiError::Unauthorized)
            };
        }
        Presented::Brand { lookup } => lookup.to_string(),
    };
    let row = state
        .db(move |conn| Ok(store::keys::find_by_lookup(conn, &lookup)?))
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if row.revoked_at.is_some() || !keys::hashes_match(&presented_hash, &row.secret_hash) {
        return Err(ApiError::Unauthorized);
    }
    let scope = Scope::parse(&row.scope).ok_or(ApiError::Unauthorized)?;
    Ok(Principal::Brand(BrandKey {
        key_id: row.id,
        brand_id: row.brand_id,
        scope,
        influencer_id: row.influencer_id,
    }))
}
