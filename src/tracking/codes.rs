//! Every link code that exists, in memory: an unknown code is answered without a database
//! read, so a scan of random codes costs the database nothing. 8 bytes a link (a hash of the
//! code); a collision only means one database read for a code that does not exist.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Mutex, RwLock};

use crate::db::AnyConnection;
use crate::store;

/// How far back a top-up reads, by link id (ids are UUIDv7, ordered by their maker's clock):
/// covers clocks this far apart between instances.
const TOP_UP_OVERLAP_MILLIS: u64 = 5 * 60 * 1000;

pub struct KnownCodes {
    hashes: RwLock<HashSet<u64>>,
    /// The newest link id seen.
    newest: Mutex<Option<String>>,
}

/// A fixed hash of a code (the set's own table is keyed randomly on top of it).
fn hash(code: &str) -> u64 {
    let mut h =
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .build_hasher();
    h.write(code.as_bytes());
    h.finish()
}

/// The smallest UUIDv7 text of a time (milliseconds since the epoch): every id made at or
/// after it sorts after it.
fn v7_floor(millis: u64) -> String {
    let hex = format!("{:012x}", millis & 0xffff_ffff_ffff);
    format!("{}-{}-7000-8000-000000000000", &hex[..8], &hex[8..])
}

/// The time in an UUIDv7 text, in milliseconds.
fn v7_millis(id: &str) -> Option<u64> {
    let hex: String = id.chars().filter(|c| *c != '-').take(12).collect();
    u64::from_str_radix(&hex, 16).ok()
}

impl Default for KnownCodes {
    fn default() -> Self {
        Self {
            hashes: RwLock::new(HashSet::new()),
            newest: Mutex::new(None),
        }
    }
}

impl KnownCodes {
    /// Whether a link may have this code (`false`: certainly none has).
    pub fn may_exist(&self, code: &str) -> bool {
        let hashes = self.hashes.read().unwrap_or_else(|p| p.into_inner());
        hashes.contains(&hash(code))
    }

    pub fn insert(&self, code: &str) {
        let mut hashes = self.hashes.write().unwrap_or_else(|p| p.into_inner());
        hashes.insert(hash(code));
    }

    /// Adds the codes of links made since the newest one seen (all of them the first time).
    /// Returns how many codes were read.
    pub fn top_up(&self, conn: &mut AnyConnection) -> diesel::QueryResult<usize> {
        let after = self
            .newest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_deref()
            .and_then(v7_millis)
            .map(|m| v7_floor(m.saturating_sub(TOP_UP_OVERLAP_MILLIS)));
        let rows = store::links::codes_after(conn, after.as_deref())?;
        let newest = rows
            .iter()
            .map(|(id, _)| id.as_str())
            .max()
            .map(String::from);
        {
            let mut hashes = self.hashes.write().unwrap_or_else(|p| p.into_inner());
            hashes.reserve(rows.len());
            for (_, code) in &rows {
                hashes.insert(hash(code));
            }
        }
        let mut seen = self.newest.lock().unwrap_or_else(|p| p.into_inner());
        if newest.as_deref() > seen.as_deref() {
            *seen = newest;
        }
        Ok(rows.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v7_floors_sort_before_every_id_of_their_time() {
        let id = uuid::Uuid::now_v7().to_string();
        let millis = v7_millis(&id).unwrap();
        assert!(v7_floor(millis).as_str() <= id.as_str());
        assert!(v7_floor(millis + 1).as_str() > id.as_str());
        assert_eq!(v7_millis(&v7_floor(millis)), Some(millis));
    }

    #[test]
    fn codes_are_known_once_inserted() {
        let codes = KnownCodes::default();
        assert!(!codes.may_exist("abc"));
        codes.insert("abc");
        assert!(codes.may_exist("abc"));
        assert!(!codes.may_exist("abd"));
    }
}
