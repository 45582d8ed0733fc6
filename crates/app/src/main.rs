//! `mcplatform`: the command line. Everything else lives in the library half.
#![allow(clippy::print_stdout)] // a CLI: `version` and `print-default-config` answer on stdout

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use mcplatform_app::config::{Config, Overrides};
use mcplatform_app::startup::{Application, shutdown_signal};
use mcplatform_app::{data_dir, telemetry};
use mcplatform_core::clock::SystemClock;

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
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on [env: MCPLATFORM_BIND] [default: 127.0.0.1:3000]
    #[arg(long, value_name = "ADDR")]
    bind: Option<String>,
    /// Public URL of this server [env: MCPLATFORM_BASE_URL] [default: http://localhost:3000]
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
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
            let overrides = Overrides {
                bind: args.bind,
                base_url: args.base_url,
                data_dir: args.storage.data_dir,
                database_url: args.storage.database_url,
            };
            run(cli.config, overrides, serve)
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
    telemetry::init(&loaded.config.log)?;
    for key in &loaded.unknown_keys {
        tracing::warn!(key, "ignoring unknown configuration key");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(command(loaded.config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = Application::build(&config, Arc::new(SystemClock)).await?;
    tracing::info!(
        address = %app.local_addr()?,
        base_url = %config.base_url,
        version = env!("CARGO_PKG_VERSION"),
        "mcplatform listening"
    );
    app.run_until_stopped(shutdown_signal()).await
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
