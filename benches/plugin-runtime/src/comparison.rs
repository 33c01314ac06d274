//! The trivial call four ways: a fresh Tessera instance per call through `handle_http`
//! (`/noop` of the benchmark guest), the same with one host call (`/customer/{id}`) beside the
//! same query made natively, the same trivial function through Extism on a kept instance and
//! on a new instance per call, and as a native Rust function.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tessera_host::access::Action;
use tessera_host::runtime::Runtime;
use tessera_host::runtime::bindings::HttpRequest;
use tessera_host::runtime::invoke::Origin;
use tessera_host::runtime::registry::Active;

use crate::setup::Host;
use crate::timing::{Counts, NATIVE_BATCH, Samples};

/// The trivial function, for Extism: a core module whose export returns 0 (Extism's "success").
const NOOP_WAT: &str = r#"(module (func (export "noop") (result i32) i32.const 0))"#;

/// What the calls measured.
pub struct Calls {
    /// (a) `/noop`: a fresh store, instantiation and one call, the plugin acting on its own.
    pub noop: Samples,
    /// (b) The host-call round trip, or why it could not be measured.
    pub host_call: Result<HostCall, String>,
    /// (c) Extism, one plugin instance kept for every call.
    pub extism_kept: Samples,
    /// (c) Extism, a new plugin instance (from the compiled module) for every call.
    pub extism_fresh: Samples,
    pub extism_version: String,
    /// (d) A native Rust call, per call (timed in batches).
    pub native: Samples,
}

/// `/noop`, `/customer/{id}` and the native query, timed in turns so that both sides of the
/// difference see the same machine.
pub struct HostCall {
    pub noop: Samples,
    pub customer: Samples,
    pub native_query: Samples,
}

impl HostCall {
    /// `/customer/{id}` minus `/noop`, at the median.
    pub fn round_trip(&self) -> Duration {
        self.customer.p50().saturating_sub(self.noop.p50())
    }

    /// What the round trip costs above making the query natively, at the median (negative
    /// when the difference is within the noise).
    pub fn overhead_us(&self) -> f64 {
        crate::timing::us(self.round_trip()) - crate::timing::us(self.native_query.p50())
    }
}

pub async fn run(host: &Host, counts: &Counts) -> Result<Calls> {
    let bench = host.active("bench")?;
    eprintln!("  (a) fresh instance + call of /noop, {} calls", counts.fast);
    let noop = tessera_noop(&host.runtime, &bench, counts).await?;
    eprintln!("      p50 {:.1} µs, p99 {:.1} µs", crate::timing::us(noop.p50()), crate::timing::us(noop.p99()));
    eprintln!(
        "  (b) host call round trip: /customer/{{id}}, /noop and the native query in turns, {} rounds",
        counts.slow
    );
    let host_call = host_call(host, &bench, counts).await?;
    match &host_call {
        Ok(h) => eprintln!(
            "      round trip {:.1} µs, native {:.1} µs, overhead {:.1} µs",
            crate::timing::us(h.round_trip()),
            crate::timing::us(h.native_query.p50()),
            h.overhead_us()
        ),
        Err(why) => eprintln!("      not measured: {why}"),
    }
    eprintln!("  (c) Extism: kept instance, {} calls; new instance per call, {} calls", counts.fast, counts.slow);
    let (extism_kept, extism_fresh) = extism(counts)?;
    eprintln!("  (d) native Rust call, {} batches of {NATIVE_BATCH}", counts.native_batches);
    let native = native(counts);
    Ok(Calls {
        noop,
        host_call,
        extism_kept,
        extism_fresh,
        extism_version: extism::extism_version().trim_end_matches('\0').to_owned(),
        native,
    })
}

fn request(path: &str) -> HttpRequest {
    HttpRequest {
        method: "GET".into(),
        path: path.into(),
        query: String::new(),
        headers: Vec::new(),
        body: Vec::new(),
        kind: "api".into(),
    }
}

/// One timed `handle_http` call, the plugin acting on its own; the answer must be a 200.
async fn timed_call(runtime: &Runtime, active: &Arc<Active>, request: HttpRequest) -> Result<Duration> {
    let started = Instant::now();
    let result = runtime.handle_http(active, None, &Origin::new("zh-CN", None), request).await;
    let elapsed = started.elapsed();
    let (response, _) = result.map_err(|f| anyhow::anyhow!("{}", f.message))?;
    if response.status != 200 {
        bail!("the benchmark guest answered {}: {}", response.status, String::from_utf8_lossy(&response.body));
    }
    Ok(elapsed)
}

