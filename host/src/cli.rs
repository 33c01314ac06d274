//! The `tessera` command line: the server and the admin commands an operator needs before
//! (or instead of) the web pages.

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::auth::{PasswordHasher, check_policy, random_token};
use crate::org::{self, NewOrg, users};
use crate::server::{self, ServeOptions};
use crate::store::{Store, sqlite_url_for_data_dir};
use crate::web::{AppState, WebConfig};

#[derive(Debug, Parser)]
#[command(name = "tessera", version, about = "Tessera CRM: the server and its admin commands")]
struct Cli {
    /// Log as JSON lines instead of text.
    #[arg(long, global = true, value_enum, default_value = "text", env = "TESSERA_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
struct DbArgs {
    /// Database URL: `sqlite://PATH` or `postgres://USER@HOST/DB`. Default: SQLite in the data directory.
    #[arg(long, env = "TESSERA_DATABASE_URL")]
    database_url: Option<String>,
    /// Where Tessera keeps its files (the SQLite database by default).
    #[arg(long, env = "TESSERA_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
}

impl DbArgs {
    fn url(&self) -> anyhow::Result<String> {
        match &self.database_url {
            Some(url) => Ok(url.clone()),
            None => {
                std::fs::create_dir_all(&self.data_dir)
                    .with_context(|| format!("cannot create the data directory {}", self.data_dir.display()))?;
                Ok(sqlite_url_for_data_dir(&self.data_dir))
            }
        }
    }

