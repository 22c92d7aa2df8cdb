//! Campaign rules: slugs, statuses and their transitions, attribution settings, goals.

use crate::domain::field::FieldError;
use crate::domain::names::named_enum;

named_enum! {
    /// Where a campaign is in its life.
    pub enum CampaignStatus {
        Draft = "draft",
        Active = "active",
        Paused = "paused",
        Ended = "ended",
    }
}

impl CampaignStatus {
    /// Drafts start or are dropped; running campaigns pause, resume and end; an ended
    /// campaign stays ended (start a successor instead), and nothing returns to draft.
    pub fn can_become(self, next: CampaignStatus) -> bool {
        use CampaignStatus::*;
        self == next
            || matches!(
                (self, next),
                (Draft, Active)
                    | (Draft, Ended)
                    | (Active, Paused)
                    | (Active, Ended)
                    | (Paused, Active)
                    | (Paused, Ended)
            )
    }
}

named_enum! {
    /// An influencer in a campaign: active, or pruned (its links still redirect, but
    /// nothing it brings earns credit until it is reinstated).
    pub enum EnrollmentStatus {
        Active = "active",
        Pruned = "pruned",
    }
}

named_enum! {
    /// How an order's credit is split among its touches.
    pub enum Model {
        LastClick = "last_click",
        FirstClick = "first_click",
        Linear = "linear",
        TimeDecay = "time_decay",
        PositionBased = "position_based",
    }
}

named_enum! {
    /// What a goal counts.
    pub enum GoalMetric {
        NetRevenue = "net_revenue",
        Conversions = "conversions",
        Clicks = "clicks",
        /// Events of type `lead`.
        Leads = "leads",
        /// The money value of the campaign's events.
        EventValue = "event_value",
        /// (net revenue − cost) / cost.
        Roi = "roi",
    }
}

named_enum! {
    /// How the costs of a campaign that name no influencer are spread over its enrollments
    /// for ranking and pruning (campaign totals count them either way).
    pub enum CostAllocation {
        /// Only the campaign's totals carry them.
        None = "none",
        /// In proportion to each enrollment's net revenue (evenly when none has any).
        ByNetRevenue = "by_net_revenue",
        /// The same part to every enrollment.
        Even = "even",
    }
}

named_enum! {
    /// What a cost paid for.
    pub enum CostKind {
        Product = "product",
        Shipping = "shipping",
        Content = "content",
        AdSpend = "ad_spend",
        Agency = "agency",
        Tool = "tool",
        Other = "other",
    }
}

pub const DEFAULT_IDENTITY_WINDOW_DAYS: i32 = 90;

pub fn check_identity_window_days(field: &str, days: i64) -> Result<i32, FieldError> {
    if (1..=730).contains(&days) {
        Ok(days as i32)
    } else {
        Err(FieldError::new(field, "must be between 1 and 730"))
    }
}

pub const DEFAULT_WINDOW_DAYS: i32 = 30;
pub const DEFAULT_HOLDING_DAYS: i32 = 30;

pub fn check_window_days(field: &str, days: i64) -> Result<i32, FieldError> {
    if (1..=365).contains(&days) {
        Ok(days as i32)
    } else {
        Err(FieldError::new(field, "must be between 1 and 365"))
    }
}

pub fn check_holding_days(field: &str, days: i64) -> Result<i32, FieldError> {
    if (0..=365).contains(&days) {
        Ok(days as i32)
    } else {
        Err(FieldError::new(field, "must be between 0 and 365"))
    }
}

/// A URL slug from a name: lower-case ASCII letters and digits joined by single dashes.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    let mut dash = false;
    for c in name.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            'ß' => 's',
            c => c,
        };
        if c.is_ascii_alphanumeric() {
            if dash && !slug.is_empty() {
                slug.push('-');
            }
            dash = false;
            slug.push(c);
        } else {
            dash = true;
        }
        if slug.len() >= 60 {
            break;
        }
    }
    if slug.is_empty() {
        "campaign".into()
    } else {
        slug
    }
}

/// A slug given by the user: 1 to 64 of `a-z`, `0-9` and inner dashes.
pub fn parse_slug(field: &str, raw: &str) -> Result<String, FieldError> {
    let ok = (1..=64).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !raw.starts_with('-')
        && !raw.ends_with('-');
    if ok {
        Ok(raw.to_string())
    } else {
        Err(FieldError::new(
            field,
            "must be 1 to 64 lower-case letters, digits and inner dashes",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slugify("Spring Sale 2026!"), "spring-sale-2026");
        assert_eq!(slugify("  Été — Crème  "), "ete-creme");
        assert_eq!(slugify("???"), "campaign");
        assert!(parse_slug("s", "spring-sale").is_ok());
        assert!(parse_slug("s", "Spring").is_err());
        assert!(parse_slug("s", "-x").is_err());
        assert!(parse_slug("s", "").is_err());
    }

    #[test]
    fn transitions() {
        use CampaignStatus::*;
        assert!(Draft.can_become(Active));
        assert!(Active.can_become(Paused) && Paused.can_become(Active));
        assert!(!Ended.can_become(Active));
        assert!(!Active.can_become(Draft));
        assert!(Ended.can_become(Ended));
    }

    #[test]
    fn names_round_trip() {
        for m in Model::ALL {
            assert_eq!(Model::parse(m.as_str()), Some(*m));
        }
        for g in GoalMetric::ALL {
            assert_eq!(GoalMetric::parse(g.as_str()), Some(*g));
        }
    }
}
