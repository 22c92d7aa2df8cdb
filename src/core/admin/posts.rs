//! Posts: an influencer's published posts with their latest metrics.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::core::admin::{AdminError, AdminResult};
use crate::core::now_micros;
use crate::db::AnyConnection;
use crate::domain::field::Checks;
use crate::domain::ids::{BrandId, CampaignId, EnrollmentId, InfluencerId, PostId};
use crate::domain::json::non_null;
use crate::domain::time::{self, rfc3339};
use crate::store::{self, posts::PostRow};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostInput {
    pub post_url: String,
    pub platform: String,
    #[serde(default)]
    pub paid: bool,
    #[serde(default)]
    pub reach: i64,
    #[serde(default)]
    pub impressions: i64,
    #[serde(default)]
    pub likes: i64,
    #[serde(default)]
    pub comments: i64,
    #[serde(default)]
    pub shares: i64,
    #[serde(default)]
    pub saves: i64,
    pub video_views: Option<i64>,
    #[serde(default, deserialize_with = "non_null")]
    pub posted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct PostView {
    pub id: PostId,
    pub campaign_id: CampaignId,
    pub influencer_id: InfluencerId,
    pub enrollment_id: EnrollmentId,
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
    pub posted_at: Option<String>,
    pub updated_at: String,
}

impl From<PostRow> for PostView {
    fn from(p: PostRow) -> Self {
        Self {
            id: p.id,
            campaign_id: p.campaign_id,
            influencer_id: p.influencer_id,
            enrollment_id: p.enrollment_id,
            post_url: p.post_url,
            platform: p.platform,
            paid: p.paid,
            reach: p.reach,
            impressions: p.impressions,
            likes: p.likes,
            comments: p.comments,
            shares: p.shares,
            saves: p.saves,
            video_views: p.video_views,
            posted_at: p.posted_at.map(time::rfc3339),
            updated_at: rfc3339(p.updated_at),
        }
    }
}

/// Records a post or replaces its metrics with the latest (one post per URL); returns the
/// post and whether it is new.
pub fn upsert(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
    influencer_id: &InfluencerId,
    p: PostInput,
) -> AdminResult<(PostView, bool)> {
    let mut checks = Checks::default();
    let url = p.post_url.trim().to_string();
    match url::Url::parse(&url) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && url.len() <= 2048 => {}
        _ => checks.fail(
            "post_url",
            "must be an absolute http(s) URL of at most 2048 characters",
        ),
    }
    let platform = p.platform.trim().to_lowercase();
    if platform.is_empty()
        || p.platform.chars().count() > 32
        || platform.chars().any(char::is_control)
    {
        checks.fail("platform", "must be 1 to 32 printable characters");
    }
    for (field, v) in [
        ("reach", Some(p.reach)),
        ("impressions", Some(p.impressions)),
        ("likes", Some(p.likes)),
        ("comments", Some(p.comments)),
        ("shares", Some(p.shares)),
        ("saves", Some(p.saves)),
        ("video_views", p.video_views),
    ] {
        if v.is_some_and(|v| !(0..=1_000_000_000_000).contains(&v)) {
            checks.fail(field, "must be between 0 and 10^12");
        }
    }
    checks.finish()?;
    store::campaigns::find(conn, brand_id, campaign_id)?.ok_or_else(AdminError::not_found)?;
    let enrollment = store::enrollments::find(conn, campaign_id, influencer_id)?
        .ok_or_else(AdminError::not_found)?;
    let row = PostRow {
        id: PostId::new(),
        brand_id: brand_id.clone(),
        campaign_id: campaign_id.clone(),
        enrollment_id: enrollment.id,
        influencer_id: influencer_id.clone(),
        post_url: url.clone(),
        platform,
        paid: p.paid,
        reach: p.reach,
        impressions: p.impressions,
        likes: p.likes,
        comments: p.comments,
        shares: p.shares,
        saves: p.saves,
        video_views: p.video_views,
        posted_at: p.posted_at.map(|t| t.timestamp_micros()),
        updated_at: now_micros(),
    };
    let (stored, created) = store::posts::upsert(conn, &row)?;
    Ok((PostView::from(stored), created))
}
