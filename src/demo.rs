//! `influtrack demo`: a realistic brand to look at on first run. One finished and one running
//! campaign, a dozen influencers with clearly different performance (a star, steady ones, a
//! click farm with many clicks and no sales, an unlucky newcomer with too little data), 30 days
//! of clicks, funnel events, orders and refunds, recorded through the same code paths as live
//! traffic (attribution, rollups), so that every page shows real figures.

use diesel::prelude::*;
use serde_json::json;

use crate::api::{brands, campaigns, codes, keys, links};
use crate::db::AnyConnection;
use crate::domain::orders::{EventInput, OrderInput, RefundInput};
use crate::domain::scope::Scope;
use crate::error::{ApiError, ApiResult};
use crate::store;

const DAY: i64 = 86_400_000_000;
const MINUTE: i64 = 60_000_000;

/// What the demo created: the keys to sign in with.
#[derive(Debug, serde::Serialize)]
pub struct Demo {
    pub brand_id: String,
    pub admin_key: String,
    pub read_key: String,
    pub influencer_key: String,
    pub influencer_handle: String,
    pub running_campaign_id: String,
    pub finished_campaign_id: String,
}

/// How an influencer performs: clicks per day, the share of clicks that buy, average basket.
struct Persona {
    handle: &'static str,
    name: &'static str,
    fee: &'static str,
    rate: &'static str,
    clicks_per_day: u64,
    /// Orders per 1,000 human clicks.
    buy_per_mille: u64,
    basket_cents: u64,
    /// Share of clicks from bots, per cent.
    bots: u64,
    /// Days active (from the end), for newcomers.
    days: i64,
}

