//! Reports: per-enrollment figures read from the rollups under any attribution model for any
//! window of whole UTC days, and what is built from them (leaderboard, campaign report with
//! goal and pace, time series, funnel).

pub mod funnel;
pub mod leaderboard;
pub mod overview;
pub mod report;
pub mod timeseries;

use std::collections::HashMap;

use crate::core::auth::{AuthError, Principal};
use crate::db::{AnyConnection, DbError};
use crate::domain::attribution::CreditKey;
use crate::domain::campaign::Model;
use crate::domain::field::{Checks, FieldError};
use crate::domain::ids::{BrandId, CampaignId, InfluencerId};
use crate::domain::metrics::{self, Metrics, Sums};
use crate::domain::scope::{Access, Scope};
use crate::domain::window::Window;
use crate::store::campaigns::CampaignRow;
use crate::store::enrollments::EnrollmentRow;
use crate::store::rollups::Days;
use crate::store::{self};

/// Why a report was not made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("validation failed")]
    Invalid(Vec<FieldError>),
    /// Missing, another brand's, or (for an influencer) a campaign it is not in.
    #[error("no such resource")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for ReportError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

impl From<Vec<FieldError>> for ReportError {
    fn from(errors: Vec<FieldError>) -> Self {
        Self::Invalid(errors)
    }
}

impl From<FieldError> for ReportError {
    fn from(error: FieldError) -> Self {
        Self::Invalid(vec![error])
    }
}

pub type ReportResult<T> = Result<T, ReportError>;

/// Who reads: the brand (admin or read key), or one influencer (its own rows only).
#[derive(Debug, Clone)]
pub struct Reader {
    pub brand_id: BrandId,
    pub influencer_id: Option<InfluencerId>,
}

impl Reader {
    /// The reader a principal is: an influencer key reads its own rows, admin and read keys
    /// the brand's.
    pub fn of(principal: &Principal) -> Result<Self, AuthError> {
        if let Principal::Brand(key) = principal {
            if key.scope == Scope::Influencer {
                return Ok(Self {
                    brand_id: key.brand_id.clone(),
                    influencer_id: Some(
                        key.influencer_id
                            .clone()
                            .ok_or(AuthError::Forbidden(crate::core::auth::WRONG_SCOPE))?,
                    ),
                });
            }
        }
        Ok(Self::brand(principal.brand(Access::Read)?.brand_id.clone()))
    }

    /// The whole brand.
    pub fn brand(brand_id: BrandId) -> Self {
        Self {
            brand_id,
            influencer_id: None,
        }
    }
}

/// A `model` parameter: one of the models, or absent (the credit as decided).
pub fn parse_model(checks: &mut Checks, raw: Option<&str>) -> Option<Model> {
    let raw = raw?;
    match Model::parse(raw.trim()) {
        Some(m) => Some(m),
        None => {
            checks.fail(
                "model",
                format!("must be one of {}", Model::NAMES.join(", ")),
            );
            None
        }
    }
}

/// A `sort` parameter: a metric's name, `net_revenue` by default.
pub fn parse_sort(checks: &mut Checks, field: &str, raw: Option<&str>) -> String {
    let sort = raw.unwrap_or("net_revenue").to_string();
    if !metrics::SORTABLE.contains(&sort.as_str()) {
        checks.fail(
            field,
            format!("must be one of {}", metrics::SORTABLE.join(", ")),
        );
    }
    sort
}

/// The campaign (404 for another brand's) and the enrollments the reader may see.
pub fn load_campaign(
    conn: &mut AnyConnection,
    reader: &Reader,
    campaign_id: &CampaignId,
) -> ReportResult<(CampaignRow, Vec<EnrollmentRow>)> {
    let campaign = store::campaigns::find(conn, &reader.brand_id, campaign_id)?
        .ok_or(ReportError::NotFound)?;
    let mut enrollments = store::enrollments::all_of_campaign(conn, campaign_id)?;
    if let Some(mine) = &reader.influencer_id {
        enrollments.retain(|e| &e.influencer_id == mine);
        if enrollments.is_empty() {
            // An influencer sees only campaigns it is in.
            return Err(ReportError::NotFound);
        }
    }
    Ok((campaign, enrollments))
}

/// One enrollment's figures.
#[derive(Debug, Clone)]
pub struct Row {
    pub enrollment: EnrollmentRow,
    pub handle: String,
    pub sums: Sums,
}

impl Row {
    pub fn metrics(&self, campaign: &CampaignRow) -> Metrics {
        metrics::compute(&self.sums, campaign.currency)
    }
}

fn days(window: Window) -> Days {
    if window.is_all() {
        Days::All
    } else {
        Days::Between(window.from_day, window.to_day)
    }
}

/// The figures of every enrollment in a window, under a model (none: as decided).
pub fn rows(
    conn: &mut AnyConnection,
    campaign: &CampaignRow,
    enrollments: Vec<EnrollmentRow>,
    model: Option<Model>,
    window: Window,
) -> ReportResult<Vec<Row>> {
    let currency = campaign.currency;
    let clicks = store::rollups::click_sums(conn, &campaign.id, days(window))?;
    let orders =
        store::credits::order_sums(conn, &campaign.id, CreditKey::read(model), days(window))?;
    let mut posts: HashMap<_, (i64, i64, i64)> = HashMap::new();
    for p in store::posts::of_campaign(conn, &campaign.id)? {
        let e = posts.entry(p.enrollment_id.clone()).or_default();
        e.0 += p.impressions;
        e.1 += p.reach;
        e.2 += p.engagements();
    }
    let handles = store::influencers::handles(conn, enrollments.iter().map(|e| &e.influencer_id))?;
    Ok(enrollments
        .into_iter()
        .map(|e| {
            let mut sums = Sums {
                fee_micros: e.fee_micros,
                ..Sums::default()
            };
            if let Some(c) = clicks.get(&e.id) {
                sums.clicks = c.clicks;
                sums.unique_clicks = c.unique_clicks;
                sums.bot_clicks = c.bot_clicks;
            }
            if let Some(o) = orders.get(&e.id) {
                let net = o.gross_micros - o.refunded_micros;
                let self_net = o.self_gross_micros - o.self_refunded_micros;
                sums.orders = o.orders;
                sums.redemptions = o.redemptions;
                sums.conversions_micros = o.conversions_micros;
                sums.gross_micros = o.gross_micros;
                sums.refunded_micros = o.refunded_micros;
                sums.self_net_micros = self_net;
                sums.commission_micros =
                    metrics::commission(e.commission_rate_micros, net - self_net, currency);
            }
            if let Some((impressions, reach, engagements)) = posts.get(&e.id) {
                sums.impressions = *impressions;
                sums.reach = *reach;
                sums.engagements = *engagements;
            }
            Row {
                handle: handles.get(&e.influencer_id).cloned().unwrap_or_default(),
                enrollment: e,
                sums,
            }
        })
        .collect())
}
