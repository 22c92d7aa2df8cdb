//! Pure rules, no I/O: everything here is tested in place.

pub mod keys;
pub mod scope;
pub mod text;