const PEOPLE: [Persona; 12] = [
    Persona {
        handle: "mia.glow",
        name: "Mia Laurent",
        fee: "400",
        rate: "0.10",
        clicks_per_day: 260,
        buy_per_mille: 38,
        basket_cents: 6_400,
        bots: 3,
        days: 30,
    },
    Persona {
        handle: "sam.skin",
        name: "Sam Ortega",
        fee: "250",
        rate: "0.10",
        clicks_per_day: 140,
        buy_per_mille: 26,
        basket_cents: 5_200,
        bots: 3,
        days: 30,
    },
    Persona {
        handle: "lena.beauty",
        name: "Lena Fischer",
        fee: "250",
        rate: "0.08",
        clicks_per_day: 120,
        buy_per_mille: 24,
        basket_cents: 4_800,
        bots: 4,
        days: 30,
    },
    Persona {
        handle: "kofi.style",
        name: "Kofi Mensah",
        fee: "200",
        rate: "0.10",
        clicks_per_day: 90,
        buy_per_mille: 22,
        basket_cents: 5_600,
        bots: 2,
        days: 30,
    },
    Persona {
        handle: "ana.daily",
        name: "Ana Costa",
        fee: "150",
        rate: "0.10",
        clicks_per_day: 70,
        buy_per_mille: 20,
        basket_cents: 4_100,
        bots: 5,
        days: 30,
    },
    Persona {
        handle: "yuki.routine",
        name: "Yuki Tanaka",
        fee: "150",
        rate: "0.12",
        clicks_per_day: 60,
        buy_per_mille: 18,
        basket_cents: 4_700,
        bots: 3,
        days: 30,
    },
    Persona {
        handle: "raj.reviews",
        name: "Raj Patel",
        fee: "300",
        rate: "0.10",
        clicks_per_day: 80,
        buy_per_mille: 9,
        basket_cents: 3_900,
        bots: 6,
        days: 30,
    },
    Persona {
        handle: "clickfarm.deals",
        name: "Deals Daily",
        fee: "300",
        rate: "0.10",
        clicks_per_day: 420,
        buy_per_mille: 0,
        basket_cents: 3_000,
        bots: 35,
        days: 30,
    },
    Persona {
        handle: "noa.minimal",
        name: "Noa Levi",
        fee: "100",
        rate: "0.10",
        clicks_per_day: 40,
        buy_per_mille: 12,
        basket_cents: 3_600,
        bots: 3,
        days: 30,
    },
    Persona {
        handle: "ella.ugc",
        name: "Ella Brown",
        fee: "120",
        rate: "0.10",
        clicks_per_day: 45,
        buy_per_mille: 6,
        basket_cents: 3_300,
        bots: 4,
        days: 30,
    },
    Persona {
        handle: "tom.grooming",
        name: "Tom Novak",
        fee: "180",
        rate: "0.10",
        clicks_per_day: 55,
        buy_per_mille: 4,
        basket_cents: 4_400,
        bots: 4,
        days: 30,
    },
    Persona {
        handle: "newbie.nina",
        name: "Nina Park",
        fee: "50",
        rate: "0.10",
        clicks_per_day: 6,
        buy_per_mille: 0,
        basket_cents: 3_000,
        bots: 0,
        days: 3,
    },
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

fn invalid(e: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(e.to_string())
}

struct Enrolled {
    enrollment: store::enrollments::EnrollmentRow,
    link: store::enrollments::LinkRow,
    code: String,
}

fn enroll(
    conn: &mut AnyConnection,
    brand_id: &str,
    campaign_id: &str,
    influencer: &store::influencers::InfluencerRow,
    p: &Persona,
    code_suffix: &str,
) -> ApiResult<Enrolled> {
    let now = crate::db::now_micros();
    let row = store::enrollments::EnrollmentRow {
        id: uuid::Uuid::now_v7().to_string(),
        brand_id: brand_id.into(),
        campaign_id: campaign_id.into(),
        influencer_id: influencer.id.clone(),
        status: "active".into(),
        fee_micros: crate::domain::money::parse_amount("fee", p.fee)
            .map_err(|e| ApiError::Validation(vec![e]))?,
        commission_rate_micros: crate::domain::money::parse_rate("rate", p.rate)
            .map_err(|e| ApiError::Validation(vec![e]))?,
        goal_metric: Some("conversions".into()),
        goal_target_micros: Some(20 * crate::domain::money::MICROS),
        created_at: now,
        pruned_at: None,
    };
    store::enrollments::insert(conn, &row)?;
    let mut link = links::new_link_row(
        brand_id,
        campaign_id,
        &row.id,
        &influencer.id,
        links::CreateLink::default(),
    )?;
    store::enrollments::insert_link(conn, &mut link, crate::domain::codes::new_link_code)?;
    let vanity: String = influencer
        .handle
        .split('.')
        .next()
        .unwrap_or("CODE")
        .to_uppercase()
        + code_suffix;
    let mut checks = crate::api::extract::Checks::default();
    let mut code = codes::new_code_row(
        &mut checks,
        (brand_id, campaign_id, &row.id, &influencer.id),
        &influencer.handle,
        "code",
        Some(&vanity),
        ("percent".into(), 15 * crate::domain::money::MICROS),
        None,
        None,
    );
    checks.finish()?;
    codes::insert_code(conn, &mut code, &influencer.handle)?;
    Ok(Enrolled {
        enrollment: row,
        link,
        code: code.row.code,
    })
}

/// Clicks, events, orders and refunds of one campaign's enrollments between two instants.
#[allow(clippy::too_many_arguments)]
fn traffic(
    conn: &mut AnyConnection,
    brand_id: &str,
    enrolled: &[(Enrolled, &Persona)],
    from: i64,
    to: i64,
    rng: &mut Rng,
    order_prefix: &str,
) -> ApiResult<()> {
    let now = crate::db::now_micros();
    // Clicks of the influencers seen so far: shoppers who saw several of them (so that first
    // click, last click and linear credit differ).
    let mut seen: Vec<(String, i64)> = Vec::new();
    for (e, p) in enrolled {
        let start = from.max(to - p.days * DAY);
        let days = ((to - start) / DAY).max(1);
        let mut clicks: Vec<(String, i64, bool)> = Vec::new();
        let mut rows = Vec::new();
        let ids: Vec<String> = (0..(p.clicks_per_day as i64 * days))
            .map(|_| uuid::Uuid::now_v7().to_string())
            .collect();
        for (n, id) in ids.iter().enumerate() {
            let at = start + rng.below((to - start - MINUTE) as u64) as i64;
            let bot = rng.below(100) < p.bots;
            let visitor = format!("{:016x}", rng.below(p.clicks_per_day * 20) ^ (n as u64 % 7));
            rows.push(store::clicks::NewClick {
                id,
                link_id: &e.link.id,
                brand_id,
                campaign_id: &e.enrollment.campaign_id,
                enrollment_id: &e.enrollment.id,
                influencer_id: &e.enrollment.influencer_id,
                ts: at,
                visitor_hash: visitor,
                kind: if bot { "bot" } else { "human" },
                attributable: !bot,
                referrer_host: Some(if n % 3 == 0 {
                    "l.instagram.com"
                } else {
                    "www.tiktok.com"
                }),
                device: if n % 4 == 0 { "desktop" } else { "mobile" },
                browser: if n % 2 == 0 { "Safari" } else { "Chrome" },
                os: if n % 2 == 0 { "iOS" } else { "Android" },
                country: None,
            });
            if !bot {
                clicks.push((id.clone(), at, true));
            }
        }
        store::clicks::insert_clicks(conn, &rows)?;
        let shared: Vec<(String, i64)> = clicks
            .iter()
            .step_by(7)
            .map(|(id, at, _)| (id.clone(), *at))
            .collect();
        // Funnel events and orders from a share of the human clicks.
        for (i, (click_id, at, _)) in clicks.iter().enumerate() {
            let roll = rng.below(1000);
            if roll < 400 {
                let kind = match roll {
                    0..=299 => "landing_view",
                    300..=339 => "lead",
                    340..=379 => "add_to_cart",
                    _ => "checkout_started",
                };
                let event = EventInput {
                    event_id: format!("{order_prefix}-ev-{}-{i}", e.enrollment.id),
                    kind: kind.into(),
                    click_id: click_id.clone(),
                    occurred_at: chrono::DateTime::from_timestamp_micros(at + MINUTE),
                }
                .validate(now)
                .map_err(ApiError::Validation)?;
                crate::ingest::record_event(conn, brand_id, event)?;
            }
            if rng.below(1000) < p.buy_per_mille {
                let cents = p.basket_cents / 2 + rng.below(p.basket_cents);
                let with_code = rng.below(3) == 0;
                let order_at =
                    (at + 20 * MINUTE + rng.below(3 * DAY as u64) as i64).min(now - MINUTE);
                let order_id = format!("{order_prefix}-{}-{i}", &e.enrollment.id[24..]);
                let input = OrderInput {
                    order_id: order_id.clone(),
                    amount: format!("{}.{:02}", cents / 100, cents % 100),
                    currency: "EUR".into(),
                    occurred_at: chrono::DateTime::from_timestamp_micros(order_at),
                    discount_codes: if with_code {
                        vec![e.code.clone()]
                    } else {
                        vec![]
                    },
                    click_ids: {
                        let mut ids = vec![click_id.clone()];
                        if !seen.is_empty() && rng.below(100) < 45 {
                            let (other, other_at) = &seen[rng.below(seen.len() as u64) as usize];
                            if *other_at < order_at && order_at - other_at < 25 * DAY {
                                ids.push(other.clone());
                            }
                        }
                        ids
                    },
                    customer_ref: None,
                }
                .validate(now)
                .map_err(ApiError::Validation)?;
                crate::ingest::record_order(
                    conn,
                    &crate::db::GroupCommit::default(),
                    brand_id,
                    input,
                    "demo",
                )?;
                if rng.below(100) < 6 {
                    let order = store::orders::find_order(conn, brand_id, &order_id)?
                        .ok_or_else(ApiError::not_found)?;
                    let refund = RefundInput {
                        refund_id: format!("{order_id}-r"),
                        amount: format!("{}.{:02}", cents / 200, cents % 100),
                        occurred_at: None,
                    }
                    .validate(crate::ingest::order_currency(&order), now)
                    .map_err(ApiError::Validation)?;
                    crate::ingest::record_refund(conn, brand_id, &order, refund)?;
                }
            }
        }
        seen.extend(shared);
    }
    Ok(())
}

/// Seeds the demo brand; returns its keys.
pub fn seed(conn: &mut AnyConnection) -> ApiResult<Demo> {
    let mut rng = Rng(0x5EED_CAFE_F00D_0001);
    let brand = brands::create_brand_with_key(conn, "Glow Cosmetics (demo)")?;
    let brand_id = brand.brand.id.clone();
    let read = keys::create_key_for_brand(
        conn,
        &brand_id,
        keys::CreateKey {
            scope: Scope::Read,
            name: Some("demo reporting".into()),
            influencer_id: None,
        },
    )?;
    let now = crate::db::now_micros();
    let mut influencers = Vec::new();
    for p in &PEOPLE {
        let row = store::influencers::InfluencerRow {
            id: uuid::Uuid::now_v7().to_string(),
            brand_id: brand_id.clone(),
            handle: p.handle.into(),
            handle_norm: p.handle.to_lowercase(),
            display_name: p.name.into(),
            email: Some(format!("{}@creators.example", p.handle)),
            created_at: now,
            updated_at: now,
            deleted_at: None,
        };
        store::influencers::insert(conn, &row, &[], &["beauty".to_string()])?;
        influencers.push(row);
    }
    let campaign = |name: &str, from: i64, to: i64, status: &str, target: &str| {
        serde_json::from_value::<campaigns::CreateCampaign>(json!({
            "name": name,
            "destination_url": "https://shop.example/glow?ref=creators",
            "currency": "EUR",
            "starts_at": chrono::DateTime::from_timestamp_micros(from).map(|t| t.to_rfc3339()),
            "ends_at": chrono::DateTime::from_timestamp_micros(to).map(|t| t.to_rfc3339()),
            "status": status,
            "goal": {"metric": "net_revenue", "target": target},
            "attribution": {"model": "last_click", "window_days": 30, "code_priority": true},
            "holding_days": 14,
        }))
        .map_err(invalid)
    };
    // The finished one: 60 to 31 days ago, eight influencers.
    let (row, explicit) = campaigns::new_campaign_row(
        &brand_id,
        campaign(
            "Spring Launch",
            now - 60 * DAY,
            now - 31 * DAY,
            "active",
            "15000",
        )?,
    )?;
    let finished = campaigns::insert_campaign(conn, row, explicit)?;
    let mut spring = Vec::new();
    for (inf, p) in influencers.iter().zip(PEOPLE.iter()).take(8) {
        spring.push((enroll(conn, &brand_id, &finished.id, inf, p, "SPRING")?, p));
    }
    traffic(
        conn,
        &brand_id,
        &spring,
        now - 60 * DAY,
        now - 31 * DAY,
        &mut rng,
        "sp",
    )?;
    diesel::update(crate::db::schema::campaigns::table.find(&finished.id))
        .set(crate::db::schema::campaigns::status.eq("ended"))
        .execute(conn)?;
    // The running one: the last 30 days and 10 more, everyone.
    let (row, explicit) = campaigns::new_campaign_row(
        &brand_id,
        campaign(
            "Summer Glow",
            now - 30 * DAY,
            now + 10 * DAY,
            "active",
            "40000",
        )?,
    )?;
    let running = campaigns::insert_campaign(conn, row, explicit)?;
    let mut summer = Vec::new();
    for (inf, p) in influencers.iter().zip(PEOPLE.iter()) {
        summer.push((enroll(conn, &brand_id, &running.id, inf, p, "15")?, p));
    }
    traffic(
        conn,
        &brand_id,
        &summer,
        now - 30 * DAY,
        now,
        &mut rng,
        "su",
    )?;
    // Posts for awareness figures.
    for (i, (e, p)) in summer.iter().enumerate() {
        let reach = (p.clicks_per_day * 30 * (40 + i as u64)) as i64;
        let post = store::reports::PostRow {
            id: uuid::Uuid::now_v7().to_string(),
            brand_id: brand_id.clone(),
            campaign_id: running.id.clone(),
            enrollment_id: e.enrollment.id.clone(),
            influencer_id: e.enrollment.influencer_id.clone(),
            post_url: format!(
                "https://instagram.com/p/{}-summer",
                p.handle.replace('.', "")
            ),
            platform: "instagram".into(),
            paid: i % 3 == 0,
            reach,
            impressions: reach * 13 / 10,
            likes: reach / (18 + 3 * i as i64),
            comments: reach / 400,
            shares: reach / 600,
            saves: reach / 300,
            video_views: None,
            posted_at: Some(now - 29 * DAY),
            updated_at: now,
        };
        store::reports::upsert_post(conn, &post)?;
    }
    // Everything folded into the rollups, as after a day of running.
    let horizon = crate::db::now_micros();
    while store::clicks::fold(conn, horizon, 50_000)? > 0 {}
    let star = &influencers[0];
    let mine = keys::create_key_for_brand(
        conn,
        &brand_id,
        keys::CreateKey {
            scope: Scope::Influencer,
            name: Some(format!("{} (demo)", star.handle)),
            influencer_id: Some(star.id.clone()),
        },
    )?;
    Ok(Demo {
        brand_id,
        admin_key: brand.admin_key,
        read_key: read.key,
        influencer_key: mine.key,
        influencer_handle: star.handle.clone(),
        running_campaign_id: running.id,
        finished_campaign_id: finished.id,
    })
}
