//! The outbox's jobs. A job is claimed with a lease (`locked_until`, `locked_by`): the worker
//! that holds the lease is the only one whose outcome is recorded, and a lease that runs out
//! (its instance died) frees the job for another. Of one topic, only the oldest pending job
//! may be claimed, so a topic's jobs run in order.

use diesel::dsl::{exists, not};
use diesel::prelude::*;

use crate::db::schema::jobs;
use crate::db::types::row;
use crate::db::AnyConnection;
use crate::domain::ids::{BrandId, JobId};
use crate::domain::outbox::{JobKind, JobStatus};

row! {
    #[derive(Debug, Clone, Insertable)]
    pub struct JobRow in jobs {
        pub id: JobId,
        pub brand_id: BrandId,
        pub kind: JobKind,
        /// Jobs of one topic run one at a time, in id order.
        pub topic: String,
        pub payload: String,
        pub status: JobStatus,
        pub attempts: i64,
        pub run_after: i64,
        pub locked_until: Option<i64>,
        pub locked_by: Option<String>,
        pub last_error: Option<String>,
        pub created_at: i64,
        pub updated_at: i64,
    }
}

impl JobRow {
    /// A job due now, never tried.
    pub fn due(
        brand_id: &BrandId,
        kind: JobKind,
        topic: String,
        payload: String,
        now: i64,
    ) -> Self {
        Self {
            id: JobId::new(),
            brand_id: brand_id.clone(),
            kind,
            topic,
            payload,
            status: JobStatus::Pending,
            attempts: 0,
            run_after: now,
            locked_until: None,
            locked_by: None,
            last_error: None,
            created_at: now,
            updated_at: now,
        }
    }
}

