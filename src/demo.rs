//! `influtrack demo`: a realistic brand to look at on first run. One finished and one running
//! campaign, a dozen influencers with clearly different performance (a star, steady ones, a
//! click farm with many clicks and no sales, an unlucky newcomer with too little data), 30 days
//! of clicks, funnel events, orders and refunds, recorded through the same code paths as live
//! traffic (attribution, rollups), so that every page shows real figures.

use serde_json::json;

use crate::core::admin::enrollments::{self, Enroll, EnrolledView};
use crate::core::admin::influencers::{self, CreateInfluencer};
use crate::core::admin::{brands, campaigns, costs, keys, posts, AdminError};
use crate::core::campaign_loop::LoopError;
use crate::core::ingest::clicks::{self, PastClick};
use crate::core::ingest::{events, orders, refunds, IngestError};
use crate::core::{now_micros, AnyConnection, GroupCommit};
use crate::domain::campaign::CampaignStatus;
use crate::domain::ids::{BrandId, CampaignId, ClickId, InfluencerId};
use crate::domain::orders::{EventInput, OrderInput, OrderSource, RefundInput};
use crate::domain::scope::Scope;
use crate::domain::traffic::ClickKind;

const DAY: i64 = 86_400_000_000;
const MINUTE: i64 = 60_000_000;

/// What the demo created: the keys to sign in with.
#[derive(Debug, serde::Serialize)]
pub struct Demo {
    pub brand_id: BrandId,
    pub admin_key: String,
    pub read_key: String,
    pub influencer_key: String,
    pub influencer_handle: String,
    pub running_campaign_id: CampaignId,
    pub finished_campaign_id: CampaignId,
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

/// Why the demo could not be seeded.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Loop(#[from] LoopError),
    #[error("demo input: {0}")]
    Input(String),
}

fn input<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, SeedError> {
    serde_json::from_value(value).map_err(|e| SeedError::Input(e.to_string()))
}

/// Enrolls an influencer as the brand would (a vanity code of its handle and `code_suffix`,
/// 15% off, a goal of 20 conversions).
fn enroll(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
    influencer_id: &InfluencerId,
    handle: &str,
    p: &Persona,
    code_suffix: &str,
) -> Result<EnrolledView, SeedError> {
    let vanity = handle.split('.').next().unwrap_or("CODE").to_uppercase() + code_suffix;
    let req: Enroll = input(json!({
        "influencer_id": influencer_id,
        "fee": p.fee,
        "commission_rate": p.rate,
        "goal": {"metric": "conversions", "target": "20"},
        "code": vanity,
        "discount": {"type": "percent", "value": "15"},
    }))?;
    Ok(enrollments::enroll(conn, "", brand_id, campaign_id, req)?.offline())
}

