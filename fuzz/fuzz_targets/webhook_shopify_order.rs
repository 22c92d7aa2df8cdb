//! Shopify `orders/create` bodies mapped onto our order (and the refunds they list).
#![no_main]

mod common;

use common::{check_click_text, check_order, check_refunds, convert, wrapped, LATER, NOW};
use influtrack::domain::integrations::{shopify, woocommerce};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    check_click_text(body);
    let mapped = shopify::map_order(body, NOW, convert);
    let Ok(Some(mapped_order)) = &mapped else {
        return;
    };
    check_order(&mapped_order.order, "shopify:", NOW);
    check_refunds(&mapped_order.refunds, "shopify:");
    // The same delivery later (a retry) is the same order: same fingerprint.
    if let Ok(Some(later)) = shopify::map_order(body, LATER, convert) {
        assert_eq!(later.order.fingerprint, mapped_order.order.fingerprint);
        assert_eq!(later.order.amount_micros, mapped_order.order.amount_micros);
        assert_eq!(&later.refunds, &mapped_order.refunds);
    }
    // The REST shape `{"order": …}` maps the same as the bare webhook body.
    if let Some(body) = wrapped(body, "order") {
        let again = shopify::map_order(&body, NOW, convert);
        assert_eq!(again.as_ref().ok(), mapped.as_ref().ok(), "wrapped differs");
    }
    assert!(!woocommerce::is_ping(body));
});