pub fn insert(conn: &mut AnyConnection, row: &JobRow) -> QueryResult<()> {
    diesel::insert_into(jobs::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Claims the next due job: pending, its time come, not leased (or its lease run out), the
/// oldest pending job of its topic, and no job of its topic in delivery (a job retried by
/// hand may be older than one being delivered). The claim counts an attempt. On PostgreSQL the
/// candidate is locked `FOR UPDATE SKIP LOCKED`, so that instances claiming at once take
/// different jobs instead of queueing on one row.
pub fn claim(
    conn: &mut AnyConnection,
    now: i64,
    lease_until: i64,
    token: &str,
) -> QueryResult<Option<JobRow>> {
    let earlier = diesel::alias!(jobs as earlier);
    let candidates = jobs::table
        .filter(jobs::status.eq(JobStatus::Pending))
        .filter(jobs::run_after.le(now))
        .filter(jobs::locked_until.is_null().or(jobs::locked_until.lt(now)))
        .filter(not(exists(
            earlier
                .filter(earlier.field(jobs::topic).eq(jobs::topic))
                .filter(earlier.field(jobs::status).eq(JobStatus::Pending))
                .filter(
                    earlier
                        .field(jobs::id)
                        .lt(jobs::id)
                        .or(earlier.field(jobs::locked_until).ge(now)),
                ),
        )))
        .order((jobs::run_after.asc(), jobs::id.asc()))
        .select(jobs::id);
    // A plain read first: an idle queue never takes SQLite's write lock (the workers poll).
    if candidates.first::<JobId>(conn).optional()?.is_none() {
        return Ok(None);
    }
    crate::db::write_transaction(conn, |conn| {
        let id: Option<JobId> = match conn {
            AnyConnection::Postgresql(c) => {
                candidates.for_update().skip_locked().first(c).optional()?
            }
            AnyConnection::Sqlite(c) => candidates.first(c).optional()?,
        };
        let Some(id) = id else {
            return Ok(None);
        };
        let taken = diesel::update(
            jobs::table
                .filter(jobs::id.eq(&id))
                .filter(jobs::status.eq(JobStatus::Pending))
                .filter(jobs::locked_until.is_null().or(jobs::locked_until.lt(now))),
        )
        .set((
            jobs::locked_until.eq(lease_until),
            jobs::locked_by.eq(token),
            jobs::attempts.eq(jobs::attempts + 1),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
        if taken == 0 {
            return Ok(None);
        }
        jobs::table
            .find(&id)
            .select(JobRow::as_select())
            .first(conn)
            .optional()
    })
}

/// What became of a claimed job.
pub enum Outcome<'a> {
    Done,
    /// Tried again at `run_after`.
    Retry {
        run_after: i64,
        error: &'a str,
    },
    /// Given up on, or made moot.
    Ended {
        status: JobStatus,
        error: &'a str,
    },
}

/// Records the outcome of the job leased to `token`; `false` when the lease was lost (another
/// worker has the job now and its outcome counts instead).
pub fn finish(
    conn: &mut AnyConnection,
    id: &JobId,
    token: &str,
    outcome: Outcome<'_>,
    now: i64,
) -> QueryResult<bool> {
    let mine = jobs::table
        .filter(jobs::id.eq(id))
        .filter(jobs::locked_by.eq(token))
        .filter(jobs::status.eq(JobStatus::Pending));
    // A retried job stays pending, due at `run_after`; an ended one keeps its last error.
    let (status, run_after, error) = match outcome {
        Outcome::Done => (JobStatus::Done, now, None),
        Outcome::Retry { run_after, error } => (JobStatus::Pending, run_after, Some(error)),
        Outcome::Ended { status, error } => (status, now, Some(error)),
    };
    let n = diesel::update(mine)
        .set((
            jobs::status.eq(status),
            jobs::run_after.eq(run_after),
            jobs::locked_until.eq(None::<i64>),
            jobs::locked_by.eq(None::<String>),
            jobs::last_error.eq(error),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Whether a pending job of `topic` other than `id` waits.
pub fn pending_in_topic(conn: &mut AnyConnection, topic: &str, id: &JobId) -> QueryResult<bool> {
    diesel::select(exists(
        jobs::table
            .filter(jobs::topic.eq(topic))
            .filter(jobs::status.eq(JobStatus::Pending))
            .filter(jobs::id.ne(id)),
    ))
    .get_result(conn)
}

/// A job of the brand.
pub fn find(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    id: &JobId,
) -> QueryResult<Option<JobRow>> {
    jobs::table
        .filter(jobs::id.eq(id))
        .filter(jobs::brand_id.eq(brand_id))
        .select(JobRow::as_select())
        .first(conn)
        .optional()
}

/// A page of the brand's jobs whose topic starts with `topic_prefix`, newest first, after the
/// cursor `before` (an id), optionally of one status.
pub fn list(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    topic_prefix: &str,
    status: Option<JobStatus>,
    before: Option<&JobId>,
    limit: i64,
) -> QueryResult<Vec<JobRow>> {
    let mut query = jobs::table
        .filter(jobs::brand_id.eq(brand_id))
        .filter(jobs::topic.like(format!("{topic_prefix}%")))
        .order(jobs::id.desc())
        .limit(limit)
        .select(JobRow::as_select())
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(jobs::status.eq(status));
    }
    if let Some(before) = before {
        query = query.filter(jobs::id.lt(before));
    }
    query.load(conn)
}

/// Puts a failed or waiting job back in the queue, due now, with its attempts counted from
/// zero; a job in delivery keeps its lease. `false` when the job is neither (delivered or
/// cancelled meanwhile).
pub fn requeue(conn: &mut AnyConnection, id: &JobId, now: i64) -> QueryResult<bool> {
    diesel::update(
        jobs::table
            .filter(jobs::id.eq(id))
            .filter(jobs::status.eq_any([JobStatus::Pending, JobStatus::Failed])),
    )
    .set((
        jobs::status.eq(JobStatus::Pending),
        jobs::attempts.eq(0),
        jobs::run_after.eq(now),
        jobs::updated_at.eq(now),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Puts every failed job of the brand whose topic starts with `topic_prefix` back in the queue
/// (its credentials changed: what they refused may work now). Returns how many.
pub fn requeue_failed(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    topic_prefix: &str,
    now: i64,
) -> QueryResult<usize> {
    diesel::update(
        jobs::table
            .filter(jobs::brand_id.eq(brand_id))
            .filter(jobs::topic.like(format!("{topic_prefix}%")))
            .filter(jobs::status.eq(JobStatus::Failed)),
    )
    .set((
        jobs::status.eq(JobStatus::Pending),
        jobs::attempts.eq(0),
        jobs::run_after.eq(now),
        jobs::updated_at.eq(now),
    ))
    .execute(conn)
}

/// Cancels the brand's pending jobs whose topic starts with `topic_prefix`.
pub fn cancel(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    topic_prefix: &str,
    reason: &str,
    now: i64,
) -> QueryResult<usize> {
    diesel::update(
        jobs::table
            .filter(jobs::brand_id.eq(brand_id))
            .filter(jobs::topic.like(format!("{topic_prefix}%")))
            .filter(jobs::status.eq_any([JobStatus::Pending, JobStatus::Failed])),
    )
    .set((
        jobs::status.eq(JobStatus::Cancelled),
        jobs::last_error.eq(reason),
        jobs::updated_at.eq(now),
    ))
    .execute(conn)
}

/// How many jobs of each kind are in each status.
pub type JobCounts = Vec<(JobKind, JobStatus, i64)>;

/// Jobs by kind and status, and the creation time of the oldest pending job (for `/metrics`).
pub fn gauges(conn: &mut AnyConnection) -> QueryResult<(JobCounts, Option<i64>)> {
    let counts: JobCounts = jobs::table
        .group_by((jobs::kind, jobs::status))
        .select((jobs::kind, jobs::status, diesel::dsl::count_star()))
        .load::<(String, String, i64)>(conn)?
        .into_iter()
        .filter_map(|(k, s, n)| Some((JobKind::parse(&k)?, JobStatus::parse(&s)?, n)))
        .collect();
    let oldest: Option<i64> = jobs::table
        .filter(jobs::status.eq(JobStatus::Pending))
        .select(diesel::dsl::min(jobs::created_at))
        .first(conn)?;
    Ok((counts, oldest))
}

/// Forgets delivered and cancelled jobs last changed before `before`; returns how many.
pub fn forget_finished(conn: &mut AnyConnection, before: i64) -> QueryResult<usize> {
    diesel::delete(
        jobs::table
            .filter(jobs::status.eq_any([JobStatus::Done, JobStatus::Cancelled]))
            .filter(jobs::updated_at.lt(before)),
    )
    .execute(conn)
}
