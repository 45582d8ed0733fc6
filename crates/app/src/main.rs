//! `mcplatform`: the command line. Everything else lives in the library half.
#![allow(clippy::print_stdout)] // a CLI: `version` and `print-default-config` answer on stdout

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use mcplatform_app::config::{Config, Overrides};
use mcplatform_app::self_telemetry::SelfTelemetry;
use mcplatform_app::startup::{Application, shutdown_signal};
use mcplatform_app::{data_dir, telemetry};
use mcplatform_core::clock::{Clock, OffsetClock, SystemClock};

#[derive(Debug, Parser)]
#[command(name = "mcplatform", version, about = "Auth, telemetry and engagement for MCP servers")]
struct Cli {
    /// TOML configuration file.
    #[arg(long, short = 'c', global = true, env = "MCPLATFORM_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the platform: dashboard, API, OAuth, hosted MCP servers, OTLP ingest.
    Serve(ServeArgs),
    /// Create or upgrade the database schema, then exit.
    Migrate(StorageArgs),
    /// Print the default configuration as TOML.
    PrintDefaultConfig,
    /// Print the version.
    Version,
    /// Set-up from the command line (prints JSON).
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
#[allow(clippy::enum_variant_names)] // they read as the commands: `admin create-user`, …
enum AdminCommand {
    /// Create a dashboard account (or set a new password on an existing one).
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// When omitted, a password is generated and printed.
        #[arg(long, env = "MCPLATFORM_ADMIN_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Create an organization owned by an existing account.
    CreateOrg {
        #[arg(long)]
        name: String,
        #[arg(long, value_name = "EMAIL")]
        owner: String,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Create an MCP server in an organization.
    CreateServer {
        #[arg(long, value_name = "ORG_ID")]
        org: String,
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Create an API key: an organization key (`--scope management`) or, with `--server`, a
    /// server key (`--scope telemetry:write`, `--scope auth:introspect`).
    CreateApiKey {
        #[arg(long, value_name = "ORG_ID")]
        org: String,
        #[arg(long, value_name = "SERVER_ID")]
        server: Option<String>,
        #[arg(long)]
        name: String,
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on [env: MCPLATFORM_BIND] [default: 127.0.0.1:3000]
    #[arg(long, value_name = "ADDR")]
    bind: Option<String>,
    /// Public URL of this server [env: MCPLATFORM_BASE_URL] [default: http://localhost:3000]
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Seed a demo account, organization and MCP server, and print how to log in.
    #[arg(long)]
    demo: bool,
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(Debug, Args)]
struct StorageArgs {
    /// Directory for the SQLite database and key material [env: MCPLATFORM_DATA_DIR]
    /// [default: ./mcplatform-data]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// postgres://… to use PostgreSQL instead of the embedded SQLite [env: DATABASE_URL]
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Version => {
            println!("mcplatform {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::PrintDefaultConfig => {
            Config::default_toml().map(|toml| print!("{toml}")).map_err(anyhow::Error::from)
        }
        Command::Serve(args) => {
            let demo = args.demo;
            let overrides = Overrides {
                bind: args.bind,
                base_url: args.base_url,
                data_dir: args.storage.data_dir,
                database_url: args.storage.database_url,
            };
            run(cli.config, overrides, move |config| serve(config, demo))
        }
        Command::Admin(command) => {
            let storage = match &command {
                AdminCommand::CreateUser { storage, .. }
                | AdminCommand::CreateOrg { storage, .. }
                | AdminCommand::CreateServer { storage, .. }
                | AdminCommand::CreateApiKey { storage, .. } => storage,
            };
            let overrides = Overrides {
                data_dir: storage.data_dir.clone(),
                database_url: storage.database_url.clone(),
                ..Overrides::default()
            };
            run(cli.config, overrides, move |config| admin(config, command))
        }
        Command::Migrate(args) => {
            let overrides = Overrides {
                data_dir: args.data_dir,
                database_url: args.database_url,
                ..Overrides::default()
            };
            run(cli.config, overrides, migrate)
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line, naming the problem and its causes.
            eprintln!("error: {}", mcplatform_core::error_chain(err.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// Loads configuration, starts logging, then runs `command` on a fresh runtime.
fn run<F: Future<Output = anyhow::Result<()>>>(
    file: Option<PathBuf>,
    overrides: Overrides,
    command: impl FnOnce(Config) -> F,
) -> anyhow::Result<()> {
    let loaded = Config::load(file.as_deref(), &overrides)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let exporting =
        SelfTelemetry::from_env(|name| std::env::var(name).ok(), runtime.handle().clone())?;
    telemetry::init(&loaded.config.log, exporting.as_ref().map(SelfTelemetry::tracer))?;
    for key in &loaded.unknown_keys {
        tracing::warn!(key, "ignoring unknown configuration key");
    }
    let outcome = runtime.block_on(command(loaded.config));
    // The runtime still runs the last export.
    if let Some(exporting) = exporting {
        exporting.shutdown();
    }
    outcome
}

/// The system clock, moved by `testing.clock_offset_secs` for end-to-end tests.
fn clock(config: &Config) -> Arc<dyn Clock> {
    match config.testing.clock_offset_secs {
        0 => Arc::new(SystemClock),
        secs => {
            tracing::warn!(secs, "testing.clock_offset_secs is set: the clock is moved");
            Arc::new(OffsetClock { offset: time::Duration::seconds(secs) })
        }
    }
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let app = Application::build(&config, clock(&config)).await?;
    if demo {
        let how = mcplatform_app::admin::seed_demo(app.state()).await?;
        println!("{how}");
    }
    let stop = shutdown_signal();
    tracing::info!(
        address = %app.local_addr()?,
        base_url = %config.base_url,
        version = env!("CARGO_PKG_VERSION"),
        "mcplatform listening"
    );
    app.run_until_stopped(stop).await
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    data_dir::prepare(&config.data_dir)?;
    let options = config.connect_options()?;
    let store = mcplatform_store::connect_and_migrate(&options)
        .await
        .map_err(|err| anyhow::anyhow!("cannot migrate database {}: {err:?}", options.url))?;
    store.close().await;
    println!("database {} is up to date", options.url);
    Ok(())
}

async fn admin(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    use mcplatform_app::admin;
    let state = mcplatform_app::startup::build_state(&config, clock(&config)).await?;
    let result = match command {
        AdminCommand::CreateUser { email, name, password, .. } => {
            admin::create_user(&state, &email, &name, password).await
        }
        AdminCommand::CreateOrg { name, owner, .. } => {
            admin::create_org(&state, &name, &owner).await
        }
        AdminCommand::CreateServer { org, slug, name, .. } => {
            admin::create_server(&state, &org, &slug, &name).await
        }
        AdminCommand::CreateApiKey { org, server, name, scopes, .. } => {
            admin::create_api_key(&state, &org, server.as_deref(), &name, &scopes).await
        }
    };
    state.store.close().await;
    println!("{}", serde_json::to_string_pretty(&result?)?);
    Ok(())
}
