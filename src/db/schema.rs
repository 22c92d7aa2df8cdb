// Written by hand: portable column types only (Text, BigInt, Bool, Integer), so that one
// schema serves both backends through `AnyConnection`.

diesel::table! {
    brands (id) {
        id -> Text,
        name -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        brand_id -> Text,
        lookup -> Text,
        secret_hash -> Text,
        scope -> Text,
        name -> Text,
        influencer_id -> Nullable<Text>,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::joinable!(api_keys -> brands (brand_id));

diesel::table! {
    influencers (id) {
        id -> Text,
        brand_id -> Text,
        handle -> Text,
        handle_norm -> Text,
        display_name -> Text,
        email -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        deleted_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    influencer_platforms (influencer_id, position) {
        influencer_id -> Text,
        position -> Integer,
        platform -> Text,
        handle -> Text,
        followers -> Nullable<BigInt>,
    }
}

diesel::table! {
    influencer_tags (influencer_id, tag) {
        influencer_id -> Text,
        tag -> Text,
    }
}

diesel::table! {
    campaigns (id) {
        id -> Text,
        brand_id -> Text,
        name -> Text,
        slug -> Text,
        destination_url -> Text,
        currency -> Text,
        budget_micros -> Nullable<BigInt>,
        starts_at -> Nullable<BigInt>,
        ends_at -> Nullable<BigInt>,
        status -> Text,
        goal_metric -> Nullable<Text>,
        goal_target_micros -> Nullable<BigInt>,
        attribution_model -> Text,
        window_days -> Integer,
        code_priority -> Bool,
        holding_days -> Integer,
        created_at -> BigInt,
        updated_at -> BigInt,
        links_apply_code -> Bool,
        identity_window_days -> Integer,
        lead_band_medium -> Integer,
        lead_band_fast -> Integer,
        event_values -> Text,
        cost_allocation -> Text,
    }
}

diesel::table! {
    enrollments (id) {
        id -> Text,
        brand_id -> Text,
        campaign_id -> Text,
        influencer_id -> Text,
        status -> Text,
        fee_micros -> BigInt,
        commission_rate_micros -> BigInt,
        goal_metric -> Nullable<Text>,
        goal_target_micros -> Nullable<BigInt>,
        created_at -> BigInt,
        pruned_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    links (id) {
        id -> Text,
        brand_id -> Text,
        campaign_id -> Text,
        enrollment_id -> Text,
        influencer_id -> Text,
        code -> Text,
        label -> Nullable<Text>,
        destination_url -> Nullable<Text>,
        utm_source -> Nullable<Text>,
        utm_medium -> Nullable<Text>,
        utm_campaign -> Nullable<Text>,
        utm_content -> Nullable<Text>,
        utm_term -> Nullable<Text>,
        status -> Text,
        created_at -> BigInt,
        apply_code -> Bool,
        paid -> Bool,
    }
}

diesel::table! {
    discount_codes (id) {
        id -> Text,
        brand_id -> Text,
        campaign_id -> Text,
        enrollment_id -> Text,
        influencer_id -> Text,
        code -> Text,
        code_norm -> Text,
        discount_type -> Text,
        discount_value_micros -> BigInt,
        max_redemptions -> Nullable<BigInt>,
        redemptions -> BigInt,
        expires_at -> Nullable<BigInt>,
        status -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    clicks (id) {
        id -> Text,
        link_id -> Text,
        brand_id -> Text,
        campaign_id -> Text,
        enrollment_id -> Text,
        influencer_id -> Text,
        ts -> BigInt,
        visitor_hash -> Text,
        kind -> Text,
        attributable -> Bool,
        referrer_host -> Nullable<Text>,
        device -> Text,
        browser -> Text,
        os -> Text,
        country -> Nullable<Text>,
    }
}

diesel::table! {
    link_daily (link_id, day) {
        link_id -> Text,
        day -> Integer,
        brand_id -> Text,
        campaign_id -> Text,
        enrollment_id -> Text,
        clicks -> BigInt,
        unique_clicks -> BigInt,
        bot_clicks -> BigInt,
        attributable_clicks -> BigInt,
    }
}

diesel::table! {
    link_day_visitors (link_id, day, visitor_hash) {
        link_id -> Text,
        day -> Integer,
        visitor_hash -> Text,
    }
}

diesel::table! {
    visitor_salts (day) {
        day -> Integer,
        salt -> Text,
    }
}

diesel::joinable!(influencer_platforms -> influencers (influencer_id));
diesel::joinable!(influencer_tags -> influencers (influencer_id));
diesel::table! {
    customer_touches (brand_id, customer_ref, via, touch_key) {
        brand_id -> Text,
        customer_ref -> Text,
        via -> Text,
        touch_key -> Text,
        campaign_id -> Text,
        enrollment_id -> Text,
        influencer_id -> Text,
        link_id -> Nullable<Text>,
        at -> BigInt,
        attributable -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    costs (id) {
        id -> Text,
        brand_id -> Text,
        campaign_id -> Text,
        kind -> Text,
        amount_micros -> BigInt,
        original_micros -> BigInt,
        original_currency -> Text,
        influencer_id -> Nullable<Text>,
        enrollment_id -> Nullable<Text>,
        post_url -> Nullable<Text>,
        note -> Nullable<Text>,
        incurred_at -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::joinable!(enrollments -> campaigns (campaign_id));
diesel::joinable!(enrollments -> influencers (influencer_id));
diesel::joinable!(links -> enrollments (enrollment_id));
diesel::joinable!(discount_codes -> enrollments (enrollment_id));
diesel::allow_tables_to_appear_in_same_query!(
    brands,
    api_keys,
    settings,
    influencers,
    influencer_platforms,
    influencer_tags,
    campaigns,
    enrollments,
    links,
    discount_codes,
    clicks,
    link_daily,
    link_day_visitors,
    visitor_salts,
    fx_rates,
    integrations,
    orders,
    order_touches,
    attributions,
    refunds,
    events,
    order_credits,
    enrollment_daily,
    enrollment_hourly,
    posts,
    prune_log,
    payouts,
);

diesel::table! {
    fx_rates (brand_id, base, quote) {
        brand_id -> Text,
        base -> Text,
        quote -> Text,
        rate -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    integrations (brand_id, platform) {
        brand_id -> Text,
        platform -> Text,
        webhook_secret -> Nullable<Text>,
        updated_at -> BigInt,
        base_url -> Nullable<Text>,
        access_token -> Nullable<Text>,
        consumer_key -> Nullable<Text>,
        consumer_secret -> Nullable<Text>,
    }
}

diesel::table! {
    orders (id) {
        id -> Text,
        brand_id -> Text,
        external_id -> Text,
        fingerprint -> Text,
        source -> Text,
        amount_micros -> BigInt,
        currency -> Text,
        occurred_at -> BigInt,
        customer_ref -> Nullable<Text>,
        discount_codes -> Text,
        click_ids -> Text,
        self_referral -> Bool,
        attributed -> Bool,
        refunded_micros -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    order_touches (order_id, position) {
        order_id -> Text,
        position -> Integer,
        brand_id -> Text,
        campaign_id -> Text,
        enrollment_id -> Text,
        influencer_id -> Text,
        via -> Text,
        touch_key -> Text,
        at -> BigInt,
        attributable -> Bool,
        model -> Text,
        window_days -> Integer,
        code_priority -> Bool,
    }
}

diesel::table! {
    attributions (order_id, position) {
        order_id -> Text,
        position -> Integer,
        brand_id -> Text,
        campaign_id -> Text,
        enrollment_id -> Text,
        influencer_id -> Text,
        via -> Text,
        model -> Nullable<Text>,
        share_micros -> BigInt,
        credited_micros -> BigInt,
        currency -> Text,
        occurred_at -> BigInt,
    }
}

diesel::table! {
    refunds (id) {
        id -> Text,
        brand_id -> Text,
        order_id -> Text,
        external_id -> Text,
        fingerprint -> Text,
        amount_micros -> BigInt,
        occurred_at -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    events (id) {
        id -> Text,
        brand_id -> Text,
        external_id -> Text,
        fingerprint -> Text,
        kind -> Text,
        click_id -> Text,
        campaign_id -> Nullable<Text>,
        enrollment_id -> Nullable<Text>,
        influencer_id -> Nullable<Text>,
        occurred_at -> BigInt,
        created_at -> BigInt,
        customer_ref -> Nullable<Text>,
        value_micros -> Nullable<BigInt>,
        score -> Nullable<Integer>,
        first_order_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    order_credits (order_id, model, position) {
        order_id -> Text,
        model -> Text,
        position -> Integer,
        campaign_id -> Text,
        enrollment_id -> Text,
        share_micros -> BigInt,
        credited_micros -> BigInt,
        refunded_micros -> BigInt,
        occurred_at -> BigInt,
        self_referral -> Bool,
        paid -> Bool,
    }
}

diesel::table! {
    enrollment_daily (campaign_id, model, enrollment_id, day) {
        campaign_id -> Text,
        model -> Text,
        day -> Integer,
        enrollment_id -> Text,
        orders -> BigInt,
        redemptions -> BigInt,
        conversions_micros -> BigInt,
        gross_micros -> BigInt,
        refunded_micros -> BigInt,
        self_gross_micros -> BigInt,
        self_refunded_micros -> BigInt,
        paid_conversions_micros -> BigInt,
        paid_gross_micros -> BigInt,
        paid_refunded_micros -> BigInt,
    }
}

diesel::table! {
    enrollment_hourly (campaign_id, hour, enrollment_id) {
        campaign_id -> Text,
        hour -> Integer,
        enrollment_id -> Text,
        clicks -> BigInt,
    }
}

diesel::table! {
    posts (id) {
        id -> Text,
        brand_id -> Text,
        campaign_id -> Text,
        enrollment_id -> Text,
        influencer_id -> Text,
        post_url -> Text,
        platform -> Text,
        paid -> Bool,
        reach -> BigInt,
        impressions -> BigInt,
        likes -> BigInt,
        comments -> BigInt,
        shares -> BigInt,
        saves -> BigInt,
        video_views -> Nullable<BigInt>,
        posted_at -> Nullable<BigInt>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    prune_log (id) {
        id -> Text,
        brand_id -> Text,
        campaign_id -> Text,
        action -> Text,
        key_id -> Text,
        at -> BigInt,
        model -> Nullable<Text>,
        rules -> Text,
        entries -> Text,
    }
}

diesel::table! {
    payouts (id) {
        id -> Text,
        brand_id -> Text,
        campaign_id -> Text,
        enrollment_id -> Text,
        influencer_id -> Text,
        amount_micros -> BigInt,
        reference -> Nullable<Text>,
        key_id -> Text,
        paid_at -> BigInt,
    }
}

diesel::table! {
    enrollment_totals (campaign_id, model, enrollment_id) {
        campaign_id -> Text,
        model -> Text,
        enrollment_id -> Text,
        orders -> BigInt,
        redemptions -> BigInt,
        conversions_micros -> BigInt,
        gross_micros -> BigInt,
        refunded_micros -> BigInt,
        self_gross_micros -> BigInt,
        self_refunded_micros -> BigInt,
        paid_conversions_micros -> BigInt,
        paid_gross_micros -> BigInt,
        paid_refunded_micros -> BigInt,
    }
}

diesel::table! {
    enrollment_click_totals (campaign_id, enrollment_id) {
        campaign_id -> Text,
        enrollment_id -> Text,
        clicks -> BigInt,
        unique_clicks -> BigInt,
        bot_clicks -> BigInt,
        attributable_clicks -> BigInt,
    }
}

diesel::table! {
    dashboard_sessions (id) {
        id -> Text,
        key_id -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    webhook_rejections (id) {
        id -> Text,
        brand_id -> Text,
        platform -> Text,
        reason -> Text,
        received_at -> BigInt,
    }
}

diesel::joinable!(dashboard_sessions -> api_keys (key_id));
diesel::allow_tables_to_appear_in_same_query!(dashboard_sessions, api_keys);

diesel::table! {
    jobs (id) {
        id -> Text,
        brand_id -> Text,
        kind -> Text,
        topic -> Text,
        payload -> Text,
        status -> Text,
        attempts -> BigInt,
        run_after -> BigInt,
        locked_until -> Nullable<BigInt>,
        locked_by -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    code_sync (code_id, platform) {
        code_id -> Text,
        platform -> Text,
        brand_id -> Text,
        status -> Text,
        shop_id -> Nullable<Text>,
        error -> Nullable<Text>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Text,
        brand_id -> Text,
        url -> Text,
        events -> Text,
        description -> Nullable<Text>,
        secret -> Text,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        failing_since -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        webhook_id -> Text,
        brand_id -> Text,
        event_id -> Text,
        event_type -> Text,
        body -> Text,
        status -> Text,
        attempts -> BigInt,
        response_status -> Nullable<Integer>,
        latency_ms -> Nullable<BigInt>,
        error -> Nullable<Text>,
        attempted_at -> Nullable<BigInt>,
        delivered_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(discount_codes, code_sync, jobs);
diesel::table! {
    announcements (event_type, subject) {
        event_type -> Text,
        subject -> Text,
        brand_id -> Text,
        campaign_id -> Nullable<Text>,
        at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(webhooks, webhook_deliveries);

diesel::table! {
    exclusions (id) {
        id -> Text,
        brand_id -> Text,
        campaign_id -> Text,
        visitor -> Nullable<Text>,
        link_id -> Nullable<Text>,
        referrer_host -> Nullable<Text>,
        from_at -> Nullable<BigInt>,
        to_at -> Nullable<BigInt>,
        order_id -> Nullable<Text>,
        reason -> Text,
        created_by -> Text,
        created_at -> BigInt,
        deleted_by -> Nullable<Text>,
        deleted_reason -> Nullable<Text>,
        deleted_at -> Nullable<BigInt>,
    }
}
