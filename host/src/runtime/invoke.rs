//! Calling a plugin: a fresh `Store` from the pool for every call, the deadline set on the
//! epoch, the memory limiter and host-call budget in place; afterwards the outcome is
//! classified into an error that names the plugin and version, and fed to the breaker.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use wasmtime::Trap;

use super::Runtime;
use super::bindings::{Event, HttpRequest, HttpResponse, Outcome, Page, Plugin, PluginFault, RenderRequest};
use super::engine::EPOCH_TICK;
use super::registry::Active;
use super::sandbox::{BudgetSpent, CallClock, CallContext, PluginState};
use crate::access::Access;

/// Why a plugin call did not produce an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The call ran past its deadline and was stopped.
    Deadline,
    /// The plugin tried to grow its memory past the cap and trapped.
    MemoryCap,
    /// The plugin spent its host-call budget.
    Budget,
    /// The plugin trapped (a panic, a stack overflow, …).
    Trap,
    /// The plugin answered with more than the host accepts.
    TooLarge,
    /// No instance slot was free, or the engine is unavailable.
    Busy,
    /// The plugin returned an error of the API (denied, not found, invalid, …).
    Fault,
}

/// A failed call, naming the plugin and version.
#[derive(Debug, Clone)]
pub struct CallFailure {
    pub plugin: String,
    pub kind: FailureKind,
    pub message: String,
    /// Set for [`FailureKind::Fault`].
    pub fault: Option<PluginFault>,
    /// How long the call ran.
    pub elapsed: Duration,
    /// The largest memory the call's instance reached.
    pub peak_memory: usize,
}

impl std::fmt::Display for CallFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl CallFailure {
    /// Whether the failure counts against the plugin in the circuit breaker: a bug or an
    /// overrun does; an API error it returned on purpose, or a busy host, does not.
    pub fn counts(&self) -> bool {
        !matches!(self.kind, FailureKind::Fault | FailureKind::Busy)
    }
}

/// What a successful call measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallStats {
    pub elapsed: Duration,
    pub peak_memory: usize,
    pub host_calls: u32,
}

/// Where a call comes from: the language to answer in, and the address of the browser (or of
/// an inbound webhook's sender) that caused it.
#[derive(Debug, Clone)]
pub struct Origin {
    /// `zh-CN` or `en`.
    pub locale: String,
    pub client_ip: Option<IpAddr>,
}

impl Origin {
    pub fn new(locale: impl Into<String>, client_ip: Option<IpAddr>) -> Origin {
        Origin { locale: locale.into(), client_ip }
    }

    /// A call no browser made (an event, a job, a device driver's report), answered in the
    /// host's default language.
    pub fn background() -> Origin {
        Origin::new("zh-CN", None)
    }
}

/// How long a call may run.
#[derive(Debug, Clone, Copy)]
pub enum Urgency {
    /// A person waits: an inbound request, a page, an action.
    Interactive,
    /// An event or a job.
    Background,
}

impl Runtime {
    fn new_store(
        &self,
        active: &Active,
        user: Option<Access>,
        origin: &Origin,
        urgency: Urgency,
    ) -> wasmtime::Store<PluginState> {
        let ctx = CallContext {
            store: self.registry.store().clone(),
            plugin: active.loaded.manifest.clone(),
            enabled: active.enabled.clone(),
            user,
            locale: origin.locale.clone(),
            client_ip: origin.client_ip,
            limits: self.limits.clone(),
            http: self.http.clone(),
            runtime: self.weak.clone(),
            host_time: Default::default(),
        };
        let deadline = match urgency {
            Urgency::Interactive => self.limits.interactive_deadline,
            Urgency::Background => self.limits.background_deadline,
        };
        let engine = active.loaded.pre.engine();
        let mut state = PluginState::new(ctx);
        state.clock = CallClock::start(deadline, &self.limits);
        let mut store = wasmtime::Store::new(engine, state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(ticks(deadline));
        // At the deadline, the time the call's host calls spent on the host's work is given
        // back (the guest yields to the executor meanwhile); its own time spent, or the cap
        // reached, it is stopped with `Trap::Interrupt`.
        store.epoch_deadline_callback(|store| {
            let state = store.data();
            Ok(match state.clock.remaining(state.ctx.host_time.get()) {
                Some(left) => wasmtime::UpdateDeadline::Yield(ticks(left)),
                None => wasmtime::UpdateDeadline::Interrupt,
            })
        });
        store
    }

    /// Instantiates the plugin in a fresh store and runs `call` on it.
    async fn call<R, F>(
        &self,
        active: &Arc<Active>,
        user: Option<Access>,
        origin: &Origin,
        urgency: Urgency,
        call: F,
    ) -> Result<(R, CallStats), CallFailure>
    where
        F: for<'a> FnOnce(
            &'a mut wasmtime::Store<PluginState>,
            &'a Plugin,
        ) -> std::pin::Pin<Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'a>>,
    {
        let label = active.loaded.label();
        let started = Instant::now();
        let mut store = self.new_store(active, user, origin, urgency);
        let outcome = match active.loaded.pre.instantiate_async(&mut store).await {
            Ok(instance) => call(&mut store, &instance).await,
            Err(e) => Err(e),
        };
        let elapsed = started.elapsed();
        let peak_memory = store.data().limiter.peak_memory;
        let result = match outcome {
            Ok(r) => Ok((r, CallStats { elapsed, peak_memory, host_calls: store.data().host_calls() })),
            Err(e) => Err(classify(&label, e, store.data(), elapsed)),
        };
        self.breaker.record(self, active, result.as_ref().err()).await;
        result
    }

