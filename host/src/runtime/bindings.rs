//! The host side of the plugin API, generated once from `wit/` (the single source of truth).
//! Everything else in the runtime imports the WIT types from here.

// wasmtime's generated export wrappers call `TypedFunc::new_unchecked` after checking the
// component's types at instantiation; that is the only `unsafe` the host allows.
#[allow(unsafe_code)]
mod generated {
    wasmtime::component::bindgen!({
    path: "../wit",
    world: "tessera:plugin/plugin",
    // Host calls reach the database and the network, so they are async; any of them may trap
    // the guest (a spent host-call budget), so they return `wasmtime::Result`.
    imports: { default: async | trappable },
        exports: { default: async },
    });
}

pub use generated::*;

pub use exports::tessera::plugin::guest::{HttpRequest, HttpResponse};
pub use tessera::plugin::events::Event;
pub use tessera::plugin::types::{Caller, Error as PluginFault};
pub use tessera::plugin::ui::{Outcome, Page, RenderRequest};

impl From<crate::error::Error> for PluginFault {
    /// How a host error reaches a plugin: the same distinctions the REST API makes, with
    /// internal details kept in the host's log.
    fn from(err: crate::error::Error) -> Self {
        use crate::error::Error as E;
        match err {
            E::Unauthenticated(m) | E::Forbidden(m) => PluginFault::Denied(m),
            E::NotFound(what) => PluginFault::NotFound(format!("{what} not found")),
            e @ E::Invalid { .. } => PluginFault::Invalid(e.to_string()),
            E::Conflict(m) => PluginFault::Conflict(m),
            E::Throttled { message, .. } => PluginFault::Limited(message),
            e => {
                tracing::warn!(error = %e, "host call failed");
                PluginFault::Internal("the host could not complete the call; it is logged".into())
            }
        }
    }
}

impl PluginFault {
    /// The variant's name, as the WIT spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            PluginFault::Denied(_) => "denied",
            PluginFault::NotFound(_) => "not-found",
            PluginFault::Invalid(_) => "invalid",
            PluginFault::Conflict(_) => "conflict",
            PluginFault::Limited(_) => "limited",
            PluginFault::Unavailable(_) => "unavailable",
            PluginFault::Internal(_) => "internal",
        }
    }
}
