//! Posts and their latest metrics (the awareness and interest stages).

use diesel::prelude::*;
use diesel::upsert::excluded;

use crate::db::schema::posts;
use crate::db::types::row;
use crate::db::{with_backend, AnyConnection};
use crate::domain::ids::{BrandId, CampaignId, EnrollmentId, InfluencerId, PostId};

row! {
    #[derive(Debug, Clone, Insertable)]
    #[diesel(treat_none_as_default_value = false)]
    pub struct PostRow in posts {
        pub id: PostId,
        pub brand_id: BrandId,
        pub campaign_id: CampaignId,
        pub enrollment_id: EnrollmentId,
        pub influencer_id: InfluencerId,
        pub post_url: String,
        pub platform: String,
        pub paid: bool,
        pub reach: i64,
        pub impressions: i64,
        pub likes: i64,
        pub comments: i64,
        pub shares: i64,
        pub saves: i64,
        pub video_views: Option<i64>,
        pub posted_at: Option<i64>,
        pub updated_at: i64,
    }
}

impl PostRow {
    /// Likes, comments, shares and saves.
    pub fn engagements(&self) -> i64 {
        self.likes + self.comments + self.shares + self.saves
    }
}

/// Inserts a post or replaces its metrics (one post per URL per enrollment); returns the post
/// as stored and whether it was new.
pub fn upsert(conn: &mut AnyConnection, row: &PostRow) -> QueryResult<(PostRow, bool)> {
    let existing: Option<PostId> = posts::table
        .filter(posts::enrollment_id.eq(&row.enrollment_id))
        .filter(posts::post_url.eq(&row.post_url))
        .select(posts::id)
        .first(conn)
        .optional()?;
    with_backend!(conn, |c| diesel::insert_into(posts::table)
        .values(row)
        .on_conflict((posts::enrollment_id, posts::post_url))
        .do_update()
        .set((
            posts::platform.eq(excluded(posts::platform)),
            posts::paid.eq(excluded(posts::paid)),
            posts::reach.eq(excluded(posts::reach)),
            posts::impressions.eq(excluded(posts::impressions)),
            posts::likes.eq(excluded(posts::likes)),
            posts::comments.eq(excluded(posts::comments)),
            posts::shares.eq(excluded(posts::shares)),
            posts::saves.eq(excluded(posts::saves)),
            posts::video_views.eq(excluded(posts::video_views)),
            posts::posted_at.eq(excluded(posts::posted_at)),
            posts::updated_at.eq(excluded(posts::updated_at)),
        ))
        .execute(c))?;
    let stored = posts::table
        .filter(posts::enrollment_id.eq(&row.enrollment_id))
        .filter(posts::post_url.eq(&row.post_url))
        .select(PostRow::as_select())
        .first(conn)?;
    Ok((stored, existing.is_none()))
}

pub fn of_campaign(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
) -> QueryResult<Vec<PostRow>> {
    posts::table
        .filter(posts::campaign_id.eq(campaign_id))
        .select(PostRow::as_select())
        .load(conn)
}