/// Clicks, events, orders and refunds of one campaign's enrollments between two instants.
fn traffic(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    enrolled: &[(EnrolledView, &Persona)],
    (from, to): (i64, i64),
    rng: &mut Rng,
    order_prefix: &str,
) -> Result<(), SeedError> {
    let now = now_micros();
    let writes = GroupCommit::default();
    // Clicks of the influencers seen so far: shoppers who saw several of them (so that first
    // click, last click and linear credit differ).
    let mut seen: Vec<(ClickId, i64)> = Vec::new();
    for (e, p) in enrolled {
        let start = from.max(to - p.days * DAY);
        let days = ((to - start) / DAY).max(1);
        let mut human: Vec<(ClickId, i64)> = Vec::new();
        let mut past = Vec::new();
        for n in 0..(p.clicks_per_day as i64 * days) as usize {
            let at = start + rng.below((to - start - MINUTE) as u64) as i64;
            let bot = rng.below(100) < p.bots;
            let click = PastClick {
                id: ClickId::new(),
                at,
                visitor: format!("{:016x}", rng.below(p.clicks_per_day * 20) ^ (n as u64 % 7)),
                kind: if bot {
                    ClickKind::Bot
                } else {
                    ClickKind::Human
                },
                referrer_host: Some(if n % 3 == 0 {
                    "l.instagram.com"
                } else {
                    "www.tiktok.com"
                }),
                device: if n % 4 == 0 { "desktop" } else { "mobile" },
                browser: if n % 2 == 0 { "Safari" } else { "Chrome" },
                os: if n % 2 == 0 { "iOS" } else { "Android" },
            };
            if !bot {
                human.push((click.id.clone(), at));
            }
            past.push(click);
        }
        clicks::record(conn, brand_id, &e.link.id, &past)?;
        let shared: Vec<(ClickId, i64)> = human.iter().step_by(7).cloned().collect();
        let enrollment_id = e.enrollment.enrollment_id.as_str();
        // Funnel events and orders from a share of the human clicks.
        for (i, (click_id, at)) in human.iter().enumerate() {
            let roll = rng.below(1000);
            if roll < 400 {
                let kind = match roll {
                    0..=299 => "landing_view",
                    300..=339 => "lead",
                    340..=379 => "add_to_cart",
                    _ => "checkout_started",
                };
                let event = EventInput {
                    event_id: format!("{order_prefix}-ev-{enrollment_id}-{i}"),
                    kind: kind.into(),
                    click_id: click_id.to_string(),
                    occurred_at: chrono::DateTime::from_timestamp_micros(at + MINUTE),
                    customer_ref: None,
                    value: None,
                    // How ready to buy the lead is, as a CRM would score it.
                    score: (kind == "lead").then(|| rng.below(101) as i64),
                }
                .validate(now)
                .map_err(IngestError::Invalid)?;
                events::record(conn, brand_id, event)?;
            }
            if rng.below(1000) < p.buy_per_mille {
                let cents = p.basket_cents / 2 + rng.below(p.basket_cents);
                let with_code = rng.below(3) == 0;
                let order_at =
                    (at + 20 * MINUTE + rng.below(3 * DAY as u64) as i64).min(now - MINUTE);
                let order_id = format!("{order_prefix}-{}-{i}", &enrollment_id[24..]);
                let mut click_ids = vec![click_id.to_string()];
                if !seen.is_empty() && rng.below(100) < 45 {
                    let (other, other_at) = &seen[rng.below(seen.len() as u64) as usize];
                    if *other_at < order_at && order_at - other_at < 25 * DAY {
                        click_ids.push(other.to_string());
                    }
                }
                let order = OrderInput {
                    order_id: order_id.clone(),
                    amount: format!("{}.{:02}", cents / 100, cents % 100),
                    currency: "EUR".into(),
                    occurred_at: chrono::DateTime::from_timestamp_micros(order_at),
                    discount_codes: if with_code {
                        vec![e.discount_code.code.clone()]
                    } else {
                        vec![]
                    },
                    click_ids,
                    customer_ref: None,
                }
                .validate(now)
                .map_err(IngestError::Invalid)?;
                orders::record(conn, &writes, brand_id, order, OrderSource::Demo)?;
                if rng.below(100) < 6 {
                    let refund = RefundInput {
                        refund_id: format!("{order_id}-r"),
                        amount: format!("{}.{:02}", cents / 200, cents % 100),
                        occurred_at: None,
                    };
                    refunds::record_input(conn, brand_id, &order_id, refund)?;
                }
            }
        }
        seen.extend(shared);
    }
    Ok(())
}

