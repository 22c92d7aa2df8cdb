//! The click path below the application: the link cache, the agent classifier, the click
//! writer (group commit) and the rollup thread. Imports `store`, `db` and `domain`; `core`
//! drives it (see `core::redirect`).

pub mod cache;
pub mod codes;
pub mod writer;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::db::AnyConnection;
use crate::domain::campaign::{CampaignStatus, EnrollmentStatus};
use crate::domain::codes::LinkStatus;
use crate::domain::traffic::{AgentClass, Classifier, ClickKind};
use crate::domain::urls;
use crate::store;
use cache::{CachedLink, LinkCache};
use writer::ClickWriter;

/// Everything the redirect shares.
pub struct Tracking {
    pub cache: LinkCache,
    /// Every link code that exists (unknown codes answer without a database read; topped up
    /// each second by the rollup thread).
    pub codes: Arc<codes::KnownCodes>,
    /// User agent → (bot or human, coarse class): parsing is the costliest step of a click,
    /// and real traffic repeats a few thousand agents.
    agents: dashmap::DashMap<String, (ClickKind, AgentClass)>,
    pub writer: ClickWriter,
    classifier: Classifier,
}

const MAX_AGENTS: usize = 20_000;

impl Tracking {
    pub fn new(writer: ClickWriter, codes: Arc<codes::KnownCodes>) -> Self {
        // Exported from the start, so that dashboards see zeros rather than nothing.
        metrics::counter!("clicks_unrecorded_total").increment(0);
        metrics::gauge!("click_queue_depth").set(0.0);
        Self {
            cache: LinkCache::new(Duration::from_secs(30), Duration::from_secs(10)),
            codes,
            agents: dashmap::DashMap::new(),
            writer,
            classifier: Classifier::default(),
        }
    }

    /// Classifies a request: prefetches by their header, the rest by user agent (cached).
    pub fn classify(
        &self,
        user_agent: Option<&str>,
        purpose: Option<&str>,
    ) -> (ClickKind, AgentClass) {
        let ua = user_agent.unwrap_or("");
        let (kind, class) = match self.agents.get(ua) {
            Some(hit) => hit.clone(),
            None => {
                let result = (
                    self.classifier.classify(user_agent, None),
                    crate::domain::traffic::agent_class(user_agent),
                );
                if self.agents.len() >= MAX_AGENTS {
                    self.agents.clear();
                }
                if ua.len() <= 512 {
                    self.agents.insert(ua.to_string(), result.clone());
                }
                result
            }
        };
        if crate::domain::traffic::is_prefetch(purpose) {
            return (ClickKind::Prefetch, class);
        }
        (kind, class)
    }
}

/// Loads what the redirect needs for a code; `None` when no link has it.
pub fn load_link(conn: &mut AnyConnection, code: &str) -> diesel::QueryResult<Option<CachedLink>> {
    let targets = store::links::redirect_targets(conn, Some(code), 1)?;
    let mut codes = applied_codes(conn, &targets)?;
    Ok(targets.into_iter().next().map(|t| {
        let apply = codes.remove(&t.link.id);
        cached(t, apply)
    }))
}

/// What a link that applies its code carries to the shop: the enrollment's first active code,
/// and where the brand's shop is.
#[derive(Debug, Clone)]
struct Applied {
    code: String,
    /// Shopify's shop URL, when Shopify is connected (it takes precedence).
    shopify: Option<String>,
    woocommerce: bool,
}

