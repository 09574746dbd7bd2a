//! The command line: `serve` (default), `openapi`, `token`, `migrate`, `migrate-data`, `backup`,
//! `check` and `explain-list`.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::{
    api,
    auth::{
        AuthPolicy,
        dev_token::{self, DevSigningKey},
    },
    config::{LogFormat, Overrides, Settings},
    explain,
    startup::{self, Application},
    store::{
        self,
        sqlite::integrity::{self, CheckDepth, Integrity},
        transfer,
        url::{DatabaseUrl, redact},
    },
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
    /// Mint a development token: HS256 with the configured secret, or EdDSA with a local
    /// Ed25519 key (`--ed25519-key`) whose JWKS `--jwks` prints for `auth.jwks_path`.
    Token {
        /// The user id (`sub`) the token authenticates.
        #[arg(long, required_unless_present = "jwks")]
        user: Option<String>,
        /// Lifetime, such as 15m, 1h or 7d.
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        ttl: Duration,
        /// Sign with EdDSA using this Ed25519 private key (PKCS#8 PEM); created if missing.
        #[arg(long, value_name = "FILE")]
        ed25519_key: Option<PathBuf>,
        /// Print the JWKS with the public half of --ed25519-key instead of a token.
        #[arg(long, requires = "ed25519_key", conflicts_with = "user")]
        jwks: bool,
    },
    /// Create the database if needed and apply pending schema migrations, then exit.
    Migrate,
    /// Copy the SQLite database into a new file while the server may be running (`VACUUM INTO`),
    /// then check the copy (`integrity_check`). For PostgreSQL use `pg_dump`.
    Backup {
        /// The new file to write; it must not exist.
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
    /// Check the SQLite database file for damage (`PRAGMA integrity_check`, or `quick_check`
    /// with --quick) without writing to it; safe while the server runs. Exits 1 when the file
    /// is damaged. For PostgreSQL use `pg_amcheck`.
    Check {
        /// `quick_check` instead: O(N), skips matching every index against its table.
        #[arg(long)]
        quick: bool,
    },
    /// Print the plan the database chooses for each statement of one list request (the count,
    /// then the page), to check index use on a real database.
    ExplainList {
        /// Whose list.
        #[arg(long)]
        user: String,
        /// A list parameter as name=value, unencoded (repeatable), e.g. --param q=invoice
        /// --param sort=-due.
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
    },
    /// Copy every task, ids and timestamps intact, from one database into another, empty one
    /// (for example from a SQLite file to PostgreSQL). Stop the servers writing to the source first.
    MigrateData {
        /// Source: a SQLite path or sqlite:// URL, or a postgres:// URL.
        #[arg(long, value_name = "URL")]
        from: String,
        /// Target (created and migrated if needed; must hold no task): same forms as --from.
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

#[derive(Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long)]
    pub host: Option<String>,
    /// Port to listen on.
    #[arg(long)]
    pub port: Option<u16>,
    /// SQLite path or sqlite:// URL, or postgres:// URL.
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
        Command::Token {
            user,
            ttl,
            ed25519_key,
            jwks,
        } => token(cli.config.as_deref(), user, ttl, ed25519_key, jwks),
        Command::Migrate => {
            let (settings, _) = load(cli.config.as_deref(), &Overrides::default())?;
            telemetry::init(&settings.log.filter, settings.log.format);
            runtime()?.block_on(async {
                store::open(&settings.database.url, &settings.database).await?;
                println!("database {} is up to date", redact(&settings.database.url));
                anyhow::Ok(())
            })
        }
        Command::Backup { path } => {
            let (settings, _) = load(cli.config.as_deref(), &Overrides::default())?;
            telemetry::init(&settings.log.filter, settings.log.format);
            runtime()?.block_on(async {
                let tasks = store::backup(&settings.database.url, &path)
                    .await
                    .with_context(|| format!("backing up {}", redact(&settings.database.url)))?;
                println!(
                    "backed up {} to {} ({tasks} tasks, integrity ok)",
                    redact(&settings.database.url),
                    path.display()
                );
                anyhow::Ok(())
            })
        }
        Command::Check { quick } => {
            let (settings, _) = load(cli.config.as_deref(), &Overrides::default())?;
            telemetry::init(&settings.log.filter, settings.log.format);
            check(&settings.database.url, quick)
        }
        Command::ExplainList { user, params } => {
            let params = explain::list_params(&params)?;
            let (settings, _) = load(cli.config.as_deref(), &Overrides::default())?;
            telemetry::init(&settings.log.filter, settings.log.format);
            runtime()?.block_on(explain::explain_list(&settings, &user, &params))
        }
        Command::MigrateData { from, to } => {
            let (settings, _) = load(cli.config.as_deref(), &Overrides::default())?;
            telemetry::init(&settings.log.filter, settings.log.format);
            runtime()?.block_on(migrate_data(&settings, &from, &to))
        }
        Command::Serve(args) => {
            let overrides = Overrides {
                host: args.host,
                port: args.port,
                database_url: args.database_url,
            };
            let (settings, auth) = load(cli.config.as_deref(), &overrides)?;
            telemetry::init(&settings.log.filter, settings.log.format);
            auth.check_dev_secret_exposure(&settings.server.host)?;
            if auth.trusts_dev_secret() {
                tracing::warn!(
                    "running with the development secret from config.toml: set BETTER_AUTH_SECRET before exposing this server"
                );
            }
            runtime()?.block_on(serve(settings))
        }
    }
}