    /// Serves an inbound request (`/api/plugins/<id>/…` or `/hooks/<id>/<org>/…`).
    pub async fn handle_http(
        &self,
        active: &Arc<Active>,
        user: Option<Access>,
        origin: &Origin,
        request: HttpRequest,
    ) -> Result<(HttpResponse, CallStats), CallFailure> {
        let caller = self.caller(active, user.as_ref(), &origin.locale);
        let max = self.limits.max_body_bytes;
        let label = active.loaded.label();
        let (response, stats) = self
            .call(active, user, origin, Urgency::Interactive, move |store, plugin| {
                Box::pin(async move { plugin.tessera_plugin_guest().call_handle_http(store, &caller, &request).await })
            })
            .await?;
        if response.body.len() > max {
            return Err(CallFailure {
                plugin: label.clone(),
                kind: FailureKind::TooLarge,
                message: format!("{label} answered with {} bytes; the limit is {max}", response.body.len()),
                fault: None,
                elapsed: stats.elapsed,
                peak_memory: stats.peak_memory,
            });
        }
        Ok((response, stats))
    }

    /// Delivers an event.
    pub async fn on_event(&self, active: &Arc<Active>, event: Event) -> Result<CallStats, CallFailure> {
        let origin = Origin::background();
        let caller = self.caller(active, None, &origin.locale);
        let label = active.loaded.label();
        let (result, stats) = self
            .call(active, None, &origin, Urgency::Background, move |store, plugin| {
                Box::pin(async move { plugin.tessera_plugin_guest().call_on_event(store, &caller, &event).await })
            })
            .await?;
        result.map_err(|fault| fault_failure(&label, fault, stats))?;
        Ok(stats)
    }

    /// Runs a scheduled job.
    pub async fn run_job(&self, active: &Arc<Active>, job: &str) -> Result<CallStats, CallFailure> {
        let origin = Origin::background();
        let caller = self.caller(active, None, &origin.locale);
        let label = active.loaded.label();
        let job = job.to_owned();
        let (result, stats) = self
            .call(active, None, &origin, Urgency::Background, move |store, plugin| {
                Box::pin(async move { plugin.tessera_plugin_guest().call_run_job(store, &caller, &job).await })
            })
            .await?;
        result.map_err(|fault| fault_failure(&label, fault, stats))?;
        Ok(stats)
    }

    /// Renders a page, customer panel or widget for a user.
    pub async fn render(
        &self,
        active: &Arc<Active>,
        user: Access,
        origin: &Origin,
        request: RenderRequest,
    ) -> Result<Page, CallFailure> {
        let label = active.loaded.label();
        admins_only(active, &user, &request.target, &label)?;
        let caller = self.caller(active, Some(&user), &origin.locale);
        let (result, stats) = self
            .call(active, Some(user), origin, Urgency::Interactive, move |store, plugin| {
                Box::pin(async move { plugin.tessera_plugin_guest().call_render(store, &caller, &request).await })
            })
            .await?;
        result.map_err(|fault| fault_failure(&label, fault, stats))
    }

    /// Performs a page action for a user.
    #[allow(clippy::too_many_arguments)]
    pub async fn act(
        &self,
        active: &Arc<Active>,
        user: Access,
        origin: &Origin,
        target: String,
        action: String,
        argument: Option<String>,
        input: String,
    ) -> Result<Outcome, CallFailure> {
        let label = active.loaded.label();
        admins_only(active, &user, &target, &label)?;
        let caller = self.caller(active, Some(&user), &origin.locale);
        let (result, stats) = self
            .call(active, Some(user), origin, Urgency::Interactive, move |store, plugin| {
                Box::pin(async move {
                    plugin
                        .tessera_plugin_guest()
                        .call_act(store, &caller, &target, &action, argument.as_deref(), &input)
                        .await
                })
            })
            .await?;
        result.map_err(|fault| fault_failure(&label, fault, stats))
    }

