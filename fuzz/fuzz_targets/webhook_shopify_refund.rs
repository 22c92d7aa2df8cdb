//! Shopify `refunds/create` bodies mapped onto our refund.
#![no_main]

mod common;

use common::{check_refunds, convert, wrapped};
use influtrack::domain::integrations::shopify;
use influtrack::domain::money::Currency;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let usd = Currency::parse("currency", "USD").unwrap();
    let mapped = shopify::map_refund(body, usd, convert);
    let Ok((order_id, refund)) = &mapped else {
        return;
    };
    assert!(order_id.starts_with("shopify:"), "{order_id:?}");
    check_refunds(std::slice::from_ref(refund), "shopify:");
    if let Some(body) = wrapped(body, "refund") {
        let again = shopify::map_refund(&body, usd, convert);
        assert_eq!(again.as_ref().ok(), mapped.as_ref().ok(), "wrapped differs");
    }
});
