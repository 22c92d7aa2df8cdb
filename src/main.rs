use clap::{Parser, Subcommand};
use influtrack::config::Settings;
use influtrack::core::admin::{brands, keys, AdminError, Page};
use influtrack::core::backup;
use influtrack::domain::ids::{BrandId, KeyId};
use influtrack::domain::scope::Scope;
use influtrack::{open_admin_connection, telemetry, Application};

/// mimalloc's options set before anything is allocated (an arena's commit is decided when the
/// first one is made): see `influtrack::tune_allocator`.
#[used]
#[link_section = ".init_array"]
static TUNE_ALLOCATOR: extern "C" fn() = {
    extern "C" fn tune() {
        influtrack::tune_allocator();
    }
    tune
};

#[derive(Parser)]
#[command(
    name = "influtrack",
    version,
    about = "Influencer campaign tracking in exact money"
)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and the redirect (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage brands from the shell.
    #[command(subcommand)]
    Brands(BrandCommand),
    /// Manage a brand's API keys from the shell.
    #[command(subcommand)]
    Keys(KeyCommand),
    /// Seed a demo brand (two campaigns, a dozen influencers, 30 days of traffic and sales),
    /// print its dashboard URL and keys, then serve.
    Demo,
    /// Write a consistent copy of the SQLite database (both files, one archive) to FILE, while
    /// the server runs. On PostgreSQL, says how to use pg_dump.
    Backup { file: std::path::PathBuf },
    /// Restore a backup into the SQLite database; refused while a server has it open. The
    /// files there before are renamed aside, not deleted.
    Restore { file: std::path::PathBuf },
}

#[derive(Subcommand)]
enum BrandCommand {
    /// Create a brand; prints it with its first admin key (shown once).
    Create {
        #[arg(long)]
        name: String,
    },
    /// List brands.
    List,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Mint a key (shown once).
    Create {
        #[arg(long)]
        brand: String,
        #[arg(long, value_parser = parse_scope)]
        scope: Scope,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        influencer: Option<String>,
    },
    /// List a brand's keys (never the secrets).
    List {
        #[arg(long)]
        brand: String,
    },
    /// Revoke a key by id.
    Revoke { key_id: String },
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    Scope::parse(s).ok_or_else(|| "one of admin, read, storefront, influencer".into())
}

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|e| fail(e))
    );
}

/// What an administrative error says in a shell.
fn describe(e: AdminError) -> String {
    match e {
        AdminError::Invalid(errors) => errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// Every row of a list.
fn everything() -> Page {
    Page {
        limit: i64::MAX - 1,
        after: None,
    }
}

fn brand_id(raw: &str) -> BrandId {
    BrandId::parse(raw.trim()).unwrap_or_else(|| fail(format!("no brand {raw}")))
}

fn run_admin(settings: &Settings, command: Command) {
    let mut conn = open_admin_connection(settings).unwrap_or_else(|e| fail(e));
    match command {
        Command::Migrate => println!("migrations applied"),
        Command::Brands(BrandCommand::Create { name }) => {
            let created = brands::create(&mut conn, brands::CreateBrand { name })
                .unwrap_or_else(|e| fail(describe(e)));
            print_json(&created);
        }
        Command::Brands(BrandCommand::List) => {
            let rows = brands::list(&mut conn, &everything()).unwrap_or_else(|e| fail(describe(e)));
            let views: Vec<brands::BrandView> = rows.into_iter().map(Into::into).collect();
            print_json(&views);
        }
        Command::Keys(KeyCommand::Create {
            brand,
            scope,
            name,
            influencer,
        }) => {
            let req = keys::CreateKey {
                scope,
                name,
                influencer_id: influencer,
            };
            let created = keys::create(&mut conn, &brand_id(&brand), req)
                .unwrap_or_else(|e| fail(describe(e)));
            print_json(&created);
        }
        Command::Keys(KeyCommand::List { brand }) => {
            let rows = keys::list(&mut conn, &brand_id(&brand), &everything())
                .unwrap_or_else(|e| fail(describe(e)));
            let views: Vec<keys::KeyView> = rows.into_iter().map(Into::into).collect();
            print_json(&views);
        }
        Command::Keys(KeyCommand::Revoke { key_id }) => {
            let id =
                KeyId::parse(key_id.trim()).unwrap_or_else(|| fail(format!("no key {key_id}")));
            match keys::revoke(&mut conn, None, &id) {
                Ok(()) => println!("revoked {id}"),
                Err(AdminError::NotFound(_)) => fail(format!("no key {key_id}")),
                Err(e) => fail(describe(e)),
            }
        }
        Command::Serve | Command::Demo | Command::Backup { .. } | Command::Restore { .. } => {
            unreachable!("handled by main")
        }
    }
}

#[actix_web::main]
async fn main() {
    let cli = Cli::parse();
    telemetry::init(&cli.settings.log, cli.settings.log_json);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.settings).await,
        Command::Demo => demo(cli.settings).await,
        Command::Backup { file } => {
            let report =
                backup::backup(&cli.settings.database_url, &file).unwrap_or_else(|e| fail(e));
            print_json(&report);
        }
        Command::Restore { file } => {
            let report =
                backup::restore(&cli.settings.database_url, &file).unwrap_or_else(|e| fail(e));
            print_json(&report);
        }
        other => run_admin(&cli.settings, other),
    }
}

async fn demo(settings: Settings) {
    let _held = hold(&settings);
    let s = settings.clone();
    let seeded = actix_web::web::block(move || {
        let mut conn = open_admin_connection(&s).map_err(|e| e.to_string())?;
        influtrack::demo::seed(&mut conn).map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| fail(e))
    .unwrap_or_else(|e| fail(e));
    let base = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", settings.bind.replace("0.0.0.0", "127.0.0.1")));
    println!(
        "\nDemo brand seeded: two campaigns, 12 influencers, 30 days of clicks, orders and refunds.\n\n         Dashboard:        {base}/dashboard\n         Admin key:        {}\n         Read-only key:    {}\n         Influencer key:   {} ({})\n\n         Sign in with one of the keys (they are shown once).\n",
        seeded.admin_key, seeded.read_key, seeded.influencer_key, seeded.influencer_handle
    );
    run_server(settings).await;
}

/// One process per SQLite database: held until this one ends, and taken before anything is
/// written to it.
fn hold(settings: &Settings) -> Option<influtrack::core::backup::InUse> {
    backup::hold(&settings.database_url).unwrap_or_else(|e| fail(e))
}

async fn serve(settings: Settings) {
    let _held = hold(&settings);
    run_server(settings).await
}

async fn run_server(settings: Settings) {
    let app = Application::build(settings.clone())
        .await
        .unwrap_or_else(|e| fail(e));
    if let Some(token) = app.generated_operator_token() {
        println!(
            "\nGenerated the operator token (shown this once; only its hash is stored):\n\n    {token}\n\n\
             Set INFLUTRACK_ADMIN_TOKEN to use your own instead.\n"
        );
    }
    tracing::info!(
        port = app.port(),
        metrics_port = ?app.metrics_port(),
        backend = ?app.backend(),
        // On PostgreSQL the cache listener logs the other instances it sees under this id.
        instance = app.instance_id(),
        "influtrack listening"
    );
    if let Err(e) = app.run_until_stopped().await {
        fail(e);
    }
    tracing::info!("stopped");
}
