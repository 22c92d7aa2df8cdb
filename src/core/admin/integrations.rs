//! Store connections, each part optional: the secret that signs a platform's webhooks, and the
//! shop's base URL with its API credentials. Secrets are sealed at rest, never returned (only
//! their last four characters, masked) and never logged.

use serde::{Deserialize, Serialize};

use crate::core::admin::{AdminError, AdminResult};
use crate::core::{now_micros, Change, Written};
use crate::db::AnyConnection;
use crate::domain::field::{Checks, FieldError};
use crate::domain::ids::BrandId;
use crate::domain::integrations::Platform;
use crate::domain::json::non_null;
use crate::domain::secrets::{Opened, SealError, Sealer};
use crate::domain::time::rfc3339;
use crate::store;
use crate::store::integrations::IntegrationRow;

/// What a `PUT` sets; what it leaves out stays as it was. Shopify takes `shop_url` and
/// `access_token`, WooCommerce `site_url`, `consumer_key` and `consumer_secret`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationInput {
    #[serde(default, deserialize_with = "non_null")]
    pub webhook_secret: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub shop_url: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub access_token: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub site_url: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub consumer_key: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub consumer_secret: Option<String>,
}

/// A connection as shown: secrets masked to their last four characters.
#[derive(Debug, Serialize)]
pub struct IntegrationView {
    pub platform: Platform,
    /// Whether webhooks can be verified (a webhook secret is set).
    pub configured: bool,
    /// Where to point the platform's webhooks.
    pub webhook_urls: Vec<String>,
    pub webhook_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shop_url: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_url: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_key: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_secret: Option<Option<String>>,
    pub updated_at: String,
}

/// A secret as shown: `…` and its last four characters.
fn masked(sealer: &Sealer, stored: &Option<String>) -> AdminResult<Option<String>> {
    let Some(stored) = stored else {
        return Ok(None);
    };
    let plain = sealer
        .open(stored)
        .map_err(|e| AdminError::Db(crate::db::DbError::Unavailable(e.to_string())))?
        .into_plain();
    let tail: String = plain
        .chars()
        .skip(plain.chars().count().saturating_sub(4))
        .collect();
    Ok(Some(format!("…{tail}")))
}

fn view(sealer: &Sealer, public_url: &str, row: &IntegrationRow) -> AdminResult<IntegrationView> {
    let platform = row.platform;
    let base = format!(
        "{public_url}/api/v1/integrations/{}/{}",
        platform.as_str(),
        row.brand_id
    );
    let webhook_urls = match platform {
        Platform::Shopify => vec![format!("{base}/orders"), format!("{base}/refunds")],
        Platform::WooCommerce => vec![format!("{base}/orders")],
    };
    let shopify = platform == Platform::Shopify;
    let mut v = IntegrationView {
        platform,
        configured: row.webhook_secret.is_some(),
        webhook_urls,
        webhook_secret: masked(sealer, &row.webhook_secret)?,
        shop_url: None,
        access_token: None,
        site_url: None,
        consumer_key: None,
        consumer_secret: None,
        updated_at: rfc3339(row.updated_at),
    };
    if shopify {
        v.shop_url = Some(row.base_url.clone());
        v.access_token = Some(masked(sealer, &row.access_token)?);
    } else {
        v.site_url = Some(row.base_url.clone());
        v.consumer_key = Some(masked(sealer, &row.consumer_key)?);
        v.consumer_secret = Some(masked(sealer, &row.consumer_secret)?);
    }
    Ok(v)
}

/// A secret or credential: printable, no surrounding spaces, `min` to 512 characters.
fn credential(checks: &mut Checks, field: &str, value: &Option<String>, min: usize) {
    if let Some(v) = value {
        if v.trim() != v
            || !(min..=512).contains(&v.chars().count())
            || v.chars().any(char::is_control)
        {
            checks.fail(
                field,
                format!("must be {min} to 512 printable characters without surrounding spaces"),
            );
        }
    }
}

/// What a shop's base URL may be, exactly as `openapi.yaml` states it (so that the spec and
/// the server accept the same strings): `https://` and a DNS name, or `http://` to a loopback
/// host; an optional port; no path, query or credentials.
pub const BASE_URL_PATTERN: &str = r"^(https://[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.[a-z]([a-z0-9-]*[a-z0-9])?|http://(127\.0\.0\.1|localhost))(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?/?$";

