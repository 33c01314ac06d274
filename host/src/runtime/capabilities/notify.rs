//! placeholder
#![allow(unused_variables)]
use crate::runtime::bindings::tessera::plugin::notify::*;
use crate::runtime::sandbox::PluginState;

impl Host for PluginState {
    async fn push(&mut self, user_ids: wasmtime::component::__internal::Vec<Id>, message: Message,) -> wasmtime::Result<Result<u32, Error>> { todo!() }
}
