//! Storefront connections: the secret that signs a platform's webhooks for a brand.

use serde::{Deserialize, Serialize};

use crate::core::admin::AdminResult;
use crate::core::now_micros;
use crate::db::AnyConnection;
use crate::domain::field::FieldError;
use crate::domain::ids::BrandId;
use crate::domain::integrations::Platform;
use crate::domain::secrets::{Opened, SealError, Sealer};
use crate::store;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationInput {
    pub webhook_secret: String,
}

#[derive(Debug, Serialize)]
pub struct IntegrationView {
    pub platform: Platform,
    pub configured: bool,
    /// Where to point the platform's webhooks.
    pub webhook_urls: Vec<String>,
}

/// Stores the secret that signs this platform's webhooks for the brand (never returned or
/// logged).
pub fn put(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    public_url: &str,
    brand_id: &BrandId,
    platform: Platform,
    input: IntegrationInput,
) -> AdminResult<IntegrationView> {
    let secret = input.webhook_secret;
    if secret.trim() != secret
        || !(8..=512).contains(&secret.chars().count())
        || secret.chars().any(char::is_control)
    {
        return Err(FieldError::new(
            "webhook_secret",
            "must be 8 to 512 printable characters without surrounding spaces",
        )
        .into());
    }
    // Sealed at rest with the operator's key: the database alone never gives it away.
    let sealed = sealer.seal(&secret);
    store::integrations::put_webhook_secret(conn, brand_id, platform, &sealed, now_micros())?;
    let base = format!(
        "{public_url}/api/v1/integrations/{}/{brand_id}",
        platform.as_str()
    );
    let webhook_urls = match platform {
        Platform::Shopify => vec![format!("{base}/orders"), format!("{base}/refunds")],
        Platform::WooCommerce => vec![format!("{base}/orders")],
    };
    Ok(IntegrationView {
        platform,
        configured: true,
        webhook_urls,
    })
}

/// Seals again with the current key every secret sealed with the previous one (a rotation) or
/// stored in plain text by an older version; run at start. A secret that opens with neither
/// key stops the start: the operator gave the wrong key. Returns how many were sealed again.
pub fn reseal_all(conn: &mut AnyConnection, sealer: &Sealer) -> Result<usize, ResealError> {
    let mut resealed = 0;
    for (brand_id, platform, stored) in store::integrations::all_webhook_secrets(conn)? {
        match sealer.open(&stored) {
            Ok(Opened::Current(_)) => {}
            Ok(Opened::Reseal(plain)) => {
                let sealed = sealer.seal(&plain);
                store::integrations::put_webhook_secret(
                    conn,
                    &brand_id,
                    platform,
                    &sealed,
                    now_micros(),
                )?;
                resealed += 1;
            }
            Err(e) => {
                return Err(ResealError::Unreadable {
                    brand_id,
                    platform,
                    why: e,
                })
            }
        }
    }
    Ok(resealed)
}

#[derive(Debug, thiserror::Error)]
pub enum ResealError {
    #[error("the {} webhook secret of brand {brand_id} cannot be read: {why}", .platform.as_str())]
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
