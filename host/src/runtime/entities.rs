//! Placeholder until the entity tables land.
use super::manifest::Entity;
use crate::error::Result;
use crate::store::{Id, Store};
pub async fn migrate(_store: &Store, _plugin_id: &str, _entities: &[Entity]) -> Result<()> { Ok(()) }
pub async fn delete_org_data(_store: &Store, _plugin_id: &str, _org_id: Id) -> Result<()> { Ok(()) }
