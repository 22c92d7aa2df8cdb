//! Pure rules, no I/O: everything here is tested in place.

pub mod attribution;
pub mod campaign;
pub mod codes;
pub mod keys;
pub mod metrics;
pub mod money;
pub mod orders;
pub mod pruning;
pub mod scope;
pub mod text;
pub mod traffic;
pub mod urls;
