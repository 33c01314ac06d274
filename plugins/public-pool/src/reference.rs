//! Reading the plugin's reference records (pools and rules). Both entities are declared
//! `reference = true`, so every user of the organisation reads all of them, and only the
//! organisation's administrators change them during a user's call.

use serde::de::DeserializeOwned;
use tessera_sdk::records::{self, Query, Record};
use tessera_sdk::{Error, Result};

/// Every record of an entity, oldest first.
pub fn records_of(entity: &str) -> Result<Vec<Record>> {
    records::find_all(&Query::new(entity).order_by("id").limit(500))
}

/// A record's fields read into `T`, or an error naming the entity and the record.
pub fn fields_of<T: DeserializeOwned>(record: &Record) -> Result<T> {
    record.fields_as().map_err(|e| Error::internal(format!("{} record {}: {}", record.entity, record.id, e.message())))
}
