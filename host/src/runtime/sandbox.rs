//! What one plugin call runs in: a fresh wasmtime `Store` whose data is a [`PluginState`],
//! holding the call's context (plugin, organisation, caller, grants), a WASI context with
//! nothing in it, the memory limiter, the host-call budget and the call's clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::PluginFault;
use super::manifest::Manifest;
use super::registry::Enabled;
use crate::access::{self, Access, Action, Grants, Principal, Scope};
use crate::store::{Id, Store};

/// Limits every call runs under.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Linear memory a plugin instance may grow to.
    pub memory_bytes: usize,
    /// Time an interactive call (an inbound request, a page, an action) may take.
    pub interactive_deadline: Duration,
    /// Time an event handler or a job may take.
    pub background_deadline: Duration,
    /// Time one host call may take before it answers `unavailable`.
    pub host_call_bound: Duration,
    /// Host calls one invocation may make.
    pub host_call_budget: u32,
    /// Largest body an inbound response or outbound request may carry.
    pub max_body_bytes: usize,
    /// Table elements an instance may have.
    pub table_elements: usize,
    /// Instances, memories and tables one call may create.
    pub instances: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            interactive_deadline: Duration::from_secs(2),
            background_deadline: Duration::from_secs(30),
            host_call_bound: Duration::from_secs(10),
            host_call_budget: 10_000,
            max_body_bytes: 10 << 20,
            table_elements: 100_000,
            instances: 16,
        }
    }
}

/// Refuses memory and table growth past the limits, and remembers the peak and any refusal so
/// that a trap that follows can be explained.
#[derive(Debug)]
pub struct Limiter {
    memory_cap: usize,
    table_cap: usize,
    instances: usize,
    /// The largest memory any instance of this call reached.
    pub peak_memory: usize,
    /// A growth that was refused: (current, desired) bytes.
    pub refused: Option<(usize, usize)>,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            self.refused = Some((current, desired));
            return Ok(false);
        }
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= self.table_cap)
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.instances * 4
    }

    fn memories(&self) -> usize {
        self.instances
    }
}

/// The trap raised when an invocation spends its host-call budget.
#[derive(Debug, thiserror::Error)]
#[error("the plugin made more than {0} host calls in one invocation")]
pub struct BudgetSpent(pub u32);

/// Who a call acts for, and what it may do.
#[derive(Clone)]
pub struct CallContext {
    pub store: Store,
    /// The manifest of the plugin version being called.
    pub plugin: Arc<Manifest>,
    pub enabled: Arc<Enabled>,
    /// The signed-in user the call runs for, with their access; none for events, jobs and
    /// inbound webhooks.
    pub user: Option<Access>,
    pub locale: String,
    /// The browser's address (or an inbound webhook's sender's) for interactive calls.
    pub client_ip: Option<std::net::IpAddr>,
    pub limits: Arc<Limits>,
    pub http: reqwest::Client,
    /// The runtime, for host calls that change the plugin's own state (settings, events).
    pub runtime: std::sync::Weak<super::Runtime>,
    /// Time the call's host calls spent on the host's own work.
    pub host_time: Arc<HostTime>,
}

/// Time a call's host calls spent waiting on the host's own work (the database, mostly). The
/// call's deadline does not count it: a plugin is neither stopped at its deadline nor moved
/// towards its breaker because the host was slow, only because it was.
#[derive(Debug, Default)]
pub struct HostTime(AtomicU64);

impl HostTime {
    pub fn add(&self, spent: Duration) {
        self.0.fetch_add(spent.as_micros().min(u128::from(u64::MAX)) as u64, Ordering::Relaxed);
    }

    pub fn get(&self) -> Duration {
        Duration::from_micros(self.0.load(Ordering::Relaxed))
    }
}

/// When a call started and how long it may run: `deadline` of its own time (wall-clock time
/// less what its host calls spent on the host's work), and never more than `cap` in all.
#[derive(Debug, Clone, Copy)]
pub struct CallClock {
    pub started: Instant,
    pub deadline: Duration,
    pub cap: Duration,
}

impl CallClock {
    /// A clock started now; the cap adds one host-call bound to the deadline, so a call that
    /// waited on a slow host still ends.
    pub fn start(deadline: Duration, limits: &Limits) -> CallClock {
        CallClock { started: Instant::now(), deadline, cap: deadline + limits.host_call_bound }
    }

