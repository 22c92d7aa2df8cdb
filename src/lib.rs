//! influtrack: per-influencer links and codes, clicks, orders and attribution in exact money.

//!
//! Layers, from the bottom: `domain` (pure rules), `db` (connections, SQL of both backends),
//! `store` (queries), `tracking` (the click path's cache and writers), `core` (the
//! application), then the edges: `web` (what HTTP handlers share), `api` and `dashboard`
//! (which never see each other), `routes` (the one table of both), the shell (`main.rs`) and
//! `demo`. `tests/architecture.rs` enforces who may import whom; `docs/ARCHITECTURE.md` walks
//! through it.

pub mod api;
pub mod config;
pub mod core;
pub mod dashboard;
pub mod db;
pub mod demo;
pub mod domain;
pub mod routes;
pub mod shops;
pub mod store;
pub mod telemetry;
pub mod tracking;
pub mod web;

/// mimalloc instead of the system allocator for every binary that links this crate: with
/// many threads (request workers, the blocking pool, the click writer) glibc's allocator
/// showed up at ~15% of the order benchmark's CPU profile, mostly in its contended slow paths.
/// (Not under cargo-fuzz, whose AddressSanitizer must see every allocation.) Its v2 line:
/// the v3.3.2 that the crate bundles by default segfaulted now and then at the exit of the
/// multi-threaded test binary (a known v3.3 bug, microsoft/mimalloc#1287, fixed in 3.4.1).
#[cfg(not(fuzzing))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc gives memory back as soon as it is free (and what an exiting thread of the blocking
/// pool held) instead of keeping it committed: the soak's RSS (SQLite, 15 s) was 298–342 MB
/// with its defaults, 151 MB with these, at the same throughput. Called before `main` (by the
/// binary's constructor).
#[cfg(not(fuzzing))]
pub fn tune_allocator() {
    // mimalloc v2's `mi_option_e` (libmimalloc-sys names the numbers of another version).
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    const ABANDONED_PAGE_PURGE: libmimalloc_sys::mi_option_t = 12;
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: mimalloc's options may be set at any time; these take effect as they are read.
    unsafe {
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(ABANDONED_PAGE_PURGE, 1);
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
    }
}

use std::net::TcpListener;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{middleware, web as actix, App, HttpServer};

use crate::config::Settings;
use crate::core::Core;
use crate::db::{Backend, DatabaseUrl, DbPool};
use crate::web::problem::ApiError;
use crate::web::{observe, ratelimit};

/// Links loaded into the redirect cache at start (the newest first).
const WARM_LINKS: i64 = 200_000;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] db::DbSetupError),
    #[error("cannot bind {0}: {1}")]
    Bind(String, std::io::Error),
    #[error("invalid public URL {0:?}: must be an absolute http(s) URL")]
    PublicUrl(String),
    #[error("invalid setting: {0}")]
    Setting(String),
    #[error("{0}")]
    Other(String),
}

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
    /// `/metrics` on a listener of its own, when one is configured.
    metrics: Option<(u16, Server)>,
    pool: DbPool,
    backend: Backend,
    generated_operator_token: Option<String>,
    core: actix::Data<Core>,
    /// Other instances' changes to what the redirect caches (PostgreSQL); stops when dropped.
    _cache_listener: Option<crate::core::cluster::Listener>,
}

/// Opens the database named by the settings and applies the migrations.
pub fn open_database(settings: &Settings) -> Result<(DbPool, Backend), StartupError> {
    let url = DatabaseUrl::parse(&settings.database_url)?;
    let pool = db::connect(&url, settings.db_pool_size.max(2))?;
    Ok((pool, url.backend()))
}

/// One connection (no pool, so no background threads) for the shell's administration
/// commands, with the migrations applied.
pub fn open_admin_connection(settings: &Settings) -> Result<db::AnyConnection, StartupError> {
    let url = DatabaseUrl::parse(&settings.database_url)?;
    let mut conn = db::open_connection(&url)?;
    db::run_migrations(&mut conn, url.backend())?;
    Ok(conn)
}

