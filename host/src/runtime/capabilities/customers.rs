//! placeholder
#![allow(unused_variables)]
use crate::runtime::bindings::tessera::plugin::customers::*;
use crate::runtime::sandbox::PluginState;

impl Host for PluginState {
    async fn get(&mut self, id: Id,) -> wasmtime::Result<Result<Customer, Error>> { todo!() }
    async fn query(&mut self, q: CustomerQuery,) -> wasmtime::Result<Result<CustomerPage, Error>> { todo!() }
    async fn find_by_phone(&mut self, number: wasmtime::component::__internal::String,) -> wasmtime::Result<Result<PhoneMatches, Error>> { todo!() }
    async fn create(&mut self, input: Json,) -> wasmtime::Result<Result<Customer, Error>> { todo!() }
    async fn update(&mut self, id: Id, patch: Json,) -> wasmtime::Result<Result<Customer, Error>> { todo!() }
    async fn set_owner(&mut self, id: Id, owner_id: Option<Id>, reason: wasmtime::component::__internal::String,) -> wasmtime::Result<Result<Customer, Error>> { todo!() }
    async fn contacts(&mut self, customer_id: Id,) -> wasmtime::Result<Result<wasmtime::component::__internal::Vec<Contact>, Error>> { todo!() }
    async fn create_contact(&mut self, customer_id: Id, input: Json,) -> wasmtime::Result<Result<Contact, Error>> { todo!() }
    async fn add_activity(&mut self, customer_id: Id, input: Json,) -> wasmtime::Result<Result<Activity, Error>> { todo!() }
}