/// The codes the links of `targets` that apply one carry (one query per kind of row, and
/// none at all when no link applies a code).
fn applied_codes(
    conn: &mut AnyConnection,
    targets: &[store::links::RedirectTarget],
) -> diesel::QueryResult<HashMap<crate::domain::ids::LinkId, Applied>> {
    // A pruned influencer's link carries no code: the shop would refuse it.
    let applying: Vec<&store::links::RedirectTarget> = targets
        .iter()
        .filter(|t| t.link.apply_code && t.enrollment_status == EnrollmentStatus::Active)
        .collect();
    let mut out = HashMap::new();
    if applying.is_empty() {
        return Ok(out);
    }
    let mut enrollments: Vec<crate::domain::ids::EnrollmentId> = applying
        .iter()
        .map(|t| t.link.enrollment_id.clone())
        .collect();
    enrollments.sort();
    enrollments.dedup();
    let mut first_code = HashMap::new();
    // In id order: the first usable code an enrollment got is the one its links carry.
    let now = chrono::Utc::now().timestamp_micros();
    for chunk in enrollments.chunks(500) {
        for code in store::codes::of_enrollments(conn, chunk)? {
            let usable = code.status == crate::domain::codes::CodeStatus::Active
                && code.expires_at.is_none_or(|t| t > now)
                && code.max_redemptions.is_none_or(|m| code.redemptions < m);
            if usable {
                first_code.entry(code.enrollment_id).or_insert(code.code);
            }
        }
    }
    let mut shops = HashMap::new();
    for t in applying {
        let Some(code) = first_code.get(&t.link.enrollment_id) else {
            continue;
        };
        let brand = &t.link.brand_id;
        if !shops.contains_key(brand) {
            let mut shop = |platform| {
                store::integrations::find(conn, brand, platform)
                    .map(|row| row.filter(|r| r.can_sync()).and_then(|r| r.base_url))
            };
            let found = (
                shop(crate::domain::integrations::Platform::Shopify)?,
                shop(crate::domain::integrations::Platform::WooCommerce)?,
            );
            shops.insert(brand.clone(), found);
        }
        let (shopify, woo) = &shops[brand];
        if shopify.is_none() && woo.is_none() {
            continue;
        }
        out.insert(
            t.link.id.clone(),
            Applied {
                code: code.clone(),
                shopify: shopify.clone(),
                woocommerce: woo.is_some(),
            },
        );
    }
    Ok(out)
}

/// Fills the cache with the newest links at start, so that the first click on each is as
/// fast as the rest, and the set of known codes with every link's code.
pub fn warm(
    conn: &mut AnyConnection,
    tracking: &Tracking,
    limit: i64,
) -> diesel::QueryResult<usize> {
    tracking.codes.top_up(conn)?;
    let targets = store::links::redirect_targets(conn, None, limit)?;
    let mut codes = applied_codes(conn, &targets)?;
    let n = targets.len();
    for target in targets {
        let code = target.link.code.clone();
        let apply = codes.remove(&target.link.id);
        tracking.cache.insert(code, Arc::new(cached(target, apply)));
    }
    Ok(n)
}

fn cached(t: store::links::RedirectTarget, applied: Option<Applied>) -> CachedLink {
    let target = urls::link_target(
        t.link.destination_url.as_deref(),
        &t.campaign_destination,
        t.link.utm_overrides(),
        &t.handle,
        &t.campaign_slug,
        t.link.label.as_deref(),
    );
    CachedLink {
        attributable_state: t.link.status == LinkStatus::Active
            && t.enrollment_status == EnrollmentStatus::Active
            && t.campaign_status == CampaignStatus::Active,
        link_id: t.link.id,
        brand_id: t.link.brand_id,
        campaign_id: t.link.campaign_id,
        enrollment_id: t.link.enrollment_id,
        influencer_id: t.link.influencer_id,
        tracking_url: match &applied {
            // WooCommerce: the storefront script applies `itk_code` to the cart.
            Some(a) if a.shopify.is_none() && a.woocommerce => {
                urls::append_param(&target.tracking_url, "itk_code", &a.code)
            }
            _ => target.tracking_url,
        },
        starts_at: t.starts_at,
        ends_at: t.ends_at,
        apply: applied.and_then(|a| {
            a.shopify.map(|shop_url| cache::ShopifyDiscount {
                shop_url,
                code: a.code,
            })
        }),
    }
}

pub type SharedLink = Arc<CachedLink>;
