//! Link codes (short, URL-safe, unguessable) and discount codes (upper-case, readable).

use crate::domain::campaign::{CampaignStatus, EnrollmentStatus};
use crate::domain::field::FieldError;
use crate::domain::names::named_enum;

named_enum! {
    /// A tracking link: active, or paused (it still redirects, but its clicks earn nothing).
    pub enum LinkStatus {
        Active = "active",
        Paused = "paused",
    }
}

named_enum! {
    /// A discount code's own switch (a pruned enrollment stops its codes whatever this says).
    pub enum CodeStatus {
        Active = "active",
        Inactive = "inactive",
    }
}

named_enum! {
    /// What a discount code takes off: a percentage, or a fixed amount in the campaign's
    /// currency.
    pub enum DiscountType {
        Percent = "percent",
        Fixed = "fixed",
    }
}

const LINK_ALPHABET: [char; 62] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i',
    'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'A', 'B',
    'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P', 'Q', 'R', 'S', 'T', 'U',
    'V', 'W', 'X', 'Y', 'Z',
];
/// 8 characters of base 62 (about 47 bits): short enough to type, too many to enumerate.
pub const LINK_CODE_LEN: usize = 8;

/// Upper-case letters and digits without the look-alikes 0/O and 1/I/L.
const READABLE: [char; 31] = [
    'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'J', 'K', 'M', 'N', 'P', 'Q', 'R', 'S', 'T', 'U', 'V',
    'W', 'X', 'Y', 'Z', '2', '3', '4', '5', '6', '7', '8', '9',
];
const DISCOUNT_RANDOM_LEN: usize = 5;
const DISCOUNT_PREFIX_MAX: usize = 8;

pub fn new_link_code() -> String {
    nanoid::nanoid!(LINK_CODE_LEN, &LINK_ALPHABET)
}