    /// The call's own time so far.
    pub fn own_time(&self, host: Duration) -> Duration {
        self.started.elapsed().saturating_sub(host)
    }

    /// Asked when the epoch reaches the call's deadline: how much longer it may run, or None
    /// when it must stop (its own time is spent, or it reached the cap).
    pub fn remaining(&self, host: Duration) -> Option<Duration> {
        let wall = self.started.elapsed();
        let own_left = self.deadline.checked_sub(wall.saturating_sub(host))?;
        let cap_left = self.cap.checked_sub(wall)?;
        Some(own_left.min(cap_left)).filter(|left| !left.is_zero())
    }
}

impl CallContext {
    pub fn org_id(&self) -> Id {
        self.enabled.org_id
    }

    /// The WIT `caller` record for this call.
    pub fn caller(&self) -> super::bindings::Caller {
        super::bindings::Caller {
            org_id: self.org_id(),
            user_id: self.user.as_ref().map(|a| a.principal().user_id),
            locale: self.locale.clone(),
        }
    }

    /// The granter: every host call names the capability it needs, and is refused unless the
    /// organisation's admin granted it.
    pub fn require(&self, capability: &str) -> Result<(), PluginFault> {
        if self.enabled.grants.iter().any(|g| g == capability) {
            Ok(())
        } else if self.plugin.requests(capability) {
            Err(PluginFault::Denied(format!(
                "{} was not granted {capability} by this organisation's admin",
                self.plugin.label()
            )))
        } else {
            Err(PluginFault::Denied(format!("{} did not request {capability} in its manifest", self.plugin.label())))
        }
    }

    /// Runs a host call's work within the wall-clock bound; a call that takes longer answers
    /// `unavailable` and its work is dropped. It lives here rather than on [`PluginState`],
    /// which is not `Sync`: a host call's future must be `Send`, so it may hold a reference to
    /// the context across an await, never one to the whole state.
    pub async fn bounded<T>(&self, what: &str, work: impl Future<Output = crate::Result<T>>) -> Result<T, PluginFault> {
        self.bounded_by(self.limits.host_call_bound, what, work).await
    }

    /// Like [`CallContext::bounded`], for a bulk call that may take as long as a background
    /// invocation (a release of every customer a rule reaches). Its transaction is rolled back
    /// when it is cut off.
    pub async fn bounded_bulk<T>(
        &self,
        what: &str,
        work: impl Future<Output = crate::Result<T>>,
    ) -> Result<T, PluginFault> {
        self.bounded_by(self.limits.background_deadline.max(self.limits.host_call_bound), what, work).await
    }

    async fn bounded_by<T>(
        &self,
        bound: std::time::Duration,
        what: &str,
        work: impl Future<Output = crate::Result<T>>,
    ) -> Result<T, PluginFault> {
        let started = Instant::now();
        let outcome = tokio::time::timeout(bound, work).await;
        self.host_time.add(started.elapsed());
        match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(PluginFault::Unavailable(format!("{what} took longer than {} ms", bound.as_millis()))),
        }
    }

    /// The access a host call is checked with: the signed-in user's own (a plugin never sees
    /// more than the person using it), else the plugin's service user with organisation-wide
    /// scope for exactly what its grants allow.
    pub fn access(&self) -> Access {
        if let Some(user) = &self.user {
            return user.clone();
        }
        self.plugin_access()
    }

    /// The plugin's service user with organisation-wide scope for exactly its grants, also
    /// during a signed-in user's call: for the calls that act on the plugin's own authority
    /// (`customers:assign`), which the host logs with the user as the one who acted.
    pub fn plugin_access(&self) -> Access {
        let mut grants = Grants::default();
        let has = |c: &str| self.enabled.grants.iter().any(|g| g == c);
        for module in ["customers", "contacts", "activities"] {
            if has("customers:read") {
                grants.add(module, Action::Read, Scope::All);
            }
            if has("customers:write") {
                grants.add(module, Action::Create, Scope::All);
                grants.add(module, Action::Edit, Scope::All);
            }
            if has("customers:transfer") {
                grants.add(module, Action::Transfer, Scope::All);
            }
        }
        if has("activities:write") {
            grants.add("activities", Action::Create, Scope::All);
            grants.add("activities", Action::Read, Scope::All);
        }
        if has("customers:assign") {
            grants.add("customers", Action::Read, Scope::All);
        }
        let principal = Principal { org_id: self.org_id(), user_id: self.enabled.service_user_id, department_id: None };
        Access::new(principal, grants, access::DepartmentTree::default())
    }
}

