//! Campaign rules: slugs, statuses and their transitions, attribution settings, goals.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    Active,
    Paused,
    Ended,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Ended => "ended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "draft" => Some(Self::Draft),
            "active" => Some(Self::Active),
            "paused" => Some(Self::Paused),
            "ended" => Some(Self::Ended),
            _ => None,
        }
    }

    /// Drafts start or are dropped; running campaigns pause, resume and end; an ended
    /// campaign stays ended (start a successor instead), and nothing returns to draft.
    pub fn can_become(self, next: Status) -> bool {
        use Status::*;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    LastClick,
    FirstClick,
    Linear,
    TimeDecay,
    PositionBased,
}

impl Model {
    pub const ALL: [Model; 5] = [
        Model::LastClick,
        Model::FirstClick,
        Model::Linear,
        Model::TimeDecay,
        Model::PositionBased,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LastClick => "last_click",
            Self::FirstClick => "first_click",
            Self::Linear => "linear",
            Self::TimeDecay => "time_decay",
            Self::PositionBased => "position_based",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "last_click" => Some(Self::LastClick),
            "first_click" => Some(Self::FirstClick),
            "linear" => Some(Self::Linear),
            "time_decay" => Some(Self::TimeDecay),
            "position_based" => Some(Self::PositionBased),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoalMetric {
    NetRevenue,
    Conversions,
    Clicks,
}

impl GoalMetric {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NetRevenue => "net_revenue",
            Self::Conversions => "conversions",
            Self::Clicks => "clicks",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "net_revenue" => Some(Self::NetRevenue),
            "conversions" => Some(Self::Conversions),
            "clicks" => Some(Self::Clicks),
            _ => None,
        }
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
        use Status::*;
        assert!(Draft.can_become(Active));
        assert!(Active.can_become(Paused) && Paused.can_become(Active));
        assert!(!Ended.can_become(Active));
        assert!(!Active.can_become(Draft));
        assert!(Ended.can_become(Ended));
    }

    #[test]
    fn names_round_trip() {
        for m in [
            Model::LastClick,
            Model::FirstClick,
            Model::Linear,
            Model::TimeDecay,
            Model::PositionBased,
        ] {
            assert_eq!(Model::parse(m.as_str()), Some(m));
        }
        for g in [
            GoalMetric::NetRevenue,
            GoalMetric::Conversions,
            GoalMetric::Clicks,
        ] {
            assert_eq!(GoalMetric::parse(g.as_str()), Some(g));
        }
    }
}
