//! The database: one connection pool over SQLite (the embedded default) or PostgreSQL (for
//! several host nodes), the migrations of both, and the few helpers that keep SQL portable.
//!
//! Every query in the host is written once, with `$1`-style placeholders that both backends
//! accept, and run through [`sqlx::Any`]. Timestamps are Unix milliseconds and booleans are
//! `0`/`1` integers in both schemas, so rows decode the same way whichever backend holds them.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::error::{Error, Result};

/// Row ids are 64-bit integers in both backends.
pub type Id = i64;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The shared handle on the database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    auth_cache: std::sync::Arc<crate::cache::AuthCache>,
    signals: std::sync::Arc<Signals>,
}

/// Wake-ups between the parts of one node that share a database.
#[derive(Debug)]
pub struct Signals {
    /// The user ids of notifications just committed, for their live streams.
    pub notifications: tokio::sync::broadcast::Sender<Id>,
}

impl Default for Signals {
    fn default() -> Self {
        Signals { notifications: tokio::sync::broadcast::channel(4096).0 }
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The default database URL for a data directory: `<dir>/tessera.db`.
pub fn sqlite_url_for_data_dir(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("tessera.db").display())
}

impl Store {
    /// Opens a pool on `url` (`sqlite://…` or `postgres://…`). SQLite files are switched to
    /// WAL with foreign keys enforced and a busy timeout, so concurrent writers wait instead of
    /// failing.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(Error::Config(format!(
                "unsupported database URL {url:?}: use sqlite://PATH or postgres://USER@HOST/DB"
            )));
        };
        let options = AnyConnectOptions::from_str(url).map_err(|e| Error::Config(format!("bad database URL: {e}")))?;
        let pool = match backend {
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(30))
                    // A SQLite connection reads the planner's statistics when it opens and
                    // keeps them: statistics gathered later (the hourly refresh, a bulk load
                    // by `tessera demo` or `tessera import` in another process) reach the
                    // queries only through new connections. The host's background tasks keep
                    // connections from ever idling out, so they are renewed every 5 minutes.
                    .max_lifetime(Duration::from_secs(300))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                            // FULL keeps a committed write through a power cut, not only
                            // through a crash of the process.
                            conn.execute("PRAGMA synchronous = FULL").await?;
                            // Reads go through a shared memory map instead of a copy per
                            // connection, and each connection keeps 32 MiB of pages.
                            conn.execute("PRAGMA mmap_size = 17179869184").await?;
                            // Reads come from the memory map; the page cache holds the pages
                            // a transaction changes. 256 MiB lets a large import keep its
                            // changes in memory until it commits instead of writing them to the
                            // log early and again later; a connection only takes what it uses.
                            conn.execute("PRAGMA cache_size = -262144").await?;
                            // A statement that fails half-way is undone from a journal of the
                            // pages it changed, kept in memory rather than in a temporary file.
                            conn.execute("PRAGMA temp_store = MEMORY").await?;
                            // The log is copied into the database file by the store's own
                            // checkpointer task (see `spawn_checkpointer`), not by whichever
                            // request happens to commit when the log is long; the file is cut
                            // back to 64 MiB after a large write has been copied.
                            conn.execute("PRAGMA wal_autocheckpoint = 0").await?;
                            conn.execute("PRAGMA journal_size_limit = 67108864").await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(options)
                    .await?
            }
        };
        if backend == Backend::Sqlite {
            spawn_checkpointer(pool.clone());
        }
        Ok(Store { pool, backend, auth_cache: Default::default(), signals: Default::default() })
    }

    /// Brings the schema up to date. Runs at every start; applied migrations are skipped.
    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await.map_err(|e| Error::Config(format!("database migration failed: {e}")))
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// This node's memory of tokens and access (see [`crate::cache`]).
    pub fn auth_cache(&self) -> &crate::cache::AuthCache {
        &self.auth_cache
    }

    /// The clause that takes rows a query selects for this node's work alone, skipping those
    /// another node holds: `lock` (e.g. ` FOR UPDATE SKIP LOCKED`, ` FOR UPDATE OF d SKIP
    /// LOCKED`) on PostgreSQL, where several nodes share queues; nothing on SQLite, whose
    /// writers already take turns (`begin_write`).
    pub fn skip_locked(&self, lock: &'static str) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => lock,
        }
    }

    /// Wake-ups between this node's tasks.
    pub fn signals(&self) -> &Signals {
        &self.signals
    }

    /// Call after committing a change to users, roles, grants, departments or tokens.
    pub fn auth_changed(&self) {
        self.auth_cache.changed();
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so two writers queue on the busy timeout instead of one failing
    /// when it upgrades from reading to writing.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(tx)
    }

    /// Brings the planner's statistics up to date: at start, after a bulk load or a large
    /// import, and hourly on SQLite. The planner needs to know how large tables are and how
    /// selective indexes are; without statistics SQLite takes `org_id = ?` for a narrow filter
    /// and reads every phone of an organisation in order rather than look one number up.
    /// SQLite measures, in samples, the tables never measured or grown or shrunk tenfold since.
    /// PostgreSQL vacuums and analyses (as its autovacuum does, later): besides statistics,
    /// that marks the new rows' pages all-visible, without which an index that holds every
    /// column a query needs (composition counts) still reads each row.
    pub async fn refresh_statistics(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => sqlx::query("PRAGMA optimize = 0x10002").execute(&self.pool).await?,
            Backend::Postgres => sqlx::query("VACUUM (ANALYZE)").execute(&self.pool).await?,
        };
        Ok(())
    }

    /// Copies everything committed in SQLite's write-ahead log into the database file now and
    /// empties the log (after a bulk load, so that the checkpointer does not copy gigabytes
    /// while people work). Nothing on PostgreSQL.
    pub async fn checkpoint_now(&self) -> Result<()> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Answers whether the database takes queries (used by `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// How often SQLite's write-ahead log is copied into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Copies what is committed in SQLite's write-ahead log into the database file, once a second,
/// until the pool closes. A passive checkpoint waits for no one: writers go on while it copies,
/// and it copies what no reader still needs. Done by the committing request instead (SQLite's
/// default), an import's commit would also copy its few hundred megabytes before answering.
fn spawn_checkpointer(pool: AnyPool) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(CHECKPOINT_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if pool.is_closed() {
                return;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                tracing::warn!(error = %e, "cannot copy the write-ahead log into the database file");
            }
        }
    });
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A duration in milliseconds, as timestamps are kept; absurdly long ones are capped far
/// enough from `i64::MAX` that adding one to a timestamp cannot overflow.
pub fn duration_ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

/// A piece of SQL with its arguments, built up from parts. Placeholders are numbered
/// (`$1`, `$2`, …) as they are pushed, which both backends accept.
#[derive(Debug, Default, Clone)]
pub struct SqlBuf {
    pub text: String,
    pub args: Vec<SqlArg>,
}

/// One bound argument of a [`SqlBuf`].
#[derive(Debug, Clone, PartialEq)]
pub enum SqlArg {
    Int(i64),
    Text(String),
    /// A possibly missing integer (a typed NULL when missing).
    OptInt(Option<i64>),
    /// A possibly missing text (a typed NULL when missing).
    OptText(Option<String>),
}

impl SqlBuf {
    pub fn new(text: impl Into<String>) -> Self {
        SqlBuf { text: text.into(), args: Vec::new() }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `arg`.
    pub fn bind(&mut self, arg: impl Into<SqlArg>) -> &mut Self {
        self.args.push(arg.into());
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }

    /// Appends ` LIMIT n` with `n` written out, not bound: SQLite plans an ORDER BY … LIMIT with
    /// the limit's value, so a bound limit makes it prepare the statement again on every run.
    pub fn limit(&mut self, n: i64) -> &mut Self {
        self.text.push_str(" LIMIT ");
        self.text.push_str(&n.to_string());
        self
    }

    /// Appends an anonymous `?` placeholder for `arg`, which SQLite binds by position in
    /// constant time. Only for SQL that uses no numbered placeholder (see [`bulk_insert`]).
    pub fn bind_anonymous(&mut self, arg: impl Into<SqlArg>) -> &mut Self {
        self.args.push(arg.into());
        self.text.push('?');
        self
    }

    /// Appends another piece of SQL, renumbering its placeholders after this one's.
    pub fn append(&mut self, other: SqlBuf) -> &mut Self {
        let offset = self.args.len();
        let mut text = String::with_capacity(other.text.len());
        let mut chars = other.text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                let mut n = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    n.push(*d);
                    chars.next();
                }
                let n: usize = n.parse().unwrap_or(0);
                text.push('$');
                text.push_str(&(n + offset).to_string());
            } else {
                text.push(c);
            }
        }
        self.text.push_str(&text);
        self.args.extend(other.args);
        self
    }

    /// Appends `(p1, p2, …)` binding every item.
    pub fn bind_list<T: Clone + Into<SqlArg>>(&mut self, items: &[T]) -> &mut Self {
        self.text.push('(');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(item.clone());
        }
        self.text.push(')');
        self
    }

    /// A query ready to run, with every argument bound.
    pub fn query(&self) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(self.text.as_str()));
        for arg in &self.args {
            q = match arg {
                SqlArg::Int(v) => q.bind(*v),
                SqlArg::Text(v) => q.bind(v.as_str()),
                SqlArg::OptInt(v) => q.bind(*v),
                SqlArg::OptText(v) => q.bind(v.as_deref()),
            };
        }
        q
    }

    /// Like [`SqlBuf::query`], decoding rows into `T`.
    pub fn query_as<T>(&self) -> sqlx::query::QueryAs<'_, sqlx::Any, T, sqlx::any::AnyArguments>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        let mut q = sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(self.text.as_str()));
        for arg in &self.args {
            q = match arg {
                SqlArg::Int(v) => q.bind(*v),
                SqlArg::Text(v) => q.bind(v.as_str()),
                SqlArg::OptInt(v) => q.bind(*v),
                SqlArg::OptText(v) => q.bind(v.as_deref()),
            };
        }
        q
    }
}

impl From<Option<i64>> for SqlArg {
    fn from(v: Option<i64>) -> Self {
        SqlArg::OptInt(v)
    }
}

impl From<Option<String>> for SqlArg {
    fn from(v: Option<String>) -> Self {
        SqlArg::OptText(v)
    }
}

/// Inserts many rows with as few statements as the backends' limits on bound values allow.
pub async fn bulk_insert(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<SqlArg>>,
) -> Result<()> {
    // Few large statements: SQLite's full-text indexes flush at every statement, and each
    // statement is a round trip to the database. SQLite gets anonymous `?` placeholders, which
    // it binds in constant time (it looks numbered ones up by name, one by one).
    let sqlite = tx.backend_name().eq_ignore_ascii_case("sqlite");
    let per_statement = (30_000 / columns.len().max(1)).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut sql = SqlBuf::new(format!("INSERT INTO {table} ({}) VALUES ", columns.join(", ")));
        for (i, row) in rows.by_ref().take(per_statement).enumerate() {
            if row.len() != columns.len() {
                return Err(Error::Internal(format!(
                    "a row for {table} has {} values for {} columns",
                    row.len(),
                    columns.len()
                )));
            }
            sql.push(if i == 0 { "(" } else { ", (" });
            for (j, value) in row.into_iter().enumerate() {
                if j > 0 {
                    sql.push(", ");
                }
                if sqlite {
                    sql.bind_anonymous(value)
                } else {
                    sql.bind(value)
                };
            }
            sql.push(")");
        }
        // Not kept prepared: each is large and used once.
        sql.query().persistent(false).execute(&mut **tx).await?;
    }
    Ok(())
}

impl Store {
    /// Reserves `count` fresh ids of `table` for rows about to be inserted in `tx` (bulk loads
    /// that must know ids to link rows). On SQLite the write transaction holds the lock, so the
    /// ids after the largest are free; on PostgreSQL they come from the identity sequence.
    pub async fn reserve_ids(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        table: &str,
        count: usize,
    ) -> Result<Vec<i64>> {
        if count == 0 {
            return Ok(Vec::new());
        }
        match self.backend {
            Backend::Sqlite => {
                let max: i64 =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COALESCE(MAX(id), 0) FROM {table}")))
                        .fetch_one(&mut **tx)
                        .await?;
                Ok((max + 1..=max + count as i64).collect())
            }
            Backend::Postgres => Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, $1)"
            )))
            .bind(count as i64)
            .fetch_all(&mut **tx)
            .await?),
        }
    }
}

impl From<i64> for SqlArg {
    fn from(v: i64) -> Self {
        SqlArg::Int(v)
    }
}

impl From<String> for SqlArg {
    fn from(v: String) -> Self {
        SqlArg::Text(v)
    }
}

impl From<&str> for SqlArg {
    fn from(v: &str) -> Self {
        SqlArg::Text(v.to_owned())
    }
}

/// `\`, `%` and `_` escaped with a backslash: PostgreSQL's default `LIKE` escape, and SQLite's
/// with `ESCAPE '\'`.
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_sql_continues_the_numbering() {
        let mut a = SqlBuf::new("SELECT 1 WHERE x = ");
        a.bind(1).push(" AND y IN (");
        let mut b = SqlBuf::new("SELECT z FROM t WHERE u = ");
        b.bind("u").push(" OR v = ").bind(2).push(" OR w = $ AND price = '$'");
        a.append(b).push(")");
        assert_eq!(
            a.text,
            "SELECT 1 WHERE x = $1 AND y IN (SELECT z FROM t WHERE u = $2 OR v = $3 OR w = $ AND price = '$')"
        );
        assert_eq!(a.args, vec![SqlArg::Int(1), SqlArg::Text("u".into()), SqlArg::Int(2)]);
    }
}