    fn caller(&self, active: &Active, user: Option<&Access>, locale: &str) -> super::bindings::Caller {
        super::bindings::Caller {
            org_id: active.enabled.org_id,
            user_id: user.map(|a| a.principal().user_id),
            locale: locale.to_owned(),
        }
    }
}

/// Refuses a page the manifest keeps for administrators to anyone else, before the plugin runs.
fn admins_only(active: &Active, user: &Access, target: &str, label: &str) -> Result<(), CallFailure> {
    if !active.loaded.manifest.shows(target, user.is_admin()) {
        let fault = PluginFault::Denied(format!("{target} is for the organisation's administrators"));
        return Err(fault_failure(label, fault, CallStats::default()));
    }
    Ok(())
}

fn fault_failure(label: &str, fault: PluginFault, stats: CallStats) -> CallFailure {
    CallFailure {
        plugin: label.to_owned(),
        kind: FailureKind::Fault,
        message: format!("{label}: {fault}"),
        fault: Some(fault),
        elapsed: stats.elapsed,
        peak_memory: stats.peak_memory,
    }
}

/// Epoch ticks in a span of time, at least one.
fn ticks(span: Duration) -> u64 {
    (span.as_micros() / EPOCH_TICK.as_micros().max(1)).max(1) as u64
}

/// Turns a trap or instantiation error into a failure that says what happened.
fn classify(label: &str, err: wasmtime::Error, state: &PluginState, elapsed: Duration) -> CallFailure {
    let deadline = state.clock.deadline;
    let peak_memory = state.limiter.peak_memory;
    let (kind, message) = if let Some(spent) = err.downcast_ref::<BudgetSpent>() {
        (FailureKind::Budget, format!("{label} was stopped: {spent}"))
    } else if let Some(trap) = err.downcast_ref::<Trap>() {
        match trap {
            Trap::Interrupt => {
                let host = state.ctx.host_time.get();
                if state.clock.own_time(host) >= deadline {
                    (
                        FailureKind::Deadline,
                        format!(
                            "{label} was stopped after {} ms: it ran past its {} ms deadline",
                            elapsed.as_millis(),
                            deadline.as_millis()
                        ),
                    )
                } else {
                    // The host's own work took the time: the host is overloaded, the plugin
                    // is not at fault.
                    (
                        FailureKind::Busy,
                        format!(
                            "{label} was stopped after {} ms, {} ms of them waiting on a busy host",
                            elapsed.as_millis(),
                            host.as_millis()
                        ),
                    )
                }
            }
            Trap::StackOverflow => (FailureKind::Trap, format!("{label} overflowed its stack and was stopped")),
            _ if state.limiter.refused.is_some() => {
                let (current, desired) = state.limiter.refused.unwrap_or_default();
                (
                    FailureKind::MemoryCap,
                    format!(
                        "{label} tried to grow its memory from {} MiB to {} MiB, past the cap of {} MiB, and was stopped",
                        current >> 20,
                        desired >> 20,
                        state.ctx.limits.memory_bytes >> 20
                    ),
                )
            }
            Trap::MemoryOutOfBounds => (
                FailureKind::Trap,
                format!(
                    "{label} accessed memory out of bounds (a bad pointer, or its own stack overflowed) and was stopped"
                ),
            ),
            Trap::UnreachableCodeReached => match state.last_error_line() {
                Some(line) => (FailureKind::Trap, format!("{label} panicked and was stopped: {line}")),
                None => {
                    (FailureKind::Trap, format!("{label} reached unreachable code and was stopped: {}", root(&err)))
                }
            },
            other => (FailureKind::Trap, format!("{label} trapped: {other}")),
        }
    } else if state.limiter.refused.is_some() {
        (
            FailureKind::MemoryCap,
            format!("{label} ran out of memory under its cap of {} MiB", state.ctx.limits.memory_bytes >> 20),
        )
    } else {
        let text = format!("{err:#}");
        if text.contains("maximum concurrent") || text.contains("pooling") {
            (FailureKind::Busy, format!("{label} could not start: every plugin instance slot is in use"))
        } else {
            (FailureKind::Trap, format!("{label} failed: {text}"))
        }
    };
    if kind != FailureKind::Busy {
        tracing::warn!(plugin = %label, ?kind, elapsed_ms = elapsed.as_millis() as u64, "{message}");
    }
    CallFailure { plugin: label.to_owned(), kind, message, fault: None, elapsed, peak_memory }
}

fn root(err: &wasmtime::Error) -> String {
    let text = format!("{err:#}");
    text.lines().next().unwrap_or_default().chars().take(500).collect()
}
