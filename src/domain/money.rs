//! Exact money: decimal strings at the edge, integer micro-units (10^-6) inside.

use rust_decimal::Decimal;

use crate::domain::field::FieldError;

pub const MICROS: i64 = 1_000_000;
/// The largest amount accepted anywhere: a trillion units, far beyond any real order, and far
/// below the i64 limit so that sums of many amounts cannot overflow.
pub const MAX_MICROS: i64 = 1_000_000_000_000 * MICROS;

/// An ISO 4217 currency with a minor unit (so no gold or testing codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let upper = raw.trim().to_ascii_uppercase();
        match iso_currency::Currency::from_code(&upper) {
            Some(c) if upper.len() == 3 && c.exponent().is_some() => Ok(Self(c)),
            _ => Err(FieldError::new(
                field,
                "must be an ISO 4217 currency code such as EUR or USD",
            )),
        }
    }

    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Decimal places of the minor unit (2 for EUR, 0 for JPY).
    pub fn minor_digits(self) -> u32 {
        u32::from(self.0.exponent().unwrap_or(2))
    }

    /// Micro-units in one minor unit (10,000 for cents).
    pub fn minor_unit_micros(self) -> i64 {
        10_i64.pow(6 - self.minor_digits().min(6))
    }
}

/// An exchange rate: units of the quote currency for one unit of the base. Kept as the
/// normalised decimal text it was registered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    value: Decimal,
    text: String,
}

/// The largest rate accepted: beyond it a typo is likelier than a currency.
pub const MAX_RATE: i64 = 1_000_000;

impl Rate {
    /// A rate as a brand registers it: greater than 0, at most [`MAX_RATE`], at most 12
    /// decimals.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        match raw.trim().parse::<Decimal>() {
            Ok(r) if r > Decimal::ZERO && r <= Decimal::from(MAX_RATE) && r.scale() <= 12 => {
                Ok(Self::of(r.normalize()))
            }
            Ok(_) => Err(FieldError::new(
                field,
                format!("must be greater than 0 and at most {MAX_RATE}, with at most 12 decimals"),
            )),
            Err(_) => Err(FieldError::new(
                field,
                "must be a decimal such as \"1.0842\"",
            )),
        }
    }

    /// A stored rate; `None` when the text is not a positive decimal.
    pub fn stored(text: String) -> Option<Self> {
        let value = text
            .parse::<Decimal>()
            .ok()
            .filter(|r| *r > Decimal::ZERO)?;
        Some(Self { value, text })
    }

    fn of(value: Decimal) -> Self {
        Self {
            text: value.to_string(),
            value,
        }
    }

    pub fn value(&self) -> Decimal {
        self.value
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The rate of the other direction.
    pub fn inverse(&self) -> Self {
        Self::of(Decimal::ONE / self.value)
    }

    /// `micros` converted at this rate into `to`, rounded half away from zero to its minor
    /// unit; `None` when the result is too large.
    pub fn convert(&self, micros: i64, to: Currency) -> Option<i64> {
        use rust_decimal::prelude::ToPrimitive;
        let unit = Decimal::from(to.minor_unit_micros());
        Decimal::from(micros)
            .checked_mul(self.value)
            .and_then(|d| d.checked_div(unit))
            .map(|d| {
                d.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
            })
            .and_then(|d| d.checked_mul(unit))
            .and_then(|d| d.to_i64())
            .filter(|m| m.abs() <= MAX_MICROS)
    }
}

fn parse_decimal(field: &str, raw: &str) -> Result<Decimal, FieldError> {
    let trimmed = raw.trim();
    let plain = !trimmed.is_empty()
        && trimmed.len() <= 32
        && trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-');
    let value = plain
        .then(|| trimmed.parse::<Decimal>().ok())
        .flatten()
        .ok_or_else(|| FieldError::new(field, "must be a decimal string such as \"129.90\""))?;
    // Counted in the text: beyond its 28 significant digits `Decimal` rounds silently, so
    // "1.000000000000000000000000000001" would otherwise be taken for 1.
    let decimals = trimmed
        .split_once('.')
        .map_or(0, |(_, fraction)| fraction.trim_end_matches('0').len());
    if decimals > 6 {
        return Err(FieldError::new(field, "has more than 6 decimal places"));
    }
    Ok(value.normalize())
}

fn to_micros(field: &str, value: Decimal) -> Result<i64, FieldError> {
    // Checked: a long enough number would overflow the decimal itself.
    value
        .checked_mul(Decimal::from(MICROS))
        .map(|m| m.trunc())
        .and_then(|m| i64::try_from(m).ok())
        .filter(|m| m.abs() <= MAX_MICROS)
        .ok_or_else(|| FieldError::new(field, "is too large"))
}

