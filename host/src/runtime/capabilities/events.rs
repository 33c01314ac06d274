//! placeholder
#![allow(unused_variables)]
use crate::runtime::bindings::tessera::plugin::events::*;
use crate::runtime::sandbox::PluginState;

impl Host for PluginState {
    async fn publish(&mut self, name: wasmtime::component::__internal::String, subject_kind: wasmtime::component::__internal::String, subject_id: Id, payload: Json,) -> wasmtime::Result<Result<(), Error>> { todo!() }
}