/// The data of one call's `Store`.
pub struct PluginState {
    pub ctx: CallContext,
    wasi: WasiCtx,
    table: ResourceTable,
    pub limiter: Limiter,
    pub clock: CallClock,
    host_calls: u32,
    stderr: wasmtime_wasi::p2::pipe::MemoryOutputPipe,
}

/// Bytes of a guest's standard error kept per call.
const STDERR_KEPT: usize = 8 << 10;

impl PluginState {
    pub fn new(ctx: CallContext) -> Self {
        // Nothing ambient: no preopened directories, no environment, no arguments, stdio
        // that goes nowhere, no sockets and no name lookups.
        let stderr = wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(STDERR_KEPT);
        let wasi = wasmtime_wasi::WasiCtx::builder()
            .stderr(stderr.clone())
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .allow_tcp(false)
            .allow_udp(false)
            .build();
        let limits = ctx.limits.clone();
        PluginState {
            ctx,
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter {
                memory_cap: limits.memory_bytes,
                table_cap: limits.table_elements,
                instances: limits.instances,
                peak_memory: 0,
                refused: None,
            },
            clock: CallClock::start(limits.background_deadline, &limits),
            host_calls: 0,
            stderr,
        }
    }

    /// The last line the guest wrote to its standard error (a Rust panic's message), which
    /// the host keeps to explain a trap; stdout goes nowhere.
    pub fn last_error_line(&self) -> Option<String> {
        let bytes = self.stderr.contents();
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        // A Rust panic prints "thread … panicked at file:line:col:", then its message, then a
        // note about backtraces.
        let line = match lines.iter().rposition(|l| l.contains("panicked at")) {
            Some(i) => match lines.get(i + 1) {
                Some(message) => format!(
                    "{message} ({})",
                    lines[i].split("panicked at").nth(1).unwrap_or("").trim_end_matches(':').trim()
                ),
                None => lines[i].to_owned(),
            },
            None => (*lines.iter().rev().find(|l| !l.starts_with("note:"))?).to_owned(),
        };
        Some(line.chars().take(500).collect())
    }

    /// Counts a host call against the invocation's budget; past it, the call traps.
    pub fn enter(&mut self) -> wasmtime::Result<()> {
        self.host_calls += 1;
        if self.host_calls > self.ctx.limits.host_call_budget {
            return Err(wasmtime::Error::new(BudgetSpent(self.ctx.limits.host_call_budget)));
        }
        Ok(())
    }

    /// Runs a host call's work within the wall-clock bound; a call that takes longer answers
    /// `unavailable` and its work is dropped. (See [`CallContext::bounded`].)
    pub fn bounded<'a, T: 'a>(
        &'a self,
        what: &'a str,
        work: impl Future<Output = crate::Result<T>> + 'a,
    ) -> impl Future<Output = Result<T, PluginFault>> + 'a {
        self.ctx.bounded(what, work)
    }

    pub fn host_calls(&self) -> u32 {
        self.host_calls
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock_started(ago: Duration) -> CallClock {
        let limits = Limits::default();
        CallClock { started: Instant::now() - ago, ..CallClock::start(Duration::from_secs(2), &limits) }
    }

    #[test]
    fn time_spent_on_the_host_is_given_back_up_to_the_cap() {
        // 3 s in, 2.5 s of them in host calls: 0.5 s of its own spent, 1.5 s left.
        let left = clock_started(Duration::from_secs(3)).remaining(Duration::from_millis(2_500)).unwrap();
        assert!(left <= Duration::from_millis(1_500) && left > Duration::from_millis(1_400), "{left:?}");
        // The same call with no host time ran past its own 2 s.
        assert_eq!(clock_started(Duration::from_secs(3)).remaining(Duration::ZERO), None);
        // 12.5 s in, nearly all of it on the host: the cap (2 s + the 10 s host-call bound) stops it.
        assert_eq!(clock_started(Duration::from_millis(12_500)).remaining(Duration::from_secs(12)), None);
    }

    #[test]
    fn host_time_adds_up() {
        let time = HostTime::default();
        time.add(Duration::from_millis(40));
        time.add(Duration::from_micros(1_500));
        assert_eq!(time.get(), Duration::from_micros(41_500));
    }
}