/// A non-negative amount of money as micro-units.
pub fn parse_amount(field: &str, raw: &str) -> Result<i64, FieldError> {
    let value = parse_decimal(field, raw)?;
    if value.is_sign_negative() && !value.is_zero() {
        return Err(FieldError::new(field, "must not be negative"));
    }
    to_micros(field, value)
}

/// A strictly positive amount of money as micro-units.
pub fn parse_positive_amount(field: &str, raw: &str) -> Result<i64, FieldError> {
    let micros = parse_amount(field, raw)?;
    if micros == 0 {
        return Err(FieldError::new(field, "must be greater than zero"));
    }
    Ok(micros)
}

/// A strictly positive amount given as a decimal string or a JSON number (goal targets and
/// discount values accept both), as micro-units.
pub fn parse_positive_value(field: &str, value: &serde_json::Value) -> Result<i64, FieldError> {
    match value {
        serde_json::Value::String(s) => parse_positive_amount(field, s),
        serde_json::Value::Number(n) => parse_positive_amount(field, &n.to_string()),
        _ => Err(FieldError::new(
            field,
            "must be a positive decimal string or number",
        )),
    }
}

/// A rate between 0 and 1 inclusive (commission), as millionths.
pub fn parse_rate(field: &str, raw: &str) -> Result<i64, FieldError> {
    let micros = parse_amount(field, raw)?;
    if micros > MICROS {
        return Err(FieldError::new(field, "must be between 0 and 1"));
    }
    Ok(micros)
}

/// Micro-units as a decimal string with at least the currency's minor digits: `"129.90"`.
pub fn format_amount(micros: i64, currency: Currency) -> String {
    format_with_min_digits(micros, currency.minor_digits())
}

pub fn format_with_min_digits(micros: i64, min_digits: u32) -> String {
    let mut d = Decimal::new(micros, 6).normalize();
    if d.scale() < min_digits {
        d.rescale(min_digits);
    }
    d.to_string()
}

/// A rate (millionths) as a plain decimal string: `"0.125"`.
pub fn format_rate(millionths: i64) -> String {
    format_with_min_digits(millionths, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur() -> Currency {
        Currency::parse("currency", "eur").unwrap()
    }

    #[test]
    fn parses_exact_amounts() {
        assert_eq!(parse_amount("a", "129.90").unwrap(), 129_900_000);
        assert_eq!(parse_amount("a", "0").unwrap(), 0);
        assert_eq!(parse_amount("a", "0.000001").unwrap(), 1);
        assert_eq!(parse_amount("a", "10.5000000").unwrap(), 10_500_000);
    }

    #[test]
    fn refuses_garbage() {
        for bad in [
            "",
            "abc",
            "1e5",
            "-1",
            "1.0000001",
            "NaN",
            "Infinity",
            " ",
            "1,5",
            "+3",
            "0x10",
            "99999999999999999999",
        ] {
            assert!(parse_amount("amount", bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_positive_amount("a", "0.00").is_err());
        assert!(parse_rate("r", "1.01").is_err());
        assert_eq!(parse_rate("r", "1").unwrap(), MICROS);
    }

    /// Found by `fuzz/fuzz_targets/money.rs`: digits beyond `Decimal`'s precision were rounded
    /// away instead of refused.
    #[test]
    fn refuses_decimals_rounded_away_by_the_decimal_type() {
        for bad in [
            "999999000000.1000000000000000020",
            "1.000000000000000000000000000001",
            "0.00000099999999999999999999999",
        ] {
            assert!(parse_amount("amount", bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            parse_amount("a", "999999000000.1000000000000000000").unwrap(),
            999_999_000_000_100_000
        );
    }

    #[test]
    fn formats_with_minor_digits() {
        assert_eq!(format_amount(129_900_000, eur()), "129.90");
        assert_eq!(format_amount(0, eur()), "0.00");
        assert_eq!(format_amount(1, eur()), "0.000001");
        let jpy = Currency::parse("c", "JPY").unwrap();
        assert_eq!(format_amount(1500 * MICROS, jpy), "1500");
        assert_eq!(format_rate(125_000), "0.125");
    }

    #[test]
    fn currencies() {
        assert_eq!(eur().code(), "EUR");
        assert!(Currency::parse("c", "EURO").is_err());
        assert!(Currency::parse("c", "XAU").is_err());
        assert!(Currency::parse("c", "ZZZ").is_err());
    }

    proptest! {
        #[test]
        fn formatting_round_trips(micros in 0i64..MAX_MICROS) {
            let text = format_amount(micros, eur());
            prop_assert_eq!(parse_amount("a", &text).unwrap(), micros);
        }
    }
}
