//! Starting the host: open and migrate the database, create the first organisation on an
//! empty one, and serve HTTP until told to stop.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::error::{Error, Result};
use crate::org::{self, FirstStart};
use crate::store::Store;
use crate::web::{self, AppState, WebConfig};

/// How to start.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub database_url: String,
    pub web: WebConfig,
    /// Short name and name of the organisation made on first start.
    pub first_org_slug: String,
    pub first_org_name: String,
    /// The first administrator's password (else one is generated and printed once).
    pub admin_password: Option<String>,
    /// Fill a new organisation with demo departments and users.
    pub demo: bool,
    /// How events are delivered to webhooks (retry schedule, concurrency).
    pub dispatch: crate::events::DispatchConfig,
    /// The SMTP relay notification email goes out through; without one no mail is sent.
    pub mail: Option<crate::notifications::mail::MailConfig>,
    /// The plugin runtime: limits, the watched plugin directory.
    pub plugins: crate::runtime::RuntimeConfig,
}

/// How often an idle search indexer looks for queued records.
const INDEXER_IDLE: std::time::Duration = std::time::Duration::from_millis(100);

/// How often the planner's statistics are refreshed.
const STATISTICS_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// A host that is listening.
pub struct Running {
    pub addr: SocketAddr,
    pub first_start: Option<FirstStart>,
    pub state: AppState,
    dispatch: crate::events::DispatchConfig,
    mail: Option<crate::notifications::mail::MailConfig>,
    demo: bool,
    listener: TcpListener,
}

/// Opens the database, migrates it, bootstraps the first organisation and binds the socket.
pub async fn prepare(opts: &ServeOptions) -> Result<Running> {
    let store = Store::connect(&opts.database_url).await?;
    store.migrate().await?;
    crate::customers::options::seed_missing(&store).await?;
    crate::customers::backfill_phone_digits(&store).await?;
    if store.backend() == crate::store::Backend::Sqlite {
        // PostgreSQL's autovacuum keeps its statistics; SQLite's are kept by the host.
        store.refresh_statistics().await?;
    }
    let state = AppState::with_plugins(store, opts.web.clone(), opts.plugins.clone());
    let first_start = org::bootstrap(
        &state.store,
        &state.hasher,
        &opts.first_org_slug,
        &opts.first_org_name,
        opts.admin_password.clone(),
    )
    .await?;
    if let (Some(first), true) = (&first_start, opts.demo) {
        crate::demo::seed_people(&state, first.org.id, &first.admin_password).await?;
        crate::demo::seed_customers(&state, first.org.id, 300, 2026).await?;
    }
    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|e| Error::Config(format!("cannot listen on {}: {e}", opts.listen)))?;
    let addr = listener.local_addr().map_err(|e| Error::Config(e.to_string()))?;
    Ok(Running {
        addr,
        first_start,
        state,
        dispatch: opts.dispatch.clone(),
        mail: opts.mail.clone(),
        demo: opts.demo,
        listener,
    })
}

impl Running {
    /// Serves until `shutdown` resolves, then finishes the requests in flight.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Result<()> {
        let app = web::router(self.state.clone());
        let indexer = crate::customers::search::spawn_indexer(self.state.store.clone(), INDEXER_IDLE);
        let statistics = (self.state.store.backend() == crate::store::Backend::Sqlite)
            .then(|| spawn_statistics(self.state.store.clone()));
        let mut tasks = crate::events::spawn_dispatcher(self.state.store.clone(), self.dispatch.clone())?;
        tasks.push(
            crate::scheduler::Scheduler::new(self.state.store.clone(), crate::notifications::jobs::builtin()?).spawn(),
        );
        tasks.extend(self.state.plugins.start().await?);
        if let (Some(first), true) = (&self.first_start, self.demo) {
            // The demo organisation runs every plugin the host has, with what each requests.
            self.state.plugins.enable_all(first.org.id).await?;
        }
        if let Some(mail) = self.mail.clone() {
            tasks.push(crate::notifications::mail::spawn_mailer(self.state.store.clone(), mail)?);
        }
        tracing::info!(addr = %self.addr, "listening");
        let served = axum::serve(self.listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| Error::Internal(format!("server failed: {e}")));
        // A batch cut short rolls back; its records stay queued for the next start.
        indexer.abort();
        if let Some(statistics) = statistics {
            statistics.abort();
        }
        // Deliveries, job runs and mail cut short stay leased for a while, then are taken
        // up again.
        for task in tasks {
            task.abort();
        }
        served?;
        self.state.store.close().await;
        Ok(())
    }
}

/// Keeps the planner's statistics current as tables grow (see [`Store::refresh_statistics`]).
fn spawn_statistics(store: Store) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(STATISTICS_EVERY);
        every.tick().await;
        loop {
            every.tick().await;
            if let Err(e) = store.refresh_statistics().await {
                tracing::warn!(error = %e, "cannot refresh the planner's statistics");
            }
        }
    })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
