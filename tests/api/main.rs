//! Black-box HTTP tests. One binary; each test starts the app on port 0 with its own database
//! (SQLite by default, PostgreSQL when INFLUTRACK_TEST_POSTGRES_URL is set).

mod backup;
mod campaign_loop;
mod cli;
mod cluster;
mod crash;
mod dashboard;
mod dashboard_forms;
mod errors;
mod exclusions;
mod fakeshop;
mod foundation;
mod fraud;
mod fuzz_findings;
mod helpers;
mod leads;
mod logs;
mod openapi;
mod orders;
mod outgoing;
mod pruning;
mod ratelimit;
mod redirect;
mod reports;
mod resources;
mod security;
mod shop_sync;
mod sql;
mod stored;
mod tenancy;
mod webhooks;
