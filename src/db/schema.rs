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
diesel::allow_tables_to_appear_in_same_query!(brands, api_keys, settings);
