//! Several instances on one PostgreSQL: a change that one instance makes to what the others'
//! redirect caches (a link, an enrollment, a campaign, an influencer, a brand's shop) reaches
//! them through `NOTIFY` within a moment, instead of after the cache's time to live (which
//! stays, for a notification lost with a connection).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::PgConnection;

use crate::core::{forget, Change};
use crate::db::notify;
use crate::db::{AnyConnection, Backend, DatabaseUrl};
use crate::domain::ids::{BrandId, CampaignId, EnrollmentId, InfluencerId, LinkId};
use crate::tracking::Tracking;

/// The channel every instance of a database listens on.
const CHANNEL: &str = "influtrack_cache";
/// PostgreSQL refuses payloads of 8,000 bytes or more: a longer list is sent as "everything".
const MAX_PAYLOAD: usize = 7_900;
/// How often the listener reads what arrived (the delay a notification may wait).
const POLL: Duration = Duration::from_millis(20);
/// How often an idle listener checks its connection is alive.
const PING: Duration = Duration::from_secs(5);
/// A change is applied again this long after it arrived: a redirect that loaded the link
/// just before the change committed may have put the old state back meanwhile (the same
/// second pass as for this instance's own writes).
const AGAIN_AFTER: Duration = Duration::from_secs(1);

/// The payload of `changes`: the sending instance on the first line (it skips its own), then
/// one `kind:id` per line, or `*` (everything) when too long.
fn payload(instance: &str, changes: &[Change]) -> String {
    format!("from:{instance}\n{}", body(changes))
}

fn body(changes: &[Change]) -> String {
    let lines: Vec<String> = changes
        .iter()
        .map(|c| match c {
            Change::Link(id) => format!("l:{}", id.as_str()),
            Change::Enrollment(id) => format!("e:{}", id.as_str()),
            Change::Campaign(id) => format!("c:{}", id.as_str()),
            Change::Influencer(id) => format!("i:{}", id.as_str()),
            Change::Brand(id) => format!("b:{}", id.as_str()),
            Change::NewLink(code) => format!("n:{code}"),
        })
        .collect();
    let text = lines.join("\n");
    if text.len() > MAX_PAYLOAD {
        "*".into()
    } else {
        text
    }
}

/// The sender and the changes of a payload; `None` means everything (or a payload this
/// version does not know, which is treated the same way).
fn parse(payload: &str) -> (Option<&str>, Option<Vec<Change>>) {
    let (from, rest) = match payload.split_once('\n') {
        Some((first, rest)) if first.starts_with("from:") => (first.strip_prefix("from:"), rest),
        _ => (None, payload),
    };
    (from, changes(rest))
}

fn changes(payload: &str) -> Option<Vec<Change>> {
    let mut out = Vec::new();
    for line in payload.lines() {
        let (kind, id) = line.split_once(':')?;
        let id = id.to_string();
        out.push(match kind {
            "l" => Change::Link(LinkId::stored(id)),
            "e" => Change::Enrollment(EnrollmentId::stored(id)),
            "c" => Change::Campaign(CampaignId::stored(id)),
            "i" => Change::Influencer(InfluencerId::stored(id)),
            "b" => Change::Brand(BrandId::stored(id)),
            "n" => Change::NewLink(id),
            _ => return None,
        });
    }
    Some(out)
}

/// Tells every instance of this PostgreSQL database what changed (nothing on SQLite, which
/// one process serves).
pub(crate) fn notify(
    conn: &mut AnyConnection,
    instance: &str,
    changes: &[Change],
) -> diesel::QueryResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    notify::notify(conn, CHANNEL, &payload(instance, changes))
}

/// Applies changes that arrived to this instance's redirect cache.
fn apply(tracking: &Tracking, changes: Option<&[Change]>) {
    match changes {
        None => tracking.cache.invalidate(|_| true),
        Some(changes) => {
            forget(tracking, changes);
            for change in changes {
                if let Change::NewLink(code) = change {
                    tracking.codes.insert(code);
                }
            }
        }
    }
}