/// Whether a path segment could be a link code at all (checked before any lookup).
pub fn is_link_code_shape(code: &str) -> bool {
    (LINK_CODE_LEN..=32).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A generated discount code: a readable prefix from the handle plus a random part,
/// e.g. `ANNA-7KQ2M`.
pub fn new_discount_code(handle: &str) -> String {
    let prefix: String = handle
        .chars()
        .map(|c| c.to_ascii_uppercase())
        .filter(|c| READABLE.contains(c))
        .take(DISCOUNT_PREFIX_MAX)
        .collect();
    let random = nanoid::nanoid!(DISCOUNT_RANDOM_LEN, &READABLE);
    if prefix.len() >= 2 {
        format!("{prefix}{random}")
    } else {
        // Too little of the handle survives: a longer random code instead.
        format!("{random}{}", nanoid::nanoid!(2, &READABLE))
    }
}

/// The case-insensitive identity of a discount code.
pub fn normalize_discount_code(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

/// A vanity code as given by a brand: 3 to 32 letters, digits, `-` or `_`.
pub fn parse_vanity_code(field: &str, raw: &str) -> Result<String, FieldError> {
    let code = raw.trim();
    if !(3..=32).contains(&code.len()) {
        return Err(FieldError::new(field, "must be 3 to 32 characters"));
    }
    if !code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(FieldError::new(
            field,
            "may contain only letters, digits, '-' and '_'",
        ));
    }
    Ok(code.to_ascii_uppercase())
}

named_enum! {
    /// Why a discount code cannot be used now.
    pub enum Unusable {
        Unknown = "unknown",
        Inactive = "inactive",
        Expired = "expired",
        Exhausted = "exhausted",
        Pruned = "pruned",
    }
}

/// What decides whether a discount code is usable.
#[derive(Debug, Clone, Copy)]
pub struct CodeState {
    pub code_status: CodeStatus,
    pub enrollment_status: EnrollmentStatus,
    pub campaign_status: CampaignStatus,
    pub expires_at: Option<i64>,
    pub max_redemptions: Option<i64>,
    pub redemptions: i64,
}

/// A pruned enrollment outranks every other reason, so the storefront can tell the shopper
/// the code ended rather than that it never existed.
pub fn usable(state: CodeState, now_micros: i64) -> Result<(), Unusable> {
    if state.enrollment_status == EnrollmentStatus::Pruned {
        return Err(Unusable::Pruned);
    }
    if state.code_status != CodeStatus::Active || state.campaign_status != CampaignStatus::Active {
        return Err(Unusable::Inactive);
    }
    if state.expires_at.is_some_and(|t| t <= now_micros) {
        return Err(Unusable::Expired);
    }
    if state
        .max_redemptions
        .is_some_and(|max| state.redemptions >= max)
    {
        return Err(Unusable::Exhausted);
    }
    Ok(())
}

#[cfg(test)]
mod usable_tests {
    use super::*;

    fn state() -> CodeState {
        CodeState {
            code_status: CodeStatus::Active,
            enrollment_status: EnrollmentStatus::Active,
            campaign_status: CampaignStatus::Active,
            expires_at: None,
            max_redemptions: None,
            redemptions: 0,
        }
    }

    #[test]
    fn reasons() {
        assert_eq!(usable(state(), 10), Ok(()));
        assert_eq!(
            usable(
                CodeState {
                    enrollment_status: EnrollmentStatus::Pruned,
                    code_status: CodeStatus::Inactive,
                    ..state()
                },
                10
            ),
            Err(Unusable::Pruned)
        );
        assert_eq!(
            usable(
                CodeState {
                    code_status: CodeStatus::Inactive,
                    ..state()
                },
                10
            ),
            Err(Unusable::Inactive)
        );
        assert_eq!(
            usable(
                CodeState {
                    campaign_status: CampaignStatus::Ended,
                    ..state()
                },
                10
            ),
            Err(Unusable::Inactive)
        );
        assert_eq!(
            usable(
                CodeState {
                    expires_at: Some(10),
                    ..state()
                },
                10
            ),
            Err(Unusable::Expired)
        );
        assert_eq!(
            usable(
                CodeState {
                    expires_at: Some(11),
                    ..state()
                },
                10
            ),
            Ok(())
        );
        assert_eq!(
            usable(
                CodeState {
                    max_redemptions: Some(2),
                    redemptions: 2,
                    ..state()
                },
                10
            ),
            Err(Unusable::Exhausted)
        );
        assert_eq!(
            usable(
                CodeState {
                    max_redemptions: Some(2),
                    redemptions: 1,
                    ..state()
                },
                10
            ),
            Ok(())
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn link_codes_are_url_safe_and_distinct() {
        let codes: std::collections::HashSet<String> = (0..2000).map(|_| new_link_code()).collect();
        assert_eq!(codes.len(), 2000);
        assert!(codes.iter().all(|c| is_link_code_shape(c)));
        assert!(!is_link_code_shape("abc"));
        assert!(!is_link_code_shape("abcdefg/"));
    }

    #[test]
    fn generated_discount_codes_are_readable() {
        let code = new_discount_code("anna.lee_99");
        assert!(code.starts_with("ANNAE"), "{code}");
        assert!(code.chars().all(|c| READABLE.contains(&c)), "{code}");
        let short = new_discount_code("o1");
        assert_eq!(short.len(), 7, "{short}");
    }

    #[test]
    fn vanity_codes() {
        assert_eq!(parse_vanity_code("code", " anna15 ").unwrap(), "ANNA15");
        assert!(parse_vanity_code("code", "a b c").is_err());
        assert!(parse_vanity_code("code", "ab").is_err());
        assert!(parse_vanity_code("code", "ÄNNA15").is_err());
    }

    proptest! {
        #[test]
        fn generated_codes_never_contain_look_alikes(handle in "\\PC{0,40}") {
            let code = new_discount_code(&handle);
            prop_assert!(code.chars().all(|c| READABLE.contains(&c)));
            prop_assert!(code.len() >= 7);
            prop_assert_eq!(normalize_discount_code(&code), code);
        }
    }
}
