//! Funnel events between the click and the order, each tied to one of the brand's clicks.

use serde::Serialize;

use crate::core::ingest::{IngestError, IngestResult, Recorded};
use crate::core::now_micros;
use crate::db::AnyConnection;
use crate::domain::field::FieldError;
use crate::domain::ids::{BrandId, CampaignId, ClickId, EventId, InfluencerId};
use crate::domain::orders::{EventKind, NewEvent};
use crate::domain::time::rfc3339;
use crate::store::events::EventRow;
use crate::store::{self};

#[derive(Debug, Serialize)]
pub struct EventView {
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub click_id: ClickId,
    pub campaign_id: Option<CampaignId>,
    pub influencer_id: Option<InfluencerId>,
    pub occurred_at: String,
}

impl From<&EventRow> for EventView {
    fn from(e: &EventRow) -> Self {
        Self {
            event_id: e.external_id.clone(),
            kind: e.kind,
            click_id: e.click_id.clone(),
            campaign_id: e.campaign_id.clone(),
            influencer_id: e.influencer_id.clone(),
            occurred_at: rfc3339(e.occurred_at),
        }
    }
}

/// Records a funnel event tied to one of this brand's clicks, once.
pub fn record(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    event: NewEvent,
) -> IngestResult<Recorded<EventView>> {
    let replay = |existing: EventRow| -> IngestResult<Recorded<EventView>> {
        if existing.fingerprint != event.fingerprint {
            return Err(IngestError::BodyChanged {
                what: "event",
                id: existing.external_id,
            });
        }
        Ok(Recorded {
            created: false,
            view: EventView::from(&existing),
        })
    };
    if let Some(existing) = store::events::find(conn, brand_id, &event.external_id)? {
        return replay(existing);
    }
    let click = store::clicks::find(conn, brand_id, &event.click_id)?
        .ok_or_else(|| FieldError::new("click_id", "no click of this brand has this id"))?;
    let row = EventRow {
        id: EventId::new(),
        brand_id: brand_id.clone(),
        external_id: event.external_id.clone(),
        fingerprint: event.fingerprint.clone(),
        kind: event.kind,
        click_id: event.click_id.clone(),
        campaign_id: Some(click.campaign_id),
        enrollment_id: Some(click.enrollment_id),
        influencer_id: Some(click.influencer_id),
        occurred_at: event.occurred_at,
        created_at: now_micros(),
    };
    match store::events::insert(conn, &row) {
        Ok(()) => Ok(Recorded {
            created: true,
            view: EventView::from(&row),
        }),
        Err(e) if crate::db::is_duplicate(Some(&e)) => {
            let existing = store::events::find(conn, brand_id, &event.external_id)?
                .ok_or(IngestError::InFlight("event_id"))?;
            replay(existing)
        }
        Err(e) => Err(e.into()),
    }
}
