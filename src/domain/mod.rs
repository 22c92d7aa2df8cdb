//! Pure rules, no I/O: everything here is tested in place. Imports only `domain` (and std and
//! crates); `tests/architecture.rs` checks it.

pub mod attribution;
pub mod campaign;
pub mod codes;
pub mod exclusions;
pub mod field;
pub mod fraud;
pub mod funnel;
pub mod goals;
pub mod hooks;
pub mod ids;
pub mod integrations;
pub mod json;
pub mod keys;
pub mod leads;
pub mod metrics;
pub mod money;
pub mod names;
pub mod orders;
pub mod outbox;
pub mod pruning;
pub mod scope;
pub mod secrets;
pub mod series;
pub mod shop_sync;
pub mod text;
pub mod time;
pub mod traffic;
pub mod urls;
pub mod window;