fn public_url(settings: &Settings, port: u16) -> Result<String, StartupError> {
    match &settings.public_url {
        Some(raw) => {
            let parsed = url::Url::parse(raw).map_err(|_| StartupError::PublicUrl(raw.clone()))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return Err(StartupError::PublicUrl(raw.clone()));
            }
            Ok(raw.trim_end_matches('/').to_string())
        }
        None => {
            let host = settings
                .bind
                .rsplit_once(':')
                .map(|(h, _)| h)
                .unwrap_or("127.0.0.1");
            let host = match host {
                "0.0.0.0" | "" => "127.0.0.1",
                "[::]" => "[::1]",
                h => h,
            };
            Ok(format!("http://{host}:{port}"))
        }
    }
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        if let Some(weak) = settings
            .admin_token
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .and_then(|t| domain::keys::weak_operator_token(t.trim()))
        {
            return Err(StartupError::Setting(weak));
        }
        let s = settings.clone();
        let (pool, backend, operator, sealer) = actix::block(move || {
            let (pool, backend) = open_database(&s)?;
            let mut conn = pool.get().map_err(|e| StartupError::Database(e.into()))?;
            // Only once the database answers: a wrong URL leaves no key file behind.
            let sealer = sealer(&s)?;
            let resealed = crate::core::admin::integrations::reseal_all(&mut conn, &sealer)
                .map_err(|e| StartupError::Setting(e.to_string()))?;
            if resealed > 0 {
                tracing::info!(
                    secrets = resealed,
                    "storefront secrets sealed with the current key"
                );
            }
            let operator = crate::core::auth::operator_hash(&mut conn, s.admin_token.as_deref())
                .map_err(|e| StartupError::Other(e.to_string()))?;
            let hashed = crate::core::ingest::orders::hash_stored_emails(&mut conn)
                .map_err(|e| StartupError::Other(e.to_string()))?;
            if hashed > 0 {
                tracing::info!(
                    orders = hashed,
                    "customer e-mails stored in plain text were hashed"
                );
            }
            drop(conn);
            Ok::<_, StartupError>((pool, backend, operator, sealer))
        })
        .await
        .map_err(|e| StartupError::Other(e.to_string()))??;
        let (operator_hash, generated_operator_token) = operator;

        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| StartupError::Bind(settings.bind.clone(), e))?;
        let port = listener
            .local_addr()
            .map_err(|e| StartupError::Bind(settings.bind.clone(), e))?
            .port();

        let trusted_proxies = domain::traffic::parse_trusted_proxies(&settings.trusted_proxies)
            .map_err(StartupError::Setting)?;
        let country_header = match settings.country_header.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(name) => Some(
                actix_web::http::header::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| StartupError::Setting(format!("country header {name:?}")))?,
            ),
        };
        let codes = std::sync::Arc::new(tracking::codes::KnownCodes::default());
        let writer = tracking::writer::ClickWriter::start(
            DatabaseUrl::parse(&settings.database_url)?,
            tracking::writer::WriterSettings {
                pg_maintenance: std::time::Duration::from_secs(settings.pg_maintenance_seconds),
                ..Default::default()
            },
            codes.clone(),
        )
        .map_err(|e| StartupError::Other(format!("cannot start the click writer: {e}")))?;
        let tracking = tracking::Tracking::new(writer, codes);
        let edge = actix::Data::new(crate::web::Edge {
            trusted_proxies,
            country_header,
        });
        let warm_pool = pool.clone();
        let warmed = actix::block(move || {
            let mut conn = warm_pool.get().map_err(|e| e.to_string())?;
            tracking::warm(&mut conn, &tracking, WARM_LINKS)
                .map(|n| (n, tracking))
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| StartupError::Other(e.to_string()))?
        .map_err(StartupError::Other)?;
        let (warmed_links, tracking) = warmed;
        tracing::info!(links = warmed_links, "link cache warmed");
        let sealer = std::sync::Arc::new(sealer);
        let shop_timeout = std::time::Duration::from_millis(settings.shop_timeout_ms.max(1));
        let outbox = match settings.outbox_workers {
            0 => None,
            workers => Some(std::sync::Arc::new(
                crate::core::outbox::Outbox::start(
                    pool.clone(),
                    sealer.clone(),
                    crate::core::outbox::OutboxSettings {
                        workers,
                        timeout: shop_timeout,
                        backoff: std::time::Duration::from_millis(settings.outbox_backoff_ms),
                        poll: std::time::Duration::from_secs(1),
                        allow_private: settings.webhook_allow_private,
                        give_up: std::time::Duration::from_secs(settings.webhook_give_up_seconds),
                        sweep: std::time::Duration::from_secs(settings.fraud_sweep_seconds),
                    },
                )
                .map_err(|e| StartupError::Other(format!("cannot start the outbox: {e}")))?,
            )),
        };
        let core = actix::Data::new(Core::new(
            pool.clone(),
            backend,
            public_url(&settings, port)?,
            operator_hash,
            tracking,
            crate::core::Outside {
                sealer,
                outbox,
                shop_timeout,
                hooks: crate::core::hooks::HookPolicy {
                    allow_private: settings.webhook_allow_private,
                },
            },
        ));
        observe::prometheus();

        let limits = actix::Data::new(ratelimit::RateLimits::new(
            ratelimit::Budget {
                per_second: settings.rate_limit,
                burst: settings.rate_limit_burst,
            },
            ratelimit::Budget {
                per_second: settings.webhook_rate_limit,
                burst: settings.webhook_rate_limit_burst,
            },
            ratelimit::FailureBudget {
                per_minute: settings.auth_failure_limit,
                burst: settings.auth_failure_burst,
            },
            ratelimit::Budget {
                per_second: settings.unknown_link_rate_limit,
                burst: settings.unknown_link_rate_limit.saturating_mul(10),
            },
        ));
        let cache_listener = crate::core::cluster::Listener::start(
            &DatabaseUrl::parse(&settings.database_url)?,
            core.tracking.clone(),
            core.instance_id().to_string(),
        )
        .map_err(|e| StartupError::Other(format!("cannot start the cache listener: {e}")))?;
        let metrics = metrics_server(&settings, core.clone())?;
        let app_core = core.clone();
        let mut server = HttpServer::new(move || {
            // The redirect is served outside the API's middleware: it keeps its own metrics.
            let (hot, api_routes) = routes::routes().split(|path| path.starts_with("/r/"));
            App::new()
                .app_data(app_core.clone())
                .app_data(edge.clone())
                .app_data(limits.clone())
                .app_data(actix::PayloadConfig::new(crate::web::extract::JSON_LIMIT))
                .app_data(
                    actix::PathConfig::default().error_handler(|_, _| ApiError::not_found().into()),
                )
                .configure(|cfg| hot.register(cfg))
                .service(
                    actix::scope("")
                        .wrap(middleware::from_fn(ratelimit::limit))
                        .wrap(
                            middleware::DefaultHeaders::new()
                                .add((actix_web::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff")),
                        )
                        .wrap(middleware::from_fn(observe::track_requests))
                        .wrap(tracing_actix_web::TracingLogger::<observe::PrivateRootSpan>::new())
                        .configure(|cfg| api_routes.register(cfg)),
                )
                .default_service(actix::to(routes::unknown_route))
        })
        .shutdown_timeout(10);
        if let Some(workers) = settings.workers {
            server = server.workers(workers.max(1));
        }
        let server = server
            .listen(listener)
            .map_err(|e| StartupError::Bind(settings.bind.clone(), e))?
            .run();
        Ok(Self {
            port,
            server,
            metrics,
            pool,
            backend,
            generated_operator_token,
            core,
            _cache_listener: cache_listener,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// This instance's id among those on one database.
    pub fn instance_id(&self) -> &str {
        self.core.instance_id()
    }

    /// The port of the metrics listener, when one runs.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// The operator token generated at this start, if one was (shown once, never stored).
    pub fn generated_operator_token(&self) -> Option<&str> {
        self.generated_operator_token.as_deref()
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM (or a stop through the handle), finishing in-flight
    /// requests, then writes every queued click before returning.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        // Both servers are driven by this one future; the metrics listener stops with the main
        // one.
        let (metrics_server, metrics_handle) = match self.metrics {
            Some((_, server)) => {
                let handle = server.handle();
                (Some(server), Some(handle))
            }
            None => (None, None),
        };
        let main = async {
            let served = self.server.await;
            if let Some(handle) = metrics_handle {
                handle.stop(true).await;
            }
            served
        };
        let metrics = async {
            if let Some(server) = metrics_server {
                if let Err(e) = server.await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            }
        };
        let (served, ()) = futures_util::future::join(main, metrics).await;
        self.core.stop_outbox().await;
        self.core.tracking.writer.stop().await;
        served
    }
}

/// `/metrics` on its own listener (`INFLUTRACK_METRICS_BIND`): what it tells (order counts by
/// source, per-route traffic) is for the operator, not for the shoppers of the public port.
fn metrics_server(
    settings: &Settings,
    core: actix::Data<Core>,
) -> Result<Option<(u16, Server)>, StartupError> {
    let bind = settings.metrics_bind.trim();
    if bind.is_empty() || bind.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let listener =
        TcpListener::bind(bind).map_err(|e| StartupError::Bind(format!("{bind} (metrics)"), e))?;
    let port = listener
        .local_addr()
        .map_err(|e| StartupError::Bind(bind.to_string(), e))?
        .port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(core.clone())
            .configure(|cfg| routes::metrics_routes().register(cfg))
            .default_service(actix::to(routes::unknown_route))
    })
    .workers(1)
    .shutdown_timeout(1)
    .listen(listener)
    .map_err(|e| StartupError::Bind(bind.to_string(), e))?
    .run();
    Ok(Some((port, server)))
}

/// The sealer of storefront secrets: `INFLUTRACK_SECRET_KEY`, else a key file generated at
/// first start (beside a SQLite database: `influtrack.db` → `influtrack.secret-key`; with
/// PostgreSQL, `influtrack.secret-key` in the working directory), and the previous key while
/// rotating.
pub fn sealer(settings: &Settings) -> Result<domain::secrets::Sealer, StartupError> {
    use domain::secrets::{Sealer, SecretKey};
    let parse = |name: &str, text: &str| {
        SecretKey::parse(text).ok_or_else(|| {
            StartupError::Setting(format!(
                "{name} must be 64 hexadecimal digits or the base64 of 32 bytes \
                 (e.g. `openssl rand -hex 32`)"
            ))
        })
    };
    fn given(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|t| !t.is_empty())
    }
    let current = match given(&settings.secret_key) {
        Some(text) => parse("INFLUTRACK_SECRET_KEY", text)?,
        None => key_file(&secret_key_path(settings)?)?,
    };
    let previous = match given(&settings.secret_key_previous) {
        Some(text) => Some(parse("INFLUTRACK_SECRET_KEY_PREVIOUS", text)?),
        None => None,
    };
    Ok(Sealer::new(current, previous))
}

fn secret_key_path(settings: &Settings) -> Result<std::path::PathBuf, StartupError> {
    let url = DatabaseUrl::parse(&settings.database_url)?;
    Ok(match url.backend() {
        Backend::Sqlite => {
            let db = url.as_str();
            let stem = db.strip_suffix(".db").unwrap_or(db);
            std::path::PathBuf::from(format!("{stem}.secret-key"))
        }
        Backend::Postgres => std::path::PathBuf::from("influtrack.secret-key"),
    })
}

/// The key in `path`, generated (readable by its owner only) when there is none yet.
fn key_file(path: &std::path::Path) -> Result<domain::secrets::SecretKey, StartupError> {
    use std::io::Write;
    let read = |path: &std::path::Path| {
        let text = std::fs::read_to_string(path)
            .map_err(|e| StartupError::Other(format!("cannot read {}: {e}", path.display())))?;
        domain::secrets::SecretKey::parse(&text)
            .ok_or_else(|| StartupError::Setting(format!("{} does not hold a key", path.display())))
    };
    if path.exists() {
        return read(path);
    }
    let key = domain::secrets::SecretKey::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(format!("{}\n", key.to_hex()).as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| {
                    StartupError::Other(format!("cannot write {}: {e}", path.display()))
                })?;
            tracing::info!(file = %path.display(), "generated the key that seals storefront secrets; back it up with the database");
            Ok(key)
        }
        // Another instance started at the same moment: its key is the one (once written).
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            for _ in 0..50 {
                if let Ok(key) = read(path) {
                    return Ok(key);
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            read(path)
        }
        Err(e) => Err(StartupError::Other(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}
