//! placeholder
#![allow(unused_variables)]
use crate::runtime::bindings::tessera::plugin::settings::*;
use crate::runtime::sandbox::PluginState;

impl Host for PluginState {
    async fn get(&mut self, key: wasmtime::component::__internal::String,) -> wasmtime::Result<Option<Json>> { todo!() }
    async fn all(&mut self) -> wasmtime::Result<Json> { todo!() }
    async fn set(&mut self, key: wasmtime::component::__internal::String, value: Json,) -> wasmtime::Result<Result<(), Error>> { todo!() }
}
