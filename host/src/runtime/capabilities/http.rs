//! placeholder
#![allow(unused_variables)]
use crate::runtime::bindings::tessera::plugin::http_client::*;
use crate::runtime::sandbox::PluginState;

impl Host for PluginState {
    async fn send(&mut self, req: Request,) -> wasmtime::Result<Result<Response, Error>> { todo!() }
}
