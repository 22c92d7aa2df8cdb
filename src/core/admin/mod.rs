//! Administration: brands and their keys, influencers, campaigns, enrollments with their
//! links and discount codes, posts, exchange rates and storefront secrets.

pub mod brands;
pub mod campaigns;
pub mod codes;
pub mod costs;
pub mod enrollments;
pub mod fx;
pub mod influencers;
pub mod integrations;
pub mod keys;
pub mod links;
pub mod posts;

use crate::db::{AnyConnection, DbError};
use crate::domain::field::FieldError;
use crate::domain::ids::{BrandId, CampaignId, InfluencerId};
use crate::store::campaigns::CampaignRow;
use crate::store::enrollments::EnrollmentRow;

/// Why an administrative operation did nothing.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("validation failed")]
    Invalid(Vec<FieldError>),
    /// Missing, or another brand's (answered alike).
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(Conflict),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What an administrative write collided with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    #[error("a campaign with this slug already exists in this brand")]
    SlugTaken,
    #[error("an influencer with this handle already exists in this brand")]
    HandleTaken,
    #[error("this influencer is already enrolled in this campaign")]
    AlreadyEnrolled,
    #[error("the campaign has ended")]
    CampaignEnded,
    #[error("the discount code {0} is already taken in this brand")]
    CodeTaken(String),
    #[error("the influencer was pruned from this campaign; reinstate the enrollment first")]
    EnrollmentPruned,
    #[error("this job is {0} already: there is nothing to retry")]
    JobFinished(&'static str),
    #[error("no shop credentials are set for this platform: PUT them first")]
    NoShop,
    #[error("the stored shop credentials cannot be opened with the current key: PUT them again")]
    CredentialsUnreadable,
    #[error("the webhook endpoint is disabled: re-enable it first (PATCH enabled: true)")]
    WebhookDisabled,
    #[error("this exclusion was deleted already")]
    ExclusionDeleted,
}

impl From<diesel::result::Error> for AdminError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

impl From<Vec<FieldError>> for AdminError {
    fn from(errors: Vec<FieldError>) -> Self {
        Self::Invalid(errors)
    }
}

impl From<FieldError> for AdminError {
    fn from(error: FieldError) -> Self {
        Self::Invalid(vec![error])
    }
}

/// What every missing resource says.
pub const NO_SUCH_RESOURCE: &str = "no such resource";

impl AdminError {
    pub fn not_found() -> Self {
        Self::NotFound(NO_SUCH_RESOURCE)
    }

    /// A unique constraint that refused a write means `conflict`; anything else stays what
    /// it is.
    fn duplicate_is(conflict: Conflict) -> impl Fn(diesel::result::Error) -> Self {
        move |e| {
            if crate::db::is_duplicate(Some(&e)) {
                Self::Conflict(conflict.clone())
            } else {
                e.into()
            }
        }
    }
}

pub type AdminResult<T> = Result<T, AdminError>;

/// A page of a list: at most `limit` items after the sort key `after`.
#[derive(Debug, Clone)]
pub struct Page {
    pub limit: i64,
    pub after: Option<String>,
}

impl Page {
    /// One more row than the page holds, to know whether another page follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }
}

/// The brand's campaign, or 404 (another brand's answers like a missing one).
pub fn campaign_of(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
) -> AdminResult<CampaignRow> {
    crate::store::campaigns::find(conn, brand_id, campaign_id)?.ok_or_else(AdminError::not_found)
}

/// The enrollment named by a campaign and an influencer, with its campaign; 404 otherwise.
pub fn enrollment_at(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
    influencer_id: &InfluencerId,
) -> AdminResult<(CampaignRow, EnrollmentRow)> {
    let campaign = campaign_of(conn, brand_id, campaign_id)?;
    let enrollment = crate::store::enrollments::find(conn, campaign_id, influencer_id)?
        .ok_or_else(AdminError::not_found)?;
    Ok((campaign, enrollment))
}

/// Each item's outcome in an all-or-nothing batch (an import); `None` for an item that
/// arrived unreadable.
pub struct Batch<T> {
    pub outcomes: Vec<Option<AdminResult<T>>>,
    /// Whether the writes were kept: only when asked and every item succeeded.
    pub written: bool,
}

/// How a batch's transaction ends.
enum Undo {
    Discard,
    Failed(AdminError),
}

impl From<diesel::result::Error> for Undo {
    fn from(e: diesel::result::Error) -> Self {
        Self::Failed(e.into())
    }
}

/// Runs `each` on every item in one transaction, each in its own savepoint so that one
/// refusal (a taken handle, say) neither hides the others' nor aborts the rest: a preview
/// (`apply` false) runs everything and keeps nothing; an apply keeps everything or, when any
/// item fails, nothing.
pub fn batch<I, T>(
    conn: &mut AnyConnection,
    items: Vec<Option<I>>,
    apply: bool,
    mut each: impl FnMut(&mut AnyConnection, I) -> AdminResult<T>,
) -> AdminResult<Batch<T>> {
    use diesel::Connection;
    let mut outcomes: Vec<Option<AdminResult<T>>> = Vec::with_capacity(items.len());
    let ended = crate::db::write_transaction(conn, |conn| {
        for item in items {
            outcomes.push(item.map(|i| conn.transaction(|conn| each(conn, i))));
        }
        if apply && outcomes.iter().all(|o| matches!(o, Some(Ok(_)))) {
            Ok(())
        } else {
            Err(Undo::Discard)
        }
    });
    match ended {
        Ok(()) => Ok(Batch {
            outcomes,
            written: true,
        }),
        Err(Undo::Discard) => Ok(Batch {
            outcomes,
            written: false,
        }),
        Err(Undo::Failed(e)) => Err(e),
    }
}
