//! Events announced once per subject (a fraud flag, a goal reached, an approved total): the
//! subject is inserted in the transaction that queues the event, and only an insert that took
//! announces, so instances looking at once announce it once.

use diesel::prelude::*;

use crate::db::schema::announcements;
use crate::db::{with_backend, AnyConnection};
use crate::domain::ids::{BrandId, CampaignId};

/// Records that the event about `subject` was announced; `false` when it already was (by
/// this instance or another).
pub fn announce(
    conn: &mut AnyConnection,
    event_type: &str,
    subject: &str,
    brand_id: &BrandId,
    campaign_id: Option<&CampaignId>,
    at: i64,
) -> QueryResult<bool> {
    let values = (
        announcements::event_type.eq(event_type),
        announcements::subject.eq(subject),
        announcements::brand_id.eq(brand_id),
        announcements::campaign_id.eq(campaign_id),
        announcements::at.eq(at),
    );
    let n = with_backend!(conn, |c| diesel::insert_into(announcements::table)
        .values(values)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(n == 1)
}

/// When each subject of a campaign was first announced.
pub fn announced(
    conn: &mut AnyConnection,
    event_type: &str,
    campaign_id: &CampaignId,
) -> QueryResult<Vec<(String, i64)>> {
    announcements::table
        .filter(announcements::campaign_id.eq(campaign_id))
        .filter(announcements::event_type.eq(event_type))
        .select((announcements::subject, announcements::at))
        .load(conn)
}
