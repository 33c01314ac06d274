//! placeholder
#![allow(unused_variables)]
use crate::runtime::bindings::tessera::plugin::records::*;
use crate::runtime::sandbox::PluginState;

impl Host for PluginState {
    async fn insert(&mut self, entity: wasmtime::component::__internal::String, fields: Json, customer_id: Option<Id>,) -> wasmtime::Result<Result<Record, Error>> { todo!() }
    async fn get(&mut self, entity: wasmtime::component::__internal::String, id: Id,) -> wasmtime::Result<Result<Record, Error>> { todo!() }
    async fn update(&mut self, entity: wasmtime::component::__internal::String, id: Id, fields: Json, expected_version: Option<i64>,) -> wasmtime::Result<Result<Record, Error>> { todo!() }
    async fn delete(&mut self, entity: wasmtime::component::__internal::String, id: Id,) -> wasmtime::Result<Result<(), Error>> { todo!() }
    async fn find(&mut self, q: Query,) -> wasmtime::Result<Result<Page, Error>> { todo!() }
}
