//! WooCommerce order bodies mapped onto our order (and the refunds they list), and the
//! creation ping told apart from an order.
#![no_main]

mod common;

use common::{check_click_text, check_order, check_refunds, LATER, NOW};
use influtrack::domain::integrations::{shopify, woocommerce};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    check_click_text(body);
    let mapped = woocommerce::map_order(body, NOW);
    if woocommerce::is_ping(body) {
        // A ping is answered before any signature check: it must never be an order.
        assert!(mapped.is_err(), "a ping maps to an order");
        assert!(!matches!(
            shopify::map_order(body, NOW, common::convert),
            Ok(Some(_))
        ));
    }
    let Ok(mapped) = &mapped else {
        return;
    };
    let status = mapped.status.as_deref().expect("a WooCommerce status");
    assert_eq!(status, status.trim().to_ascii_lowercase());
    check_order(&mapped.order, "woocommerce:", NOW);
    check_refunds(&mapped.refunds, "woocommerce:refund:");
    // The same delivery later (a retry) is the same order: same fingerprint.
    if let Ok(later) = woocommerce::map_order(body, LATER) {
        assert_eq!(later.order.fingerprint, mapped.order.fingerprint);
        assert_eq!(later.order.amount_micros, mapped.order.amount_micros);
        assert_eq!(&later.refunds, &mapped.refunds);
    }
});
