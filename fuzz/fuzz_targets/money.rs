//! Decimal parsing (`parse_amount` and friends) against an exact reference, and formatting
//! round trips.
#![no_main]

use arbitrary::Arbitrary;
use influtrack::domain::money::{
    format_amount, format_rate, format_with_min_digits, parse_amount, parse_positive_amount,
    parse_positive_value, parse_rate, Currency, MAX_MICROS, MICROS,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    micros: i64,
    min_digits: u8,
    /// Last, so that it is the rest of the bytes as they are.
    text: &'a str,
}

/// The exact value of a plain decimal (`-`? digits, at most one `.`, some digit), in micros;
/// `None` for anything else or a value that micros cannot hold exactly.
fn reference_micros(text: &str) -> Option<i128> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !digits(frac) || int.len() + frac.len() == 0 {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > 6 {
        return None;
    }
    let int = int.trim_start_matches('0');
    if int.len() > 20 {
        return None;
    }
    let int: i128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac_micros: i128 = format!("{frac:0<6}").parse().ok()?;
    let value = int * i128::from(MICROS) + frac_micros;
    Some(if negative { -value } else { value })
}

fn currencies() -> [Currency; 4] {
    ["EUR", "JPY", "BHD", "CLF"].map(|c| Currency::parse("c", c).expect("a known currency"))
}

fuzz_target!(|input: Input<'_>| {
    let text = input.text;
    let amount = parse_amount("a", text);
    if let Ok(m) = amount {
        assert!((0..=MAX_MICROS).contains(&m), "{text:?} -> {m}");
        // Exactly what was written: never rounded, never a different notation.
        assert_eq!(
            reference_micros(text.trim()),
            Some(i128::from(m)),
            "{text:?} parsed as {m} micros"
        );
        // Formats back to an equal decimal.
        for currency in currencies() {
            let formatted = format_amount(m, currency);
            assert_eq!(parse_amount("a", &formatted), Ok(m), "{formatted:?}");
        }
    }
    // The other way round: every plain, exact, in-range decimal is accepted.
    let trimmed = text.trim();
    let canonical = trimmed.len() <= 28
        && !trimmed.starts_with('.')
        && !trimmed.ends_with('.')
        && !trimmed.starts_with('-');
    if let Some(exact) = reference_micros(trimmed).filter(|_| canonical) {
        if exact <= i128::from(MAX_MICROS) {
            assert_eq!(
                amount.as_ref().ok().map(|&m| i128::from(m)),
                Some(exact),
                "{text:?}"
            );
        }
    }

    let positive = parse_positive_amount("a", text);
    match &amount {
        Ok(0) | Err(_) => assert!(positive.is_err(), "{text:?}"),
        Ok(m) => assert_eq!(positive.as_ref().ok(), Some(m)),
    }
    let rate = parse_rate("r", text);
    match &amount {
        Ok(m) if *m <= MICROS => assert_eq!(rate.as_ref().ok(), Some(m)),
        _ => assert!(rate.is_err(), "{text:?}"),
    }
    assert_eq!(
        parse_positive_value("a", &serde_json::Value::String(text.to_string())),
        positive
    );
    if let Ok(value @ serde_json::Value::Number(_)) = serde_json::from_str(text) {
        if let Ok(m) = parse_positive_value("v", &value) {
            assert!((1..=MAX_MICROS).contains(&m), "{text:?} -> {m}");
        }
    }

    // Any amount in range formats to a decimal that parses back to it.
    let m = input.micros.rem_euclid(MAX_MICROS + 1);
    let min_digits = u32::from(input.min_digits % 7);
    let formatted = format_with_min_digits(m, min_digits);
    assert_eq!(parse_amount("a", &formatted), Ok(m), "{formatted:?}");
    let decimals = formatted.split_once('.').map_or(0, |(_, f)| f.len());
    assert!(
        decimals >= min_digits as usize && decimals <= 6,
        "{formatted:?}"
    );
    let r = input.micros.rem_euclid(MICROS + 1);
    assert_eq!(parse_rate("r", &format_rate(r)), Ok(r));
});
