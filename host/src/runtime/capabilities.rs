//! The host capabilities offered to plugins, one module each with the same shape: the WIT
//! `Host` impl for [`PluginState`](super::sandbox::PluginState), its grant check through the
//! granter, and its tests. This module only lists them.

mod assigning;
pub mod context;
pub mod customers;
pub mod directory;
pub mod events;
pub mod files;
pub mod http;
pub mod log;
pub mod notify;
pub mod records;
pub mod settings;
#[cfg(test)]
pub(crate) mod testing;
pub mod workflow;

impl super::bindings::tessera::plugin::types::Host for super::sandbox::PluginState {}
impl super::bindings::tessera::plugin::ui::Host for super::sandbox::PluginState {}