/// Load the settings and resolve the auth policy from them, so that auth settings that do not fit
/// together fail every command, as a malformed value does.
fn load(config: Option<&Path>, overrides: &Overrides) -> anyhow::Result<(Settings, AuthPolicy)> {
    let settings = Settings::load(config, overrides)?;
    let auth = AuthPolicy::from_settings(&settings.auth)?;
    Ok((settings, auth))
}

/// `todo-api token`: print a development token, or with `--jwks` the dev key's JWKS.
fn token(
    config: Option<&Path>,
    user: Option<String>,
    ttl: Duration,
    ed25519_key: Option<PathBuf>,
    print_jwks: bool,
) -> anyhow::Result<()> {
    let key = match &ed25519_key {
        Some(path) => {
            let (key, created) = DevSigningKey::load_or_create(path)?;
            if created {
                eprintln!("created a new Ed25519 key in {}", path.display());
            }
            Some(key)
        }
        None => None,
    };
    if let (true, Some(key)) = (print_jwks, &key) {
        println!("{}", serde_json::to_string_pretty(&key.jwks())?);
        return Ok(());
    }
    let user = user.context("--user is required")?;
    let (settings, auth) = load(config, &Overrides::default())?;
    let issuer = auth.rules().issuer.as_deref();
    let audience = &auth.rules().audience;
    let token = match key {
        Some(key) => key.mint(&user, ttl, issuer, audience)?,
        None => {
            let secret = settings.auth.secret.as_ref().context(
                "no secret configured: set BETTER_AUTH_SECRET, or sign with --ed25519-key FILE",
            )?;
            dev_token::mint_hs256(secret, &user, ttl, issuer, audience)?
        }
    };
    println!("{token}");
    Ok(())
}

/// `todo-api check`: report every problem SQLite finds in the file; an error (exit 1) if any.
fn check(url: &str, quick: bool) -> anyhow::Result<()> {
    let path = match DatabaseUrl::parse(url) {
        Some(DatabaseUrl::Sqlite(path)) => path,
        Some(DatabaseUrl::Postgres) => anyhow::bail!(
            "check inspects SQLite files; for PostgreSQL use pg_amcheck (the amcheck extension)"
        ),
        None => anyhow::bail!("unsupported DATABASE_URL {:?}", redact(url)),
    };
    let (depth, pragma) = if quick {
        (CheckDepth::Quick, "quick_check")
    } else {
        (CheckDepth::Full, "integrity_check")
    };
    let outcome = integrity::check(&path, depth, None)
        .with_context(|| format!("checking {}", path.display()))?;
    match outcome {
        Integrity::Ok => {
            println!("{}: {pragma} ok", path.display());
            Ok(())
        }
        Integrity::Damaged(problems) => {
            for problem in &problems {
                println!("{}: {problem}", path.display());
            }
            anyhow::bail!(
                "{} is damaged ({} problem(s) found by {pragma}): restore it from a backup",
                path.display(),
                problems.len()
            )
        }
        Integrity::Unfinished => anyhow::bail!("{pragma} was interrupted"),
    }
}

async fn migrate_data(settings: &Settings, from: &str, to: &str) -> anyhow::Result<()> {
    let source = store::open(from, &settings.database)
        .await
        .with_context(|| format!("source {}", redact(from)))?;
    let target = store::open(to, &settings.database)
        .await
        .with_context(|| format!("target {}", redact(to)))?;
    let report = transfer::copy_all(&source, &target)
        .await
        .context("moving the tasks (the target is left unchanged)")?;
    println!(
        "copied {} tasks from {} to {}; new ids start after {}",
        report.tasks,
        redact(from),
        redact(to),
        report.high_water
    );
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(&settings).await?;
    let stop = startup::shutdown_signal()?;
    startup::survive_file_size_limit()?;
    let url = format!("http://{}", app.local_addr());
    // The one line on stdout that says where the service is; JSON when the logs are, so a log
    // pipeline reads it like every other line.
    match settings.log.format {
        LogFormat::Text => println!("todo-api listening on {url} (docs: {url}/docs)"),
        LogFormat::Json => println!(
            "{}",
            serde_json::json!({
                "message": "listening",
                "url": url,
                "docs": format!("{url}/docs"),
                "version": env!("CARGO_PKG_VERSION"),
            })
        ),
    }
    tracing::info!(%url, "listening");
    app.run_until(stop).await?;
    tracing::info!("stopped");
    Ok(())
}

/// The async runtime. Its blocking pool (file reads, DNS) is bounded; SQLite has its own threads.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(64)
        .build()
}
