//! Clicks recorded after the fact (imported history, the demo's thirty days), beside the ones
//! the redirect records as they happen; and settling them into the rollups at once.

use crate::core::ingest::{IngestError, IngestResult};
use crate::core::now_micros;
use crate::db::AnyConnection;
use crate::domain::ids::{BrandId, ClickId, LinkId};
use crate::domain::traffic::ClickKind;
use crate::store::{self, clicks::NewClick};

/// A click that happened earlier, as the redirect would have recorded it.
#[derive(Debug, Clone)]
pub struct PastClick {
    pub id: ClickId,
    pub at: i64,
    /// Already anonymous: the same text for the same visitor on the same day.
    pub visitor: String,
    pub kind: ClickKind,
    pub referrer_host: Option<&'static str>,
    pub device: &'static str,
    pub browser: &'static str,
    pub os: &'static str,
}

/// Records clicks of one of the brand's links; human clicks are attributable.
pub fn record(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    link_id: &LinkId,
    clicks: &[PastClick],
) -> IngestResult<()> {
    let link = store::links::find(conn, brand_id, link_id)?
        .ok_or_else(|| IngestError::NotFound("no such resource".into()))?;
    let rows: Vec<NewClick<'_>> = clicks
        .iter()
        .map(|c| NewClick {
            id: &c.id,
            link_id: &link.id,
            brand_id: &link.brand_id,
            campaign_id: &link.campaign_id,
            enrollment_id: &link.enrollment_id,
            influencer_id: &link.influencer_id,
            ts: c.at,
            visitor_hash: &c.visitor,
            kind: c.kind,
            attributable: c.kind == ClickKind::Human,
            referrer_host: c.referrer_host,
            device: c.device,
            browser: c.browser,
            os: c.os,
            country: None,
        })
        .collect();
    store::clicks::append(conn, &rows)?;
    Ok(())
}

/// Folds every click made so far into the rollups (what the rollup thread does every 250 ms
/// to 1 s).
pub fn settle(conn: &mut AnyConnection) -> IngestResult<()> {
    let fence = store::clicks::raise_fence(conn, now_micros())?;
    while store::rollups::fold_to(conn, &fence, 50_000)? > 0 {}
    Ok(())
}
