//! The audit log of a campaign's prunes and reinstatements.

use diesel::prelude::*;

use crate::db::schema::prune_log;
use crate::db::types::row;
use crate::db::AnyConnection;
use crate::domain::campaign::Model;
use crate::domain::ids::{BrandId, CampaignId, KeyId, PruneLogId};
use crate::domain::pruning::PruneAction;

row! {
    #[derive(Debug, Clone, Insertable)]
    #[diesel(treat_none_as_default_value = false)]
    pub struct LogRow in prune_log {
        pub id: PruneLogId,
        pub brand_id: BrandId,
        pub campaign_id: CampaignId,
        pub action: PruneAction,
        /// The key that did it.
        pub key_id: KeyId,
        pub at: i64,
        pub model: Option<Model>,
        /// JSON: the rules applied.
        pub rules: String,
        /// JSON: the enrollments changed, with why.
        pub entries: String,
    }
}

pub fn insert(conn: &mut AnyConnection, row: &LogRow) -> QueryResult<()> {
    diesel::insert_into(prune_log::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// A campaign's log, newest first.
pub fn of_campaign(conn: &mut AnyConnection, campaign_id: &CampaignId) -> QueryResult<Vec<LogRow>> {
    prune_log::table
        .filter(prune_log::campaign_id.eq(campaign_id))
        .order((prune_log::at.desc(), prune_log::id.desc()))
        .select(LogRow::as_select())
        .load(conn)
}
