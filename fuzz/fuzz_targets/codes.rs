//! Discount and link code normalisation.
#![no_main]

use influtrack::domain::codes::{
    is_link_code_shape, new_discount_code, normalize_discount_code, parse_vanity_code,
    LINK_CODE_LEN,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Codes arrive in JSON strings and paths: always UTF-8.
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };

    let normal = normalize_discount_code(raw);
    assert_eq!(normalize_discount_code(&normal), normal, "not idempotent");
    // Case-insensitive: any ASCII casing of a code is the same code.
    assert_eq!(normalize_discount_code(&raw.to_ascii_lowercase()), normal);
    assert!(
        !normal.bytes().any(|b| b.is_ascii_lowercase()),
        "{normal:?}"
    );

    if let Ok(code) = parse_vanity_code("code", raw) {
        assert!((3..=32).contains(&code.len()), "{code:?}");
        assert!(
            code.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_'),
            "{code:?}"
        );
        // A vanity code is stored as what an order's code normalises to.
        assert_eq!(code, normal);
        assert_eq!(parse_vanity_code("code", &code), Ok(code.clone()));
        assert_eq!(
            parse_vanity_code("code", &raw.to_ascii_lowercase()),
            Ok(code)
        );
    }

    if is_link_code_shape(raw) {
        assert!((LINK_CODE_LEN..=32).contains(&raw.len()));
        // Safe as a path segment as it is: nothing to escape, nothing to normalise.
        let url = url::Url::parse("https://t.example/r/")
            .unwrap()
            .join(raw)
            .expect("a link code joins");
        assert_eq!(url.path(), format!("/r/{raw}"));
    }

    let generated = new_discount_code(raw);
    assert!(generated.len() >= 7, "{generated:?}");
    assert_eq!(normalize_discount_code(&generated), generated);
    assert!(parse_vanity_code("code", &generated).as_deref() == Ok(generated.as_str()));
});