/// The thread that listens for other instances' changes (PostgreSQL only); stops when
/// dropped.
pub struct Listener {
    stop: Arc<AtomicBool>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Listener {
    /// `None` on SQLite.
    pub fn start(
        url: &DatabaseUrl,
        tracking: Arc<Tracking>,
        instance: String,
    ) -> std::io::Result<Option<Self>> {
        if url.backend() != Backend::Postgres {
            return Ok(None);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (url, flag) = (url.as_str().to_string(), stop.clone());
        std::thread::Builder::new()
            .name("cache-listener".into())
            .spawn(move || listen(&url, &tracking, &flag, &instance))?;
        Ok(Some(Self { stop }))
    }
}

/// A new instance's id: random, with the process id.
pub fn new_instance_id() -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}", &random[..8], std::process::id())
}

fn listen(url: &str, tracking: &Tracking, stop: &AtomicBool, instance: &str) {
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        let mut conn = match notify::listen(url, CHANNEL, instance) {
            Ok(c) => c,
            Err(error) => {
                tracing::warn!(%error, "the cache listener cannot connect; retrying");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        if first {
            match notify::others(&mut conn) {
                Ok(others) => tracing::info!(
                    instance,
                    others = others.len(),
                    other_instances = ?others,
                    "listening for the changes of the other instances on this database"
                ),
                Err(error) => tracing::warn!(%error, "cannot list the other instances"),
            }
        } else {
            // Whatever was sent while this instance was not listening is lost: reload all.
            apply(tracking, None);
            tracing::info!("the cache listener reconnected; the link cache was cleared");
        }
        first = false;
        if let Err(error) = receive(&mut conn, tracking, stop, instance) {
            tracing::warn!(%error, "the cache listener lost its connection; reconnecting");
        }
    }
}

/// Applies notifications as they arrive until the connection fails or the listener stops.
fn receive(
    conn: &mut PgConnection,
    tracking: &Tracking,
    stop: &AtomicBool,
    instance: &str,
) -> diesel::QueryResult<()> {
    let mut again: Vec<(Instant, Option<Vec<Change>>)> = Vec::new();
    let mut pinged = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        // Everything that arrived since the last look, in one pass over the cache (a pass
        // per notification would scan a large cache many times a second).
        let mut merged: Option<Vec<Change>> = Some(Vec::new());
        let mut any = false;
        for text in notify::received(conn)? {
            let (from, changes) = parse(&text);
            metrics::counter!("cache_notifications_received_total").increment(1);
            if from == Some(instance) {
                // This instance's own write, applied to its cache already.
                continue;
            }
            any = true;
            merged = match (merged, changes) {
                (Some(mut all), Some(more)) => {
                    all.extend(more);
                    Some(all)
                }
                _ => None,
            };
        }
        if any {
            apply(tracking, merged.as_deref());
            again.push((Instant::now() + AGAIN_AFTER, merged));
        }
        let now = Instant::now();
        again.retain(|(at, changes)| {
            if *at <= now {
                apply(tracking, changes.as_deref());
                false
            } else {
                true
            }
        });
        if pinged.elapsed() >= PING {
            notify::ping(conn)?;
            pinged = Instant::now();
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_reads_back_as_the_same_changes() {
        let changes = vec![
            Change::Link(LinkId::stored("l1".into())),
            Change::Enrollment(EnrollmentId::stored("e1".into())),
            Change::Campaign(CampaignId::stored("c1".into())),
            Change::Influencer(InfluencerId::stored("i1".into())),
            Change::Brand(BrandId::stored("b1".into())),
            Change::NewLink("Abc123x".into()),
        ];
        assert_eq!(
            parse(&payload("me-1", &changes)),
            (Some("me-1"), Some(changes))
        );
        // Too many for one notification: everything.
        let many: Vec<Change> = (0..400)
            .map(|i| Change::Link(LinkId::stored(format!("{i:036}"))))
            .collect();
        assert_eq!(payload("me-1", &many), "from:me-1\n*");
        assert_eq!(parse("from:other\n*"), (Some("other"), None));
        assert_eq!(parse("x:1"), (None, None));
    }
}
