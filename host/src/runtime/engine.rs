//! The one wasmtime `Engine` of the process and its `Linker`: the pooling allocator with
//! copy-on-write memory images, epoch interruption ticking every millisecond, wasmtime's
//! on-disk cache of compiled code, WASI with nothing behind it, and the plugin API.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings::Plugin;
use super::sandbox::PluginState;
use crate::error::{Error, Result};

/// How often the epoch advances: the resolution of call deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// The largest memory cap an operator may set; the pool reserves slots this big.
pub const MAX_MEMORY_CAP: usize = 256 << 20;

/// Plugin instances that may be alive at once across the process.
const POOL_INSTANCES: u32 = 256;

/// The engine and the linker every plugin is linked with.
pub struct PluginEngine {
    pub engine: Engine,
    pub linker: Arc<Linker<PluginState>>,
}

static SHARED: OnceLock<std::result::Result<PluginEngine, String>> = OnceLock::new();

/// The process's engine, made on first use.
pub fn shared() -> Result<&'static PluginEngine> {
    SHARED
        .get_or_init(|| build().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| Error::Config(format!("the plugin engine could not start: {e}")))
}

fn build() -> wasmtime::Result<PluginEngine> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    config.max_wasm_stack(512 << 10);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOL_INSTANCES)
        .total_core_instances(POOL_INSTANCES * 8)
        .total_memories(POOL_INSTANCES * 2)
        .total_tables(POOL_INSTANCES * 8)
        .total_stacks(POOL_INSTANCES)
        .max_memory_size(MAX_MEMORY_CAP)
        .max_core_instances_per_component(32)
        .max_memories_per_component(4)
        .max_tables_per_component(16)
        .max_component_instance_size(1 << 20);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    // Compiled code survives restarts in wasmtime's cache directory, keyed by a hash of the
    // code and the engine's settings; a restart with the same plugins compiles nothing.
    match Cache::new(CacheConfig::new()) {
        Ok(cache) => {
            config.cache(Some(cache));
        }
        Err(e) => tracing::warn!(error = %e, "compiled plugin code will not be cached on disk"),
    }
    let engine = Engine::new(&config)?;
    let ticker = engine.clone();
    std::thread::Builder::new().name("plugin-epoch".into()).spawn(move || {
        loop {
            std::thread::sleep(EPOCH_TICK);
            ticker.increment_epoch();
        }
    })?;
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    Plugin::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut linker, |state| state)?;
    Ok(PluginEngine { engine, linker: Arc::new(linker) })
}

impl PluginEngine {
    /// Compiles a component on a blocking thread, so the async executor keeps serving.
    pub async fn compile(&'static self, label: String, bytes: Vec<u8>) -> Result<Component> {
        tokio::task::spawn_blocking(move || {
            Component::new(&self.engine, &bytes).map_err(|e| Error::Invalid {
                field: Some("package"),
                message: format!("{label} does not compile: {e:#}"),
            })
        })
        .await
        .map_err(|e| Error::Internal(format!("compilation stopped: {e}")))?
    }

    /// Links a compiled component once; every call then only instantiates.
    pub fn link(&self, label: &str, component: &Component) -> Result<super::bindings::PluginPre<PluginState>> {
        let pre = self.linker.instantiate_pre(component).map_err(|e| Error::Invalid {
            field: Some("package"),
            message: format!("{label} cannot be linked: {e:#}"),
        })?;
        super::bindings::PluginPre::new(pre).map_err(|e| Error::Invalid {
            field: Some("package"),
            message: format!("{label} does not export the plugin API: {e:#}"),
        })
    }
}
