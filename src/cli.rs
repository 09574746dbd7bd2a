//! The command line: `serve` (default), `openapi`, `token` and `migrate`.

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::{
    api,
    auth::dev_token,
    config::{Overrides, Settings},
    startup::{self, Application},
    telemetry,
};

/// Multi-user todo API (OpenAPI-first, embedded SQLite, Better Auth JWTs).
#[derive(Debug, Parser)]
#[command(name = "todo-api", version, about)]
pub struct Cli {
    /// Settings file (default: ./config.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve(ServeArgs),
    /// Print the OpenAPI document.
    Openapi {
        /// YAML instead of JSON.
        #[arg(long)]
        yaml: bool,
    },
    /// Mint a development HS256 token signed with the configured secret.
    Token {
        /// The user id (`sub`) the token authenticates.
        #[arg(long)]
        user: String,
        /// Lifetime, such as 15m, 1h or 7d.
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
    /// Create the database if needed and apply pending schema migrations, then exit.
    Migrate,
}

#[derive(Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long)]
    pub host: Option<String>,
    /// Port to listen on.
    #[arg(long)]
    pub port: Option<u16>,
    /// SQLite path or sqlite:// URL.
    #[arg(long)]
    pub database_url: Option<String>,
}

/// Parse the command line and run it.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    match command {
        Command::Openapi { yaml } => {
            let document = api::document();
            println!(
                "{}",
                if yaml {
                    document.spec_yaml()
                } else {
                    document.spec()
                }
            );
            Ok(())
        }
        Command::Token { user, ttl } => {
            let settings = Settings::load(cli.config.as_deref(), &Overrides::default())?;
            let secret = settings
                .auth
                .secret
                .as_ref()
                .context("no secret configured: set BETTER_AUTH_SECRET")?;
            let token = dev_token::mint_hs256(
                secret,
                &user,
                ttl,
                settings.auth.issuer.as_deref(),
                &settings.auth.audience,
            )?;
            println!("{token}");
            Ok(())
        }
        Command::Migrate => {
            let settings = Settings::load(cli.config.as_deref(), &Overrides::default())?;
            telemetry::init(&settings.log.filter, settings.log.format);
            runtime()?.block_on(async {
                startup::open_sqlite(&settings).await?;
                println!("database {} is up to date", settings.database.url);
                anyhow::Ok(())
            })
        }
        Command::Serve(args) => {
            let overrides = Overrides {
                host: args.host,
                port: args.port,
                database_url: args.database_url,
            };
            let settings = Settings::load(cli.config.as_deref(), &overrides)?;
            telemetry::init(&settings.log.filter, settings.log.format);
            if settings.uses_dev_secret() {
                tracing::warn!(
                    "running with the development secret from config.toml: set BETTER_AUTH_SECRET before exposing this server"
                );
            }
            runtime()?.block_on(serve(settings))
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(&settings).await?;
    let stop = startup::shutdown_signal()?;
    let url = format!("http://{}", app.local_addr());
    println!("todo-api listening on {url} (docs: {url}/docs)");
    tracing::info!(%url, "listening");
    app.run_until(stop).await?;
    tracing::info!("stopped");
    Ok(())
}

/// The async runtime. The blocking pool (used for SQLite calls) is bounded.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(64)
        .build()
}
