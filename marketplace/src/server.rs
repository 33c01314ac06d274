//! Starting the registry: open and migrate its database, load or make the marketplace's root
//! key, make the operator's token and the first revocation list on first start, and serve HTTP
//! until told to stop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tessera_host::store::{Backend, Store};
use tessera_package::SecretKey;
use tokio::net::TcpListener;

use crate::error::{Error, Result};
use crate::web::{self, AppState, WebConfig};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The root key's file in the data directory when `--key-file` is not given.
pub const ROOT_KEY_FILE: &str = "root.key";

/// How to start.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    /// `sqlite://…` or `postgres://…`; SQLite in the data directory when not given.
    pub database_url: Option<String>,
    /// Holds the SQLite database and, unless `key_file` is given, the root key.
    pub data_dir: PathBuf,
    /// The root key's file (`tessera-secret-key-v1:…`), which must exist.
    pub key_file: Option<PathBuf>,
    pub web: WebConfig,
}

/// What the first start made, to be shown once.
#[derive(Debug, Clone)]
pub struct FirstStart {
    /// The operator's bearer token (revocations); only its hash is kept.
    pub operator_token: String,
}

/// A registry that is listening.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    /// The root key was made now, in the data directory.
    pub key_created: bool,
    pub first_start: Option<FirstStart>,
    web: WebConfig,
    listener: TcpListener,
}

/// Brings the registry's schema up to date. Runs at every start; applied migrations are
/// skipped.
pub async fn migrate(store: &Store) -> Result<()> {
    let migrator = match store.backend() {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    };
    migrator.run(store.pool()).await.map_err(|e| Error::Config(format!("database migration failed: {e}")))
}

/// Reads the root key from `key_file`, or from the data directory, making it there on the
/// first start. Returns the key and whether it was made now.
pub fn root_key(data_dir: &Path, key_file: Option<&Path>) -> Result<(SecretKey, bool)> {
    let read = |path: &Path| -> Result<SecretKey> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read the root key {}: {e}", path.display())))?;
        SecretKey::parse(&text).map_err(|e| Error::Config(format!("the root key {}: {e}", path.display())))
    };
    if let Some(path) = key_file {
        return Ok((read(path)?, false));
    }
    let path = data_dir.join(ROOT_KEY_FILE);
    if path.exists() {
        return Ok((read(&path)?, false));
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|e| Error::Config(format!("cannot make the data directory {}: {e}", data_dir.display())))?;
    let key = tessera_package::keygen().map_err(|e| Error::Config(e.to_string()))?;
    write_secret(&path, &format!("{}\n", key.to_text()))?;
    Ok((key, true))
}

/// Writes a new secret file readable by its owner only; an existing file is never replaced.
fn write_secret(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file =
        options.open(path).map_err(|e| Error::Config(format!("cannot write the root key {}: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::Config(format!("cannot write the root key {}: {e}", path.display())))
}

/// The default database URL for a data directory: `<dir>/marketplace.db`.
pub fn sqlite_url_for_data_dir(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("marketplace.db").display())
}

/// Opens and migrates the database, loads the root key, makes what the first start makes and
/// binds the socket.
pub async fn prepare(opts: &ServeOptions) -> Result<Running> {
    let url = match &opts.database_url {
        Some(url) => url.clone(),
        None => {
            std::fs::create_dir_all(&opts.data_dir).map_err(|e| {
                Error::Config(format!("cannot make the data directory {}: {e}", opts.data_dir.display()))
            })?;
            sqlite_url_for_data_dir(&opts.data_dir)
        }
    };
    let (key, key_created) = root_key(&opts.data_dir, opts.key_file.as_deref())?;
    let store = Store::connect(&url).await?;
    migrate(&store).await?;
    let state = AppState::new(store, key);
    crate::revocations::ensure_first_list(&state).await?;
    let first_start =
        crate::accounts::ensure_operator_token(&state.store).await?.map(|operator_token| FirstStart { operator_token });
    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|e| Error::Config(format!("cannot listen on {}: {e}", opts.listen)))?;
    let addr = listener.local_addr().map_err(|e| Error::Config(e.to_string()))?;
    Ok(Running { addr, state, key_created, first_start, web: opts.web.clone(), listener })
}

impl Running {
    /// Serves until `shutdown` resolves, then finishes the requests in flight.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Result<()> {
        let app = web::router(self.state.clone(), &self.web);
        tracing::info!(addr = %self.addr, "listening");
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| Error::Internal(format!("server failed: {e}")));
        self.state.store.close().await;
        served
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_key_is_made_once_and_read_back() {
        let dir = std::env::temp_dir().join(format!("tessera-marketplace-key-{}", uuid::Uuid::new_v4().simple()));
        let (made, created) = root_key(&dir, None).expect("made");
        assert!(created);
        let (again, created) = root_key(&dir, None).expect("read");
        assert!(!created);
        assert_eq!(again.key_id(), made.key_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join(ROOT_KEY_FILE)).expect("file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "only its owner reads the root key");
        }
        let (from_file, _) = root_key(Path::new("/nonexistent"), Some(&dir.join(ROOT_KEY_FILE))).expect("key file");
        assert_eq!(from_file.key_id(), made.key_id());
        let err = root_key(&dir, Some(&dir.join("missing.key"))).expect_err("a key file must exist");
        assert!(err.to_string().contains("missing.key"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
