//! placeholder
#![allow(unused_variables)]
use crate::runtime::bindings::tessera::plugin::workflow::*;
use crate::runtime::sandbox::PluginState;

impl Host for PluginState {
    async fn start(&mut self, definition: wasmtime::component::__internal::String, subject_kind: wasmtime::component::__internal::String, subject_id: Id, title: wasmtime::component::__internal::String, fields: Json, submitter: Option<Id>,) -> wasmtime::Result<Result<Approval, Error>> { todo!() }
    async fn get(&mut self, id: Id,) -> wasmtime::Result<Result<Approval, Error>> { todo!() }
}