    async fn open(&self) -> anyhow::Result<Store> {
        let store = Store::connect(&self.url()?).await.context("cannot open the database")?;
        store.migrate().await?;
        Ok(store)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the CRM server. On an empty database, creates the first organisation and its `admin`.
    Serve(ServeArgs),
    /// Bring the database schema up to date, then exit.
    Migrate(DbArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage organisations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Plugins' own records.
    #[command(subcommand)]
    Records(RecordsCommand),
    /// Add demo customers (with contacts and follow-ups) to an organisation.
    Demo {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        org: Option<String>,
        /// How many customers.
        #[arg(long, default_value_t = 1000)]
        customers: usize,
        /// The same seed gives the same customers.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Import customers from a CSV (UTF-8 or GBK) or XLSX file, as a user, with a progress bar.
    Import {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        org: Option<String>,
        /// The user the import runs as (their permissions apply; they own new customers).
        #[arg(long, default_value = "admin")]
        user: String,
        /// The file to import.
        file: PathBuf,
        /// Map a column to a field, e.g. --map 客户名称=name or --map 合同编号=custom:contract_no;
        /// repeatable. Other columns follow the suggested mapping.
        #[arg(long = "map", value_parser = parse_mapping)]
        mappings: Vec<(String, String)>,
        /// What to do with rows matching existing customers: skip, update or merge.
        #[arg(long, default_value = "skip")]
        dedupe: String,
        /// Check every row and print the report without importing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
enum RecordsCommand {
    /// Import records of a plugin's entity from a JSON Lines file, one
    /// `{"fields": {...}, "customer_id": 42}` per line (e.g. articles moved from another
    /// knowledge base). Every line is checked before any is written; the records belong to the
    /// plugin. The plugin must be installed.
    Import {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        org: Option<String>,
        /// The plugin's id, e.g. `knowledge-base`.
        #[arg(long)]
        plugin: String,
        /// The entity, e.g. `article`.
        #[arg(long)]
        entity: String,
        /// The JSON Lines file.
        file: PathBuf,
    },
}

/// Lines of a records import checked or written at once.
const RECORDS_CHUNK: usize = 5_000;

async fn import_records(
    db: DbArgs,
    org: Option<String>,
    plugin: String,
    entity: String,
    file: PathBuf,
) -> anyhow::Result<()> {
    use crate::runtime::entities::{self, ImportRecord};
    use std::io::BufRead;
    let store = db.open().await?;
    let org = find_org(&store, org.as_deref()).await?;
    let declared = entities::declared(&store, &plugin, &entity)
        .await
        .with_context(|| format!("{plugin} has no entity {entity:?}; is the plugin installed?"))?;
    let started = std::time::Instant::now();
    let mut total = 0u64;
    for write in [false, true] {
        let reader = std::io::BufReader::new(
            std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?,
        );
        let mut chunk = Vec::with_capacity(RECORDS_CHUNK);
        let mut first_line = 1;
        let mut lines = reader.lines().enumerate().peekable();
        while let Some((n, line)) = lines.next() {
            let line = line.with_context(|| format!("{}: line {} is not UTF-8 text", file.display(), n + 1))?;
            if !line.trim().is_empty() {
                let record: ImportRecord = serde_json::from_str(&line)
                    .with_context(|| format!("{}: line {} is not a record", file.display(), n + 1))?;
                chunk.push((n + 1, record));
            }
            if chunk.len() == RECORDS_CHUNK || (lines.peek().is_none() && !chunk.is_empty()) {
                let records: Vec<ImportRecord> = chunk.iter().map(|(_, r)| r.clone()).collect();
                match entities::import(&store, org.id, &plugin, &declared, &records, write).await {
                    Ok(n) => total += n,
                    Err((index, e)) => {
                        let at = match index.and_then(|i| chunk.get(i)) {
                            Some((line, _)) => format!("line {line}"),
                            None => format!("lines {first_line}…"),
                        };
                        let written =
                            if write { format!(" ({total} records were written before it)") } else { String::new() };
                        anyhow::bail!("{}, {at}: {e}{written}", file.display());
                    }
                }
                first_line = chunk.last().map_or(first_line, |(l, _)| l + 1);
                chunk.clear();
                if write {
                    eprint!("\r{total} records written");
                }
            }
        }
    }
    store.refresh_statistics().await?;
    eprintln!();
    println!(
        "imported {total} {plugin} {entity} records into {} in {:.1} s",
        org.slug,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn parse_mapping(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(h, f)| (h.to_owned(), f.to_owned()))
        .ok_or_else(|| format!("{s:?}: write COLUMN=FIELD, e.g. 客户名称=name"))
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TESSERA_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    db: DbArgs,
    /// Short name of the organisation made on first start.
    #[arg(long, default_value = "demo")]
    org_slug: String,
    /// Name of the organisation made on first start.
    #[arg(long, default_value = "Demo Company 演示公司")]
    org_name: String,
    /// Add demo departments and users to the organisation made on first start.
    #[arg(long)]
    demo: bool,
    /// Mark cookies Secure: set this when users reach Tessera over HTTPS.
    #[arg(long, env = "TESSERA_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Take client addresses from X-Forwarded-For (only behind a proxy you run).
    #[arg(long, env = "TESSERA_TRUST_PROXY")]
    trust_proxy: bool,
    /// The SMTP relay notification email goes out through, e.g. `smtp://relay:25`,
    /// `smtp://user:password@relay:587?tls=required` or `smtps://relay:465`. Without it no
    /// mail is sent.
    #[arg(long, env = "TESSERA_SMTP_URL")]
    smtp_url: Option<String>,
    /// The sender of notification email.
    #[arg(long, env = "TESSERA_MAIL_FROM", default_value = "Tessera CRM <crm@localhost>")]
    mail_from: String,
    /// The address users reach the CRM at, for links in email (e.g. https://crm.example.com).
    #[arg(long, env = "TESSERA_PUBLIC_URL")]
    public_url: Option<String>,
    /// The plugin directory: packages (`*.tpkg`, and `*.wasm` in developer mode) dropped into
    /// it are installed while the CRM runs. Default: `plugins` in the data directory.
    #[arg(long, env = "TESSERA_PLUGIN_DIR")]
    plugin_dir: Option<PathBuf>,
    /// Hosts on your own network that plugins may call (names or addresses, comma-separated),
    /// over plain http and at private addresses, e.g. `erp.office.lan,192.168.1.20`. Plugins
    /// reach every other host over https at public addresses only, and only the hosts their
    /// manifest lists.
    #[arg(long, env = "TESSERA_PLUGIN_LOCAL_HOSTS", value_delimiter = ',')]
    plugin_local_hosts: Vec<String>,
    /// A TOML file of native device drivers to load (`[[driver]]` tables naming the library,
    /// its config, and the organisation and plugin its calls go to); see docs/drivers.md.
    #[arg(long, env = "TESSERA_DRIVERS")]
    drivers: Option<PathBuf>,
    /// The waits between attempts at a webhook delivery, comma-separated (`5s,1m,5m,30m,2h`);
    /// after the last the delivery is dead, kept for manual redelivery. Default: 5s, 1m, 5m,
    /// 30m, 2h, 6h, 12h, 24h (about 45 h in all), as docs/api.md documents.
    #[arg(long, env = "TESSERA_WEBHOOK_RETRIES", value_delimiter = ',', value_parser = parse_wait)]
    webhook_retries: Vec<std::time::Duration>,
    /// The marketplace the revocation list is fetched from, e.g. `https://market.example.com`.
    #[arg(long, env = "TESSERA_MARKETPLACE_URL")]
    marketplace_url: Option<String>,
    /// The marketplace's public key (`tessera-public-key-v1:…`), or a file holding one or more
    /// (one a line): packages, licenses and revocation lists must be signed by one of them.
    /// Pinned here, never fetched. Repeat it (or separate with commas) for a key rotation.
    #[arg(long = "marketplace-key", env = "TESSERA_MARKETPLACE_KEY", value_delimiter = ',')]
    marketplace_keys: Vec<String>,
    /// Also run unsigned plugins (bare `.wasm`): for a developer's own host and the demo,
    /// never for production.
    #[arg(long, env = "TESSERA_DEVELOPER_MODE", value_parser = clap::builder::BoolishValueParser::new())]
    developer_mode: bool,
    /// Seconds between fetches of the marketplace's revocation list.
    #[arg(long, env = "TESSERA_REVOCATION_POLL", default_value_t = 300)]
    revocation_poll: u64,
}

/// The pinned marketplace keys: each argument a key or a file of keys, one a line.
fn read_trust_root(args: &[String]) -> anyhow::Result<Option<tessera_package::TrustRoot>> {
    let mut keys = Vec::new();
    for arg in args.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
        let text = if arg.starts_with(tessera_package::keys::PUBLIC_KEY_PREFIX) {
            arg.to_owned()
        } else {
            std::fs::read_to_string(arg).with_context(|| format!("cannot read the marketplace key file {arg}"))?
        };
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            keys.push(
                tessera_package::PublicKey::parse(line)
                    .with_context(|| format!("{arg}: not a marketplace public key (`tessera-public-key-v1:…`)"))?,
            );
        }
    }
    Ok((!keys.is_empty()).then(|| tessera_package::TrustRoot::with_keys(keys)))
}

/// A wait: a whole number of seconds, minutes or hours (`5s`, `1m`, `2h`).
fn parse_wait(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let bad = || format!("{s:?}: write a whole number of seconds, minutes or hours, e.g. 5s, 1m or 2h");
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(bad()),
    };
    if seconds == 0 || seconds > 7 * 24 * 3600 {
        return Err(format!("{s:?}: a wait is between 1 s and 7 days"));
    }
    Ok(std::time::Duration::from_secs(seconds))
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user. The password is read from TESSERA_PASSWORD or standard input, or generated.
    Add {
        #[command(flatten)]
        db: DbArgs,
        /// The organisation's short name (may be left out with one organisation).
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// Give the user this role (by name); repeat for several.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Generate a password and print it instead of reading one.
        #[arg(long)]
        generate_password: bool,
    },
    /// Set a user's password (read from TESSERA_PASSWORD or standard input); ends their sessions.
    Passwd {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        username: String,
    },
    /// List the users of an organisation.
    List {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        org: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Add an organisation with its built-in roles and an `admin` user. The admin password is
    /// read from TESSERA_ADMIN_PASSWORD, or generated and printed once.
    Add {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "Asia/Shanghai")]
        time_zone: String,
    },
    /// List organisations.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Runs the command line; the exit code says whether it worked.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(db) => {
            db.open().await?;
            println!("the database schema is up to date");
            Ok(())
        }
        Command::User(cmd) => user_command(cmd).await,
        Command::Org(cmd) => org_command(cmd).await,
        Command::Demo { db, org, customers, seed } => {
            let store = db.open().await?;
            let org = find_org(&store, org.as_deref()).await?;
            let state = AppState::new(store, WebConfig::default());
            let started = std::time::Instant::now();
            let made = crate::demo::seed_customers(&state, org.id, customers, seed).await?;
            println!("added {made} demo customers to {} in {:.1} s", org.slug, started.elapsed().as_secs_f64());
            let started = std::time::Instant::now();
            let indexed = crate::customers::search::index_all(&state.store).await?;
            crate::customers::search::compact(&state.store).await?;
            state.store.refresh_statistics().await?;
            state.store.checkpoint_now().await?;
            println!(
                "indexed {indexed} customers and contacts for search, measured the tables and wrote the log through in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Import { db, org, user, file, mappings, dedupe, dry_run } => {
            import_command(db, org, user, file, mappings, dedupe, dry_run).await
        }
        Command::Records(RecordsCommand::Import { db, org, plugin, entity, file }) => {
            import_records(db, org, plugin, entity, file).await
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let drivers = match &args.drivers {
        Some(path) => crate::runtime::drivers::read_config(path)?,
        None => Vec::new(),
    };
    let opts = ServeOptions {
        listen: args.listen,
        database_url: args.db.url()?,
        web: WebConfig { secure_cookies: args.secure_cookies, trust_proxy: args.trust_proxy, ..WebConfig::default() },
        first_org_slug: args.org_slug,
        first_org_name: args.org_name,
        admin_password: std::env::var("TESSERA_ADMIN_PASSWORD").ok().filter(|p| !p.is_empty()),
        demo: args.demo,
        dispatch: match args.webhook_retries.as_slice() {
            [] => crate::events::DispatchConfig::default(),
            waits => crate::events::DispatchConfig { retry_delays: waits.to_vec(), ..Default::default() },
        },
        mail: args.smtp_url.as_deref().map(|url| crate::notifications::mail::MailConfig {
            public_url: args.public_url.clone(),
            ..crate::notifications::mail::MailConfig::new(url, &args.mail_from)
        }),
        plugins: crate::runtime::RuntimeConfig {
            plugin_dir: Some(args.plugin_dir.clone().unwrap_or_else(|| args.db.data_dir.join("plugins"))),
            local_hosts: args
                .plugin_local_hosts
                .iter()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .collect(),
            drivers,
            trust: crate::runtime::trust::TrustConfig {
                root: read_trust_root(&args.marketplace_keys)?,
                developer_mode: args.developer_mode,
                marketplace_url: args.marketplace_url.clone(),
                revocation_poll: std::time::Duration::from_secs(args.revocation_poll.max(1)),
            },
            ..crate::runtime::RuntimeConfig::default()
        },
    };
    if opts.plugins.trust.developer_mode {
        tracing::warn!("developer mode: unsigned plugins load; never use this in production");
    } else if opts.plugins.trust.root.is_none() {
        tracing::warn!("no --marketplace-key: no plugin can be verified, so none loads");
    }
    let running = server::prepare(&opts).await?;
    let url = format!("http://{}", running.addr);
    println!("Tessera CRM is running at {url}");
    println!("  web CRM:      {url}/   (open it in a browser and sign in)");
    println!("  database:     {}", redact(&opts.database_url));
    match &running.first_start {
        Some(first) => {
            println!("  organisation: {} ({}), created now", first.org.slug, first.org.name);
            if first.generated_password {
                println!("  sign in as:   admin / {}   (generated; shown only this once)", first.admin_password);
            } else {
                println!("  sign in as:   admin / the password in TESSERA_ADMIN_PASSWORD");
            }
            if opts.demo {
                println!(
                    "  demo users:   wang.fang (sales manager), zhang.wei, li.na, liu.yang (salespeople), same password"
                );
            }
        }
        None => println!("  sign in with your existing accounts"),
    }
    let trust = &opts.plugins.trust;
    if trust.developer_mode {
        println!("  !! DEVELOPER MODE: unsigned plugins (bare .wasm) load on this host; never use it in production");
    }
    match &trust.root {
        Some(root) => {
            let ids = root.keys().iter().map(|k| k.key_id().to_string()).collect::<Vec<_>>().join(", ");
            println!("  marketplace:  trusts key {ids}");
        }
        None if !trust.developer_mode => println!(
            "  marketplace:  no --marketplace-key given, so no plugin can be verified and none loads; give the \
             marketplace's public key, or start with --developer-mode on a developer's host"
        ),
        None => {}
    }
    if let Some(url) = &trust.marketplace_url {
        println!("  revocations:  fetched from {url} every {} s", trust.revocation_poll.as_secs());
    }
    println!("  API:          {url}/api/v1/openapi.json");
    if let Some(dir) = &opts.plugins.plugin_dir {
        println!("  plugins:      {} (packages dropped here are installed at once)", dir.display());
    }
    running.serve(server::shutdown_signal()).await?;
    Ok(())
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

async fn find_org(store: &Store, slug: Option<&str>) -> anyhow::Result<org::Org> {
    match slug {
        Some(s) => org::find_by_slug(store, s)
            .await?
            .with_context(|| format!("there is no organisation {s:?}; see `tessera org list`")),
        None => org::only_org(store)
            .await?
            .context("there are several organisations (or none); name one with --org, see `tessera org list`"),
    }
}

/// Reads a password from an environment variable, or the first line of standard input.
fn read_password(var: &str) -> anyhow::Result<String> {
    if let Ok(p) = std::env::var(var)
        && !p.is_empty()
    {
        return Ok(p);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password (at least 12 characters; input is shown): ");
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).context("cannot read the password from standard input")?;
    let p = line.trim_end_matches(['\r', '\n']).to_owned();
    if p.is_empty() {
        bail!("no password given: set {var} or pipe it on standard input");
    }
    Ok(p)
}

async fn user_command(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add { db, org, username, display_name, email, roles, generate_password } => {
            let store = db.open().await?;
            let org = find_org(&store, org.as_deref()).await?;
            let all_roles = org::roles::list(&store, org.id).await?;
            let mut role_ids = Vec::new();
            for name in &roles {
                let role = all_roles.iter().find(|r| r.name.eq_ignore_ascii_case(name)).with_context(|| {
                    format!(
                        "there is no role {name:?}; roles: {}",
                        all_roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ")
                    )
                })?;
                role_ids.push(role.id);
            }
            let password = if generate_password { random_token(15) } else { read_password("TESSERA_PASSWORD")? };
            let state = AppState::new(store, WebConfig::default());
            let user = users::create(
                &state,
                org.id,
                None,
                None,
                &users::NewUser {
                    display_name: display_name.unwrap_or_else(|| username.clone()),
                    username,
                    password: password.clone(),
                    email,
                    phone: None,
                    department_id: None,
                    manager_id: None,
                    locale: None,
                    role_ids,
                },
            )
            .await?;
            println!("added user {} (id {}) to {}", user.username, user.id, org.slug);
            if generate_password {
                println!("password: {password}   (shown only this once)");
            }
            Ok(())
        }
        UserCommand::Passwd { db, org, username } => {
            let store = db.open().await?;
            let org = find_org(&store, org.as_deref()).await?;
            let creds = users::credentials(&store, org.id, &username)
                .await?
                .with_context(|| format!("there is no user {username:?} in {}", org.slug))?;
            let password = read_password("TESSERA_PASSWORD")?;
            check_policy(&password, &username)?;
            let hash = PasswordHasher::new().hash(&password).await?;
            users::store_password(&store, org.id, creds.id, &hash, None, None, None, "password.reset").await?;
            println!("password of {username} set; their sessions have ended");
            Ok(())
        }
        UserCommand::List { db, org } => {
            let store = db.open().await?;
            let org = find_org(&store, org.as_deref()).await?;
            let rows: Vec<(i64, String, String, i64)> =
                sqlx::query_as("SELECT id, username, display_name, active FROM users WHERE org_id = $1 ORDER BY id")
                    .bind(org.id)
                    .fetch_all(store.pool())
                    .await?;
            println!("{:>6}  {:<24} {:<24} state", "id", "username", "name");
            for (id, username, name, active) in rows {
                println!("{id:>6}  {username:<24} {name:<24} {}", if active != 0 { "active" } else { "disabled" });
            }
            Ok(())
        }
    }
}

async fn org_command(cmd: OrgCommand) -> anyhow::Result<()> {
    match cmd {
        OrgCommand::Add { db, slug, name, time_zone } => {
            let store = db.open().await?;
            let env_password = std::env::var("TESSERA_ADMIN_PASSWORD").ok().filter(|p| !p.is_empty());
            let generated = env_password.is_none();
            let admin_password = env_password.unwrap_or_else(|| random_token(15));
            let created = org::create(
                &store,
                &PasswordHasher::new(),
                &NewOrg { slug, name, time_zone, admin_password: admin_password.clone() },
            )
            .await?;
            println!("added organisation {} ({}), id {}", created.org.slug, created.org.name, created.org.id);
            if generated {
                println!("sign in as admin / {admin_password}   (shown only this once)");
            }
            Ok(())
        }
        OrgCommand::List { db } => {
            let store = db.open().await?;
            println!("{:>6}  {:<24} {:<32} time zone", "id", "slug", "name");
            for o in org::list(&store).await? {
                println!("{:>6}  {:<24} {:<32} {}", o.id, o.slug, o.name, o.time_zone);
            }
            Ok(())
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn import_command(
    db: DbArgs,
    org: Option<String>,
    user: String,
    file: PathBuf,
    mappings: Vec<(String, String)>,
    dedupe: String,
    dry_run: bool,
) -> anyhow::Result<()> {
    use crate::customers::import;
    let store = db.open().await?;
    let org = find_org(&store, org.as_deref()).await?;
    let creds = users::credentials(&store, org.id, &user)
        .await?
        .with_context(|| format!("there is no user {user:?} in {}", org.slug))?;
    let me = users::get(&store, org.id, creds.id).await?;
    let principal = crate::access::Principal { org_id: org.id, user_id: me.id, department_id: me.department_id };
    let access = crate::access::Access::load(&store, principal).await?;
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let file_name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "import.csv".into());
    let state = AppState::new(store.clone(), WebConfig::default());
    let info = import::upload(&store, &access, &file_name, &bytes, &state.imports).await?;
    println!("{}: {} rows, {}", info.file_name, info.total_rows, info.encoding);
    if let Some(prev) = info.previously_imported_as {
        println!(
            "this file was imported before (import {prev}); rows matching existing customers follow --dedupe {dedupe}"
        );
    }
    let mut mapping = info.suggested_mapping.clone();
    for (header, field) in mappings {
        if let Some(key) = field.strip_prefix("custom:") {
            mapping.insert(header, import::Mapped::Custom { custom: key.to_owned() });
            continue;
        }
        let target: import::Target = serde_json::from_value(serde_json::Value::String(field.clone()))
            .map_err(|_| anyhow::anyhow!("{field:?} is not a field; fields: name, phone, level, status, category, industry, region, source, address, tax_id, credit_limit, tags, notes, owner, contact_name, contact_phone, contact_title, contact_email, ignore"))?;
        mapping.insert(header, import::Mapped::Field(target));
    }
    for (header, target) in &mapping {
        let shown = match target {
            import::Mapped::Field(t) => {
                serde_json::to_value(t).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
            }
            import::Mapped::Custom { custom } => format!("custom:{custom}"),
        };
        println!("  {header} → {shown}");
    }
    let dedupe: import::Dedupe = serde_json::from_value(serde_json::Value::String(dedupe.clone()))
        .map_err(|_| anyhow::anyhow!("--dedupe is skip, update or merge, not {dedupe:?}"))?;
    let plan = import::ImportPlan { mapping, dedupe };
    let print_report = |r: &import::ImportReport| {
        println!(
            "{} new, {} matching existing customers, {} repeated in the file, {} problems",
            r.new_customers, r.matched_existing, r.repeated_in_file, r.problem_count
        );
        for (row, column, message) in &r.problems {
            println!("  row {row}{}: {message}", column.as_deref().map(|c| format!(" ({c})")).unwrap_or_default());
        }
    };
    if dry_run {
        let report = import::dry_run(&store, &access, info.id, &plan).await?;
        print_report(&report);
        if !report.ok {
            bail!("the file has problems; nothing would be imported");
        }
        return Ok(());
    }
    import::start(&store, &access, info.id, plan, state.imports.clone()).await?;
    let total = info.total_rows.max(1) as usize;
    loop {
        let now = import::get(&store, &access, info.id, &state.imports).await?;
        let finished = now.status == "done" || now.status == "failed";
        let done = if finished { total } else { now.processed.unwrap_or(0).min(total) };
        let filled = done * 30 / total;
        eprint!("\r[{}{}] {done}/{total} rows", "#".repeat(filled), " ".repeat(30 - filled));
        if finished {
            eprintln!();
            let report = now.report.unwrap_or_default();
            print_report(&report);
            if now.status == "failed" {
                bail!("nothing was imported");
            }
            println!("imported");
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{parse_wait, read_trust_root};

    #[test]
    fn waits_are_seconds_minutes_or_hours() {
        assert_eq!(parse_wait("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_wait(" 1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_wait("2h"), Ok(Duration::from_secs(7200)));
        for bad in ["", "5", "s", "1.5m", "1d", "0s", "200h", "-1s"] {
            assert!(parse_wait(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn marketplace_keys_come_as_text_or_as_a_file_of_them() {
        let first = tessera_package::SecretKey::from_seed([1; 32]).public_key();
        let second = tessera_package::SecretKey::from_seed([2; 32]).public_key();
        let file = std::env::temp_dir().join(format!("tessera-keys-{}.pub", std::process::id()));
        std::fs::write(&file, format!("# the marketplace, rolled over\n{}\n", second.to_text())).expect("written");
        let root = read_trust_root(&[first.to_text(), file.display().to_string()]).expect("read").expect("a root");
        assert_eq!(root.keys(), &[first, second]);
        assert!(read_trust_root(&[]).expect("read").is_none(), "no key, no root");
        std::fs::write(&file, "tessera-public-key-v1:not-a-key\n").expect("written");
        assert!(read_trust_root(&[file.display().to_string()]).is_err(), "a bad key is refused at start");
        assert!(read_trust_root(&["/nonexistent/marketplace.pub".into()]).is_err());
        let _ = std::fs::remove_file(&file);
    }
}
