//! Settings, from flags or the matching `INFLUTRACK_*` environment variables.

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_BIND",
        default_value = "127.0.0.1:8080"
    )]
    pub bind: String,

    /// A SQLite path (or `sqlite://path`) or a `postgres://` URL.
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_DATABASE_URL",
        default_value = "influtrack.db"
    )]
    pub database_url: String,

    /// Base URL of short links (`<public_url>/r/<code>`); defaults to `http://<bind>`.
    #[arg(long, global = true, env = "INFLUTRACK_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// The operator token; when unset, one is generated at first start and printed once.
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,

    /// The key that seals storefront secrets at rest (64 hex digits or base64 of 32 bytes);
    /// when unset, a key file generated at first start beside the SQLite database (with
    /// PostgreSQL: `influtrack.secret-key` in the working directory).
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_SECRET_KEY",
        hide_env_values = true
    )]
    pub secret_key: Option<String>,

    /// While rotating: the key secrets were sealed with before; they are sealed again with
    /// the current key at start.
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_SECRET_KEY_PREVIOUS",
        hide_env_values = true
    )]
    pub secret_key_previous: Option<String>,

    /// Log filter, in `tracing_subscriber::EnvFilter` syntax.
    #[arg(long, global = true, env = "INFLUTRACK_LOG", default_value = "info")]
    pub log: String,

    /// Write logs as JSON lines.
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_LOG_JSON",
        default_value_t = false
    )]
    pub log_json: bool,

    /// HTTP worker threads (default: one per core).
    #[arg(long, global = true, env = "INFLUTRACK_WORKERS")]
    pub workers: Option<usize>,

    /// Proxies whose `X-Forwarded-For` is believed: comma-separated addresses or CIDR ranges.
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_TRUSTED_PROXIES",
        default_value = ""
    )]
    pub trusted_proxies: String,

    /// A request header carrying the visitor's country (e.g. `CF-IPCountry`), set by a
    /// trusted proxy.
    #[arg(long, global = true, env = "INFLUTRACK_COUNTRY_HEADER")]
    pub country_header: Option<String>,

    /// Largest number of pooled database connections.
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_DB_POOL_SIZE",
        default_value_t = 16
    )]
    pub db_pool_size: u32,

    /// API and dashboard requests per second per key (per client address without one); 0
    /// turns the limit off. Over it: 429 with `Retry-After`. Never applied to the redirect.
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_RATE_LIMIT",
        default_value_t = 100
    )]
    pub rate_limit: u32,

    /// Requests a key may make at once above its rate before it is limited.
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_RATE_LIMIT_BURST",
        default_value_t = 200
    )]
    pub rate_limit_burst: u32,

    /// Webhook deliveries per second per store (platform and brand); 0 turns the limit off.
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_WEBHOOK_RATE_LIMIT",
        default_value_t = 50
    )]
    pub webhook_rate_limit: u32,

    /// Webhook deliveries a store may send at once above its rate (e.g. a retry backlog).
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_WEBHOOK_RATE_LIMIT_BURST",
        default_value_t = 500
    )]
    pub webhook_rate_limit_burst: u32,

    /// Failed authentications (API keys, operator token, dashboard sign-in and sessions,
    /// webhook signatures) allowed per client address per minute; over it, 429 with
    /// `Retry-After` on everything that authenticates. 0 turns the limit off.
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_AUTH_FAILURE_LIMIT",
        default_value_t = 20
    )]
    pub auth_failure_limit: u32,

    /// Failed authentications an address may make at once before the limit applies.
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_AUTH_FAILURE_BURST",
        default_value_t = 10
    )]
    pub auth_failure_burst: u32,

    /// Unknown link codes answered per second per client address (a scan of random codes);
    /// over it (and a burst of ten times it), 429. 0 turns the limit off.
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_UNKNOWN_LINK_RATE_LIMIT",
        default_value_t = 5
    )]
    pub unknown_link_rate_limit: u32,

    /// Where `/metrics` is served: its own listener, local only by default, never the public
    /// port; `off` serves it nowhere.
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_METRICS_BIND",
        default_value = "127.0.0.1:9464"
    )]
    pub metrics_bind: String,

    /// On a PostgreSQL server with autovacuum off, seconds between influtrack's own vacuum
    /// and analyze of the tables that need it; 0 turns it off. Idle when autovacuum runs.
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_PG_MAINTENANCE_SECONDS",
        default_value_t = 10
    )]
    pub pg_maintenance_seconds: u64,

    /// Threads that deliver the outbox's jobs (calls to shops); 0 delivers nothing (another
    /// instance does).
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_OUTBOX_WORKERS",
        default_value_t = 2
    )]
    pub outbox_workers: usize,

    /// Milliseconds a call to a shop may take before it counts as failed (and is retried).
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_SHOP_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub shop_timeout_ms: u64,

    /// Milliseconds before the first retry of a failed delivery; doubled per attempt up to an
    /// hour, unless the shop says when (`Retry-After`).
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_OUTBOX_BACKOFF_MS",
        default_value_t = 1_000
    )]
    pub outbox_backoff_ms: u64,

    /// Lets brands point webhooks at private, loopback and link-local addresses (and at
    /// `http://` on this machine). Off by default: a brand's webhook must not reach into the
    /// network influtrack runs in.
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_WEBHOOK_ALLOW_PRIVATE",
        default_value_t = false
    )]
    pub webhook_allow_private: bool,

    /// Seconds a webhook endpoint may fail straight before it is disabled (a day; shorter in
    /// tests).
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_WEBHOOK_GIVE_UP_SECONDS",
        default_value_t = 86_400,
        hide = true
    )]
    pub webhook_give_up_seconds: u64,

    /// Seconds between two looks for new fraud flags, goals reached and commission approved,
    /// sent as webhooks to the brands that subscribe to them; 0 never looks.
    #[arg(
        long,
        global = true,
        env = "INFLUTRACK_FRAUD_SWEEP_SECONDS",
        default_value_t = 300
    )]
    pub fraud_sweep_seconds: u64,
}

impl Settings {
    /// Settings for an instance with everything at its default but the database.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Self {
            bind: "127.0.0.1:0".into(),
            database_url: database_url.into(),
            public_url: None,
            admin_token: None,
            secret_key: None,
            secret_key_previous: None,
            log: "info".into(),
            log_json: false,
            workers: None,
            trusted_proxies: String::new(),
            country_header: None,
            db_pool_size: 16,
            // Off in embedded instances (tests, benchmarks); the command line turns it on.
            rate_limit: 0,
            rate_limit_burst: 0,
            webhook_rate_limit: 0,
            webhook_rate_limit_burst: 0,
            auth_failure_limit: 0,
            auth_failure_burst: 0,
            unknown_link_rate_limit: 0,
            // A port of its own per embedded instance.
            metrics_bind: "127.0.0.1:0".into(),
            pg_maintenance_seconds: 10,
            outbox_workers: 2,
            shop_timeout_ms: 10_000,
            outbox_backoff_ms: 1_000,
            webhook_allow_private: false,
            webhook_give_up_seconds: 86_400,
            fraud_sweep_seconds: 300,
        }
    }
}