/// A shop's base URL (see [`BASE_URL_PATTERN`]), returned without a trailing slash.
pub fn parse_base_url(field: &str, raw: &str) -> Result<String, FieldError> {
    static PATTERN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let pattern =
        PATTERN.get_or_init(|| regex::Regex::new(BASE_URL_PATTERN).expect("a valid pattern"));
    if !pattern.is_match(raw) {
        return Err(FieldError::new(
            field,
            "must be https://host[:port] (http only to 127.0.0.1 or localhost), lower case, without a path",
        ));
    }
    Ok(raw.trim_end_matches('/').to_string())
}

/// Sets the parts given (each optional) of a brand's connection to a platform. Fields of the
/// other platform are refused by name.
pub fn put(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    public_url: &str,
    brand_id: &BrandId,
    platform: Platform,
    input: IntegrationInput,
) -> AdminResult<Written<IntegrationView>> {
    let mut checks = Checks::default();
    let foreign: &[(&str, bool)] = match platform {
        Platform::Shopify => &[
            ("site_url", input.site_url.is_some()),
            ("consumer_key", input.consumer_key.is_some()),
            ("consumer_secret", input.consumer_secret.is_some()),
        ],
        Platform::WooCommerce => &[
            ("shop_url", input.shop_url.is_some()),
            ("access_token", input.access_token.is_some()),
        ],
    };
    for (field, given) in foreign {
        if *given {
            checks.fail(*field, format!("is not a setting of {}", platform.as_str()));
        }
    }
    credential(&mut checks, "webhook_secret", &input.webhook_secret, 8);
    credential(&mut checks, "access_token", &input.access_token, 8);
    credential(&mut checks, "consumer_key", &input.consumer_key, 8);
    credential(&mut checks, "consumer_secret", &input.consumer_secret, 8);
    let (url_field, url) = match platform {
        Platform::Shopify => ("shop_url", &input.shop_url),
        Platform::WooCommerce => ("site_url", &input.site_url),
    };
    let base_url = url
        .as_deref()
        .and_then(|u| checks.take(parse_base_url(url_field, u)));
    let empty = input.webhook_secret.is_none()
        && url.is_none()
        && input.access_token.is_none()
        && input.consumer_key.is_none()
        && input.consumer_secret.is_none();
    if empty && checks.is_empty() {
        checks.fail("body", "set at least one of the platform's settings");
    }
    checks.finish().map_err(AdminError::Invalid)?;
    let mut row = store::integrations::find(conn, brand_id, platform)?.unwrap_or(IntegrationRow {
        brand_id: brand_id.clone(),
        platform,
        webhook_secret: None,
        base_url: None,
        access_token: None,
        consumer_key: None,
        consumer_secret: None,
        updated_at: 0,
    });
    let was_ready = row.can_sync();
    let old_base = row.base_url.clone();
    let new_credentials = input.access_token.is_some()
        || input.consumer_key.is_some()
        || input.consumer_secret.is_some();
    // Sealed at rest with the operator's key: the database alone never gives them away.
    let seal = |v: Option<String>, old: Option<String>| v.map(|v| sealer.seal(&v)).or(old);
    row.webhook_secret = seal(input.webhook_secret, row.webhook_secret);
    row.access_token = seal(input.access_token, row.access_token);
    row.consumer_key = seal(input.consumer_key, row.consumer_key);
    row.consumer_secret = seal(input.consumer_secret, row.consumer_secret);
    row.base_url = base_url.or(row.base_url);
    row.updated_at = now_micros();
    let ready = row.can_sync();
    crate::db::write_transaction(conn, |conn| {
        crate::db::locks::lock_connections(conn, brand_id.as_str(), true)?;
        store::integrations::put(conn, &row)?;
        if old_base.is_some() && old_base != row.base_url {
            // Another shop: the ids recorded are the old shop's.
            crate::core::shop_sync::shop_disconnected(conn, brand_id, platform)?;
        }
        if ready && (!was_ready || old_base != row.base_url) {
            // A new shop: every code the brand has goes there.
            let codes = crate::core::shop_sync::shop_connected(conn, brand_id, platform)?;
            tracing::info!(
                platform = platform.as_str(),
                codes,
                "store connected: codes queued for sync"
            );
        } else if ready && new_credentials {
            crate::core::shop_sync::credentials_changed(conn, brand_id, platform)?;
        }
        Ok::<_, AdminError>(())
    })?;
    // Links that apply their code go to the shop connected now.
    let changed = vec![Change::Brand(brand_id.clone())];
    Ok(Written::new(view(sealer, public_url, &row)?, changed))
}

