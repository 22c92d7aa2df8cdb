//! Funnel events between the click and the order, each tied to one of the brand's clicks.

use serde::Serialize;

use crate::core::ingest::{IngestError, IngestResult, Recorded};
use crate::core::now_micros;
use crate::db::AnyConnection;
use crate::domain::attribution::Via;
use crate::domain::field::FieldError;
use crate::domain::ids::{BrandId, CampaignId, ClickId, EventId, InfluencerId};
use crate::domain::money::{self, Currency};
use crate::domain::orders::{EventKind, NewEvent};
use crate::domain::time::rfc3339;
use crate::store::customers::CustomerTouchRow;
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
    /// The event's own value (without one, its campaign's value for its type counts).
    pub value: Option<String>,
    pub score: Option<i32>,
}

impl EventView {
    fn of(e: &EventRow, currency: Option<Currency>) -> Self {
        Self {
            value: e.value_micros.map(|v| {
                currency.map_or_else(|| money::format_rate(v), |c| money::format_amount(v, c))
            }),
            score: e.score,
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
    let replay =
        |conn: &mut AnyConnection, existing: EventRow| -> IngestResult<Recorded<EventView>> {
            if existing.fingerprint != event.fingerprint {
                return Err(IngestError::BodyChanged {
                    what: "event",
                    id: existing.external_id,
                });
            }
            let currency = match &existing.campaign_id {
                Some(id) => store::campaigns::find(conn, brand_id, id)?.map(|c| c.currency),
                None => None,
            };
            Ok(Recorded {
                created: false,
                view: EventView::of(&existing, currency),
            })
        };
    if let Some(existing) = store::events::find(conn, brand_id, &event.external_id)? {
        return replay(conn, existing);
    }
    let click = store::clicks::find(conn, brand_id, &event.click_id)?
        .ok_or_else(|| FieldError::new("click_id", "no click of this brand has this id"))?;
    let campaign = store::campaigns::find(conn, brand_id, &click.campaign_id)?
        .ok_or_else(|| FieldError::new("click_id", "no click of this brand has this id"))?;
    if let Some(v) = event.value_micros {
        crate::domain::orders::parse_money("value", &money::format_rate(v), campaign.currency)?;
    }
    let bind = event
        .customer_ref
        .as_ref()
        .map(|customer| CustomerTouchRow {
            brand_id: brand_id.clone(),
            customer_ref: customer.clone(),
            via: Via::Click,
            touch_key: click.id.as_str().to_string(),
            campaign_id: click.campaign_id.clone(),
            enrollment_id: click.enrollment_id.clone(),
            influencer_id: click.influencer_id.clone(),
            link_id: Some(click.link_id.clone()),
            at: click.ts,
            attributable: click.attributable,
            created_at: now_micros(),
        });
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
        customer_ref: event.customer_ref.clone(),
        value_micros: event.value_micros,
        score: event.score,
        first_order_at: None,
    };
    let written = crate::db::write_transaction(conn, |conn| {
        // Read with the write lock held, so that an order of the customer recorded meanwhile
        // is seen here or sees this event.
        let mut row = row.clone();
        if let Some(customer) = &row.customer_ref {
            row.first_order_at =
                store::customers::first_order_from(conn, brand_id, customer, row.occurred_at)?;
        }
        store::events::insert(conn, &row)?;
        if let Some(bind) = &bind {
            store::customers::bind(conn, std::slice::from_ref(bind))?;
        }
        Ok::<_, diesel::result::Error>(())
    });
    match written {
        Ok(()) => Ok(Recorded {
            created: true,
            view: EventView::of(&row, Some(campaign.currency)),
        }),
        Err(e) if crate::db::is_duplicate(Some(&e)) => {
            let existing = store::events::find(conn, brand_id, &event.external_id)?
                .ok_or(IngestError::InFlight("event_id"))?;
            replay(conn, existing)
        }
        Err(e) => Err(e.into()),
    }
}