async fn tessera_noop(runtime: &Runtime, bench: &Arc<Active>, counts: &Counts) -> Result<Samples> {
    let noop = request("/noop");
    for _ in 0..counts.warm_up {
        timed_call(runtime, bench, noop.clone()).await?;
    }
    let mut samples = Vec::with_capacity(counts.fast);
    for _ in 0..counts.fast {
        samples.push(timed_call(runtime, bench, noop.clone()).await?);
    }
    Ok(Samples::new(samples))
}

/// Whether `customers.get` answers through the runtime. It runs on a task of its own, so that
/// a host capability that panics (one not written yet) is reported rather than fatal.
async fn host_call_works(host: &Host, bench: &Arc<Active>) -> Result<(), String> {
    let (runtime, active) = (host.runtime.clone(), bench.clone());
    let path = format!("/customer/{}", host.customer_id);
    let call =
        tokio::spawn(
            async move { runtime.handle_http(&active, None, &Origin::new("zh-CN", None), request(&path)).await },
        );
    match call.await {
        Err(e) if e.is_panic() => Err("the host's customers.get panicked (is the capability implemented?)".into()),
        Err(e) => Err(format!("the call did not finish: {e}")),
        Ok(Err(failure)) => Err(failure.message),
        Ok(Ok((response, _))) if response.status == 200 && response.body == host.customer_id.to_string().as_bytes() => {
            Ok(())
        }
        Ok(Ok((response, _))) => {
            Err(format!("the guest answered {}: {}", response.status, String::from_utf8_lossy(&response.body)))
        }
    }
}

async fn host_call(host: &Host, bench: &Arc<Active>, counts: &Counts) -> Result<Result<HostCall, String>> {
    if let Err(why) = host_call_works(host, bench).await {
        return Ok(Err(why));
    }
    let noop = request("/noop");
    let customer = request(&format!("/customer/{}", host.customer_id));
    let native_query = async || -> Result<Duration> {
        let started = Instant::now();
        let found =
            tessera_host::customers::get(&host.store, &host.plugin_access, host.customer_id, Action::Read).await;
        let elapsed = started.elapsed();
        found.context("the native query failed")?;
        Ok(elapsed)
    };
    for _ in 0..counts.warm_up {
        timed_call(&host.runtime, bench, noop.clone()).await?;
        timed_call(&host.runtime, bench, customer.clone()).await?;
        native_query().await?;
    }
    let (mut noops, mut customers, mut natives) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..counts.slow {
        noops.push(timed_call(&host.runtime, bench, noop.clone()).await?);
        customers.push(timed_call(&host.runtime, bench, customer.clone()).await?);
        natives.push(native_query().await?);
    }
    Ok(Ok(HostCall {
        noop: Samples::new(noops),
        customer: Samples::new(customers),
        native_query: Samples::new(natives),
    }))
}

fn extism(counts: &Counts) -> Result<(Samples, Samples)> {
    let compiled =
        extism::CompiledPlugin::new(extism::PluginBuilder::new(NOOP_WAT).with_wasi(false).with_cache_disabled())
            .context("Extism cannot load the module")?;

    let mut kept = extism::Plugin::new_from_compiled(&compiled)?;
    for _ in 0..counts.warm_up {
        let _: &[u8] = kept.call("noop", "")?;
    }
    let mut samples = Vec::with_capacity(counts.fast);
    for _ in 0..counts.fast {
        let started = Instant::now();
        let _: &[u8] = kept.call("noop", "")?;
        samples.push(started.elapsed());
    }
    let kept_samples = Samples::new(samples);

    // The compiled module is reused, as Tessera reuses its linked component: each call pays
    // for a new store, linker and instance, then drops them, as a Tessera call does.
    let fresh_call = || -> Result<Duration> {
        let started = Instant::now();
        let mut plugin = extism::Plugin::new_from_compiled(&compiled)?;
        let _: &[u8] = plugin.call("noop", "")?;
        drop(plugin);
        Ok(started.elapsed())
    };
    for _ in 0..counts.warm_up.min(counts.slow) {
        fresh_call()?;
    }
    let mut samples = Vec::with_capacity(counts.slow);
    for _ in 0..counts.slow {
        samples.push(fresh_call()?);
    }
    Ok((kept_samples, Samples::new(samples)))
}

#[inline(never)]
fn native_noop() -> i32 {
    0
}

fn native(counts: &Counts) -> Samples {
    // Through a pointer the optimiser cannot see through, so every call is made.
    let noop = std::hint::black_box(native_noop as fn() -> i32);
    let batch = || {
        let started = Instant::now();
        for _ in 0..NATIVE_BATCH {
            std::hint::black_box(noop());
        }
        started.elapsed() / NATIVE_BATCH
    };
    for _ in 0..counts.warm_up {
        batch();
    }
    Samples::new((0..counts.native_batches).map(|_| batch()).collect())
}