/// A brand's connection to a platform, secrets masked.
pub fn get(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    public_url: &str,
    brand_id: &BrandId,
    platform: Platform,
) -> AdminResult<IntegrationView> {
    let row =
        store::integrations::find(conn, brand_id, platform)?.ok_or_else(AdminError::not_found)?;
    view(sealer, public_url, &row)
}

/// Disconnects a brand from a platform (its webhooks stop verifying); disconnecting what is
/// not connected changes nothing.
pub fn delete(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    platform: Platform,
) -> AdminResult<Written<()>> {
    crate::db::write_transaction(conn, |conn| {
        crate::db::locks::lock_connections(conn, brand_id.as_str(), true)?;
        store::integrations::delete(conn, brand_id, platform)?;
        crate::core::shop_sync::shop_disconnected(conn, brand_id, platform)?;
        Ok::<_, AdminError>(())
    })?;
    Ok(Written::new((), vec![Change::Brand(brand_id.clone())]))
}

/// Seals again with the current key every secret sealed with the previous one (a rotation) or
/// stored in plain text by an older version; run at start. A secret that opens with neither
/// key stops the start: the operator gave the wrong key. Returns how many were sealed again.
pub fn reseal_all(conn: &mut AnyConnection, sealer: &Sealer) -> Result<usize, ResealError> {
    let mut resealed = 0;
    for mut row in store::integrations::all(conn)? {
        let mut changed = false;
        let (brand_id, platform) = (row.brand_id.clone(), row.platform);
        for secret in [
            &mut row.webhook_secret,
            &mut row.access_token,
            &mut row.consumer_key,
            &mut row.consumer_secret,
        ] {
            let Some(stored) = secret.as_deref() else {
                continue;
            };
            match sealer.open(stored) {
                Ok(Opened::Current(_)) => {}
                Ok(Opened::Reseal(plain)) => {
                    *secret = Some(sealer.seal(&plain));
                    changed = true;
                }
                Err(why) => {
                    return Err(ResealError::Unreadable {
                        brand_id,
                        platform,
                        why,
                    })
                }
            }
        }
        if changed {
            store::integrations::put(conn, &row)?;
            resealed += 1;
        }
    }
    Ok(resealed)
}

#[derive(Debug, thiserror::Error)]
pub enum ResealError {
    #[error("the {} connection of brand {brand_id} holds a secret that cannot be read: {why}", .platform.as_str())]
    Unreadable {
        brand_id: BrandId,
        platform: Platform,
        why: SealError,
    },
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
}

impl From<diesel::result::Error> for ResealError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_https_or_loopback_and_bare() {
        assert_eq!(
            parse_base_url("shop_url", "https://acme.myshopify.com/").unwrap(),
            "https://acme.myshopify.com"
        );
        assert!(parse_base_url("shop_url", "http://127.0.0.1:8081").is_ok());
        assert!(parse_base_url("shop_url", "http://localhost:8081").is_ok());
        assert!(parse_base_url("shop_url", "http://127.0.0.1:65535").is_ok());
        assert!(parse_base_url("shop_url", "http://127.0.0.1:65536").is_err());
        assert!(parse_base_url("shop_url", "https://my-shop.myshopify.com").is_ok());
        for bad in [
            "https://q0.k36m.q*",
            " https://acme.example",
            "https://-acme.example",
            "https://acme.123",
            "http://acme.myshopify.com",
            "ftp://acme.example",
            "https://acme.example/admin",
            "https://acme.example/?x=1",
            "https://user:pw@acme.example",
            "acme.myshopify.com",
        ] {
            assert!(parse_base_url("shop_url", bad).is_err(), "{bad}");
        }
    }
}
