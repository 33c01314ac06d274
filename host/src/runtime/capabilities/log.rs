//! `log`: lines from a plugin in the host's log, tagged with the plugin, version and
//! organisation. Needs no grant; a line is cut at 4 KiB.

use crate::runtime::bindings::tessera::plugin::log::{Host, Level};
use crate::runtime::sandbox::PluginState;

/// Longest line kept.
const MAX_LINE: usize = 4096;

impl Host for PluginState {
    async fn write(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.enter()?;
        let mut message = message;
        if message.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let plugin = self.ctx.plugin.label();
        let org_id = self.ctx.org_id();
        match level {
            Level::Trace => tracing::trace!(target: "plugin", %plugin, org_id, "{message}"),
            Level::Debug => tracing::debug!(target: "plugin", %plugin, org_id, "{message}"),
            Level::Info => tracing::info!(target: "plugin", %plugin, org_id, "{message}"),
            Level::Warn => tracing::warn!(target: "plugin", %plugin, org_id, "{message}"),
            Level::Error => tracing::error!(target: "plugin", %plugin, org_id, "{message}"),
        }
        Ok(())
    }
}
