//! Placeholder until the entity tables land.
use super::manifest::Entity;
use crate::error::Result;
use crate::store::{Id, Store};
pub async fn migrate(_store: &Store, _plugin_id: &str, _entities: &[Entity]) -> Result<()> { Ok(()) }
pub async fn delete_org_data(_store: &Store, _plugin_id: &str, _org_id: Id) -> Result<()> { Ok(()) }
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TimelineItem { pub plugin_id: String, pub entity: String, pub id: Id, pub title: String, pub created_at: i64, pub owner_id: Option<Id> }
pub async fn timeline(_store: &Store, _access: &crate::access::Access, _customer_id: Id, _sources: &[(&str, &Entity)], _limit: u32) -> Result<Vec<TimelineItem>> { Ok(vec![]) }
