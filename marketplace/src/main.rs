//! The `tessera-marketplace` binary: parses its arguments and runs the registry server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tessera_marketplace::server::{self, ServeOptions};
use tessera_marketplace::web::WebConfig;

#[derive(Parser)]
#[command(name = "tessera-marketplace", version, about = "The Tessera marketplace's registry server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the registry API and the web catalog.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "TESSERA_MARKETPLACE_LISTEN", default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
        /// `postgres://USER@HOST/DB`; SQLite in the data directory when not given.
        #[arg(long, env = "TESSERA_MARKETPLACE_DATABASE_URL")]
        database_url: Option<String>,
        /// Holds the SQLite database and the root key made on first start.
        #[arg(long, env = "TESSERA_MARKETPLACE_DATA_DIR", default_value = "./marketplace-data")]
        data_dir: PathBuf,
        /// The root key (`tessera-secret-key-v1:…`) to sign with, instead of the data directory's.
        #[arg(long, env = "TESSERA_MARKETPLACE_KEY_FILE")]
        key_file: Option<PathBuf>,
        /// Seconds one request (an upload included) may take.
        #[arg(long, env = "TESSERA_MARKETPLACE_REQUEST_TIMEOUT", default_value_t = 120)]
        request_timeout: u64,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let Command::Serve { listen, database_url, data_dir, key_file, request_timeout } = Cli::parse().command;
    let opts = ServeOptions {
        listen,
        database_url,
        data_dir,
        key_file,
        web: WebConfig { request_timeout: Duration::from_secs(request_timeout) },
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(opts: ServeOptions) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let running = server::prepare(&opts).await.context("the marketplace could not start")?;
    let key_id = running.state.root_key.key_id();
    println!("Tessera marketplace at http://{}", running.addr);
    println!("root key id: {key_id} (hosts trust GET /api/v1/trust)");
    if running.key_created {
        println!("made the root key in {}; back it up", opts.data_dir.join(server::ROOT_KEY_FILE).display());
    }
    if let Some(first) = &running.first_start {
        println!("operator token (shown once; revocations need it): {}", first.operator_token);
    }
    running.serve(tessera_host::server::shutdown_signal()).await.context("the marketplace stopped with an error")
}
