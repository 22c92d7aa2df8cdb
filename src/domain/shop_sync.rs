//! What a discount code should look like in a connected shop, from influtrack's state: the
//! same text, the discount, the usage limit, the active period, and whether it is enabled.

use crate::domain::campaign::{CampaignStatus, EnrollmentStatus};
use crate::domain::codes::{CodeStatus, DiscountType};
use crate::domain::money::{self, Currency};
use crate::domain::names::named_enum;

named_enum! {
    /// Where a code stands in one shop.
    pub enum SyncStatus {
        Pending = "pending",
        Synced = "synced",
        Failed = "failed",
    }
}

/// A code as the shop should hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopCode {
    pub code: String,
    /// The discount's name in the shop's admin (and, on Shopify, at checkout).
    pub title: String,
    pub discount: DiscountType,
    /// Percent (0–100] or an amount in `currency`, in micro-units.
    pub value_micros: i64,
    pub currency: Currency,
    pub usage_limit: Option<i64>,
    /// Microseconds since the epoch.
    pub starts_at: i64,
    pub ends_at: Option<i64>,
    /// Whether shoppers may use it now (not deactivated, pruned, or in a campaign that is
    /// not running).
    pub enabled: bool,
}

/// The influtrack state a shop code is made from.
pub struct CodeFacts<'a> {
    pub code: &'a str,
    pub handle: &'a str,
    pub discount: DiscountType,
    pub value_micros: i64,
    pub currency: Currency,
    pub max_redemptions: Option<i64>,
    pub expires_at: Option<i64>,
    pub code_status: CodeStatus,
    pub enrollment_status: EnrollmentStatus,
    pub campaign_status: CampaignStatus,
    pub campaign_name: &'a str,
    pub campaign_starts_at: Option<i64>,
    pub campaign_ends_at: Option<i64>,
    pub created_at: i64,
}

/// The shop code for `facts`: active from the campaign's start (or the code's creation) until
/// the earlier of the code's expiry and the campaign's end.
pub fn shop_code(facts: &CodeFacts<'_>) -> ShopCode {
    let ends_at = match (facts.expires_at, facts.campaign_ends_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let starts_at = facts.campaign_starts_at.unwrap_or(facts.created_at);
    ShopCode {
        code: facts.code.to_string(),
        title: title(facts.campaign_name, facts.handle, facts.code),
        discount: facts.discount,
        value_micros: facts.value_micros,
        currency: facts.currency,
        usage_limit: facts.max_redemptions,
        // A start after the end would be refused by the shop: the code is then over anyway.
        starts_at: ends_at.map_or(starts_at, |end| starts_at.min(end)),
        ends_at,
        enabled: facts.code_status == CodeStatus::Active
            && facts.enrollment_status != EnrollmentStatus::Pruned
            && facts.campaign_status == CampaignStatus::Active,
    }
}

/// `"Spring launch · @ana · ANA-7K2Q"`, at most 255 characters.
fn title(campaign: &str, handle: &str, code: &str) -> String {
    let full = format!("{campaign} · @{handle} · {code}");
    full.chars().take(255).collect()
}

impl ShopCode {
    /// The discount value as the shops take it: a percentage as a fraction of 1 (`"0.15"`,
    /// Shopify) or of 100 (`"15"`, WooCommerce); an amount with the currency's minor digits.
    pub fn fraction(&self) -> String {
        money::format_rate(self.value_micros / 100)
    }

    pub fn percent(&self) -> String {
        money::format_rate(self.value_micros)
    }

    pub fn amount(&self) -> String {
        money::format_amount(self.value_micros, self.currency)
    }
}

/// Whether two decimal texts are the same number (`"10"`, `"10.00"`, `"10.0"`).
pub fn same_decimal(a: &str, b: &str) -> bool {
    match (
        a.trim().parse::<rust_decimal::Decimal>(),
        b.trim().parse::<rust_decimal::Decimal>(),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> CodeFacts<'static> {
        CodeFacts {
            code: "ANA-7K2Q",
            handle: "ana",
            discount: DiscountType::Percent,
            value_micros: 15 * money::MICROS,
            currency: Currency::parse("currency", "EUR").unwrap(),
            max_redemptions: Some(100),
            expires_at: None,
            code_status: CodeStatus::Active,
            enrollment_status: EnrollmentStatus::Active,
            campaign_status: CampaignStatus::Active,
            campaign_name: "Spring",
            campaign_starts_at: Some(1_000),
            campaign_ends_at: Some(9_000),
            created_at: 500,
        }
    }

    #[test]
    fn the_period_is_the_campaigns_cut_by_the_codes_expiry() {
        let c = shop_code(&facts());
        assert_eq!((c.starts_at, c.ends_at), (1_000, Some(9_000)));
        assert!(c.enabled);
        assert_eq!(c.title, "Spring · @ana · ANA-7K2Q");
        let c = shop_code(&CodeFacts {
            expires_at: Some(5_000),
            campaign_starts_at: None,
            ..facts()
        });
        assert_eq!((c.starts_at, c.ends_at), (500, Some(5_000)));
        let c = shop_code(&CodeFacts {
            expires_at: Some(100),
            ..facts()
        });
        assert_eq!((c.starts_at, c.ends_at), (100, Some(100)));
    }

    #[test]
    fn pruned_deactivated_or_stopped_codes_are_disabled() {
        for f in [
            CodeFacts {
                enrollment_status: EnrollmentStatus::Pruned,
                ..facts()
            },
            CodeFacts {
                code_status: CodeStatus::Inactive,
                ..facts()
            },
            CodeFacts {
                campaign_status: CampaignStatus::Paused,
                ..facts()
            },
        ] {
            assert!(!shop_code(&f).enabled);
        }
    }

    #[test]
    fn values_as_each_shop_takes_them() {
        let c = shop_code(&facts());
        assert_eq!(
            (c.fraction().as_str(), c.percent().as_str()),
            ("0.15", "15")
        );
        let c = shop_code(&CodeFacts {
            discount: DiscountType::Fixed,
            value_micros: 5 * money::MICROS,
            ..facts()
        });
        assert_eq!(c.amount(), "5.00");
        assert!(same_decimal("5.00", "5") && !same_decimal("5.01", "5"));
    }
}
