//! Diesel queries, one module per aggregate. Functions take a connection so that callers can
//! compose them inside one transaction.

pub mod brands;
pub mod campaigns;
pub mod clicks;
pub mod enrollments;
pub mod influencers;
pub mod keys;
pub mod orders;
pub mod reports;
pub mod settings;