/// Seeds the demo brand; returns its keys.
pub fn seed(conn: &mut AnyConnection) -> Result<Demo, SeedError> {
    let mut rng = Rng(0x5EED_CAFE_F00D_0001);
    let brand = brands::create(
        conn,
        brands::CreateBrand {
            name: "Glow Cosmetics (demo)".into(),
        },
    )?;
    let brand_id = brand.brand.id.clone();
    let read = keys::create(
        conn,
        &brand_id,
        keys::CreateKey {
            scope: Scope::Read,
            name: Some("demo reporting".into()),
            influencer_id: None,
        },
    )?;
    let now = now_micros();
    let mut influencers = Vec::new();
    for p in &PEOPLE {
        let req: CreateInfluencer = input(json!({
            "handle": p.handle,
            "display_name": p.name,
            "email": format!("{}@creators.example", p.handle),
            "tags": ["beauty"],
        }))?;
        influencers.push(influencers::create(conn, &brand_id, req)?.row);
    }
    let campaign = |name: &str, from: i64, to: i64, target: &str| {
        input::<campaigns::CreateCampaign>(json!({
            "name": name,
            "destination_url": "https://shop.example/glow?ref=creators",
            "currency": "EUR",
            "starts_at": chrono::DateTime::from_timestamp_micros(from).map(|t| t.to_rfc3339()),
            "ends_at": chrono::DateTime::from_timestamp_micros(to).map(|t| t.to_rfc3339()),
            "status": "active",
            "goal": {"metric": "net_revenue", "target": target},
            "attribution": {"model": "last_click", "window_days": 30, "code_priority": true},
            "holding_days": 14,
            // A lead or a sign-up is worth something before anyone buys.
            "event_values": {"lead": "15.00", "signup": "4.00"},
            "cost_allocation": "by_net_revenue",
        }))
    };
    // The finished one: 60 to 31 days ago, eight influencers.
    let spring = (now - 60 * DAY, now - 31 * DAY);
    let finished = campaigns::create(
        conn,
        &brand_id,
        campaign("Spring Launch", spring.0, spring.1, "15000")?,
    )?;
    let mut enrolled = Vec::new();
    for (inf, p) in influencers.iter().zip(PEOPLE.iter()).take(8) {
        let e = enroll(
            conn,
            &brand_id,
            &finished.id,
            &inf.id,
            &inf.handle,
            p,
            "SPRING",
        )?;
        enrolled.push((e, p));
    }
    traffic(conn, &brand_id, &enrolled, spring, &mut rng, "sp")?;
    let ended = campaigns::UpdateCampaign {
        status: Some(CampaignStatus::Ended),
        ..input(json!({}))?
    };
    campaigns::update(conn, &brand_id, &finished.id, ended)?.offline();
    // The running one: the last 30 days and 10 more, everyone.
    let summer = (now - 30 * DAY, now + 10 * DAY);
    let running = campaigns::create(
        conn,
        &brand_id,
        campaign("Summer Glow", summer.0, summer.1, "40000")?,
    )?;
    let mut enrolled = Vec::new();
    for (inf, p) in influencers.iter().zip(PEOPLE.iter()) {
        let e = enroll(conn, &brand_id, &running.id, &inf.id, &inf.handle, p, "15")?;
        enrolled.push((e, p));
    }
    traffic(conn, &brand_id, &enrolled, (summer.0, now), &mut rng, "su")?;
    // Posts for awareness figures.
    for (i, (e, p)) in enrolled.iter().enumerate() {
        let reach = (p.clicks_per_day * 30 * (40 + i as u64)) as i64;
        let post: posts::PostInput = input(json!({
            "post_url": format!("https://instagram.com/p/{}-summer", p.handle.replace('.', "")),
            "platform": "instagram",
            "paid": i % 3 == 0,
            "reach": reach,
            "impressions": reach * 13 / 10,
            "likes": reach / (18 + 3 * i as i64),
            "comments": reach / 400,
            "shares": reach / 600,
            "saves": reach / 300,
            "posted_at": chrono::DateTime::from_timestamp_micros(now - 29 * DAY).map(|t| t.to_rfc3339()),
        }))?;
        posts::upsert(
            conn,
            &brand_id,
            &running.id,
            &e.enrollment.influencer_id,
            post,
        )?;
    }
    // What the campaign cost besides fees and commissions: product sent, a video, the first
    // post amplified, a tool for the whole campaign (spread by net revenue).
    for (kind, amount, who, post, note) in [
        ("product", "45.00", Some(0), None, "glow kit"),
        ("product", "45.00", Some(1), None, "glow kit"),
        ("content", "250.00", Some(0), None, "reel production"),
        ("ad_spend", "120.00", Some(0), Some(0), "boosted post"),
        ("tool", "89.00", None, None, "scheduling tool"),
    ] {
        let mut body = json!({
            "kind": kind,
            "amount": amount,
            "note": note,
            "incurred_at": chrono::DateTime::from_timestamp_micros(now - 28 * DAY).map(|t| t.to_rfc3339()),
        });
        if let Some(i) = who {
            body["influencer_id"] = json!(enrolled[i].0.enrollment.influencer_id);
        }
        if let Some(i) = post {
            let handle = enrolled[i].1.handle.replace('.', "");
            body["post_url"] = json!(format!("https://instagram.com/p/{handle}-summer"));
        }
        let cost: costs::CostInput = input(body)?;
        costs::create(conn, &brand_id, &running.id, cost)?;
    }
    // Everything folded into the rollups, as after a day of running.
    clicks::settle(conn)?;
    let star = &influencers[0];
    let mine = keys::create(
        conn,
        &brand_id,
        keys::CreateKey {
            scope: Scope::Influencer,
            name: Some(format!("{} (demo)", star.handle)),
            influencer_id: Some(star.id.to_string()),
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
