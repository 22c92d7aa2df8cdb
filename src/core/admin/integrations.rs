//! Storefront connections: the secret that signs a platform's webhooks for a brand.

use serde::{Deserialize, Serialize};

use crate::core::admin::AdminResult;
use crate::core::now_micros;
use crate::db::AnyConnection;
use crate::domain::field::FieldError;
use crate::domain::ids::BrandId;
use crate::domain::integrations::Platform;
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
    store::integrations::put_webhook_secret(conn, brand_id, platform, &secret, now_micros())?;
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
