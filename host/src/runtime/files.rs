//! Files plugins keep (plugin API 0.1.4): attachments and uploads, stored in the host's
//! database per organisation and plugin, beside the plugin's records and dropped with them.
//! Plugins reach them through the `files` capability; a form field of kind `file` has the host
//! store the user's upload here before the plugin's action runs.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use utoipa::ToSchema;

use crate::error::{Error, Result};
use crate::store::{Id, Store, now_ms};

/// The longest file name kept, in characters.
const MAX_NAME: usize = 200;
/// The media type of content nobody named.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// What is known of a stored file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StoredFile {
    pub id: Id,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    pub created_by: Option<Id>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A file name as kept: its last path part, without control characters, at most
/// [`MAX_NAME`] characters; `file` when nothing is left.
pub fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let kept: String = last.chars().filter(|c| !c.is_control()).collect();
    let kept = kept.trim();
    if kept.is_empty() || kept == "." || kept == ".." {
        return "file".to_owned();
    }
    kept.chars().take(MAX_NAME).collect()
}

/// A media type as kept: `type/subtype` of token characters, lower case, without parameters
/// other than a charset; [`OCTET_STREAM`] for anything else.
pub fn clean_content_type(content_type: &str) -> String {
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let token = |s: &str| {
        !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    let Some((kind, sub)) = essence.split_once('/') else {
        return OCTET_STREAM.to_owned();
    };
    if !token(kind) || !token(sub) {
        return OCTET_STREAM.to_owned();
    }
    let charset = parts
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, v)| v.trim().trim_matches('"').to_ascii_lowercase())
        .filter(|v| token(v));
    match charset {
        Some(c) => format!("{essence}; charset={c}"),
        None => essence,
    }
}

/// Whose a new file is: a plugin's in an organisation, stored by a user or by the plugin.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    pub org_id: Id,
    pub plugin_id: &'a str,
    pub created_by: Option<Id>,
}

/// Stores a file. Refused with `Invalid` (field `file`) above `max_bytes`.
pub async fn put(
    store: &Store,
    owner: Owner<'_>,
    name: &str,
    content_type: &str,
    data: &[u8],
    max_bytes: u64,
) -> Result<StoredFile> {
    let Owner { org_id, plugin_id, created_by } = owner;
    let size = data.len() as u64;
    if size > max_bytes {
        return Err(Error::Invalid {
            field: Some("file"),
            message: format!("the file is {size} bytes; at most {max_bytes} are accepted"),
        });
    }
    let name = clean_name(name);
    let content_type = clean_content_type(content_type);
    let sha256 = format!("{:x}", Sha256::digest(data));
    let created_at = now_ms();
    let mut tx = store.begin_write().await?;
    let id: Id = sqlx::query_scalar(
        "INSERT INTO plugin_files (org_id, plugin_id, name, content_type, size, sha256, content, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(org_id)
    .bind(plugin_id)
    .bind(&name)
    .bind(&content_type)
    .bind(size as i64)
    .bind(&sha256)
    .bind(data)
    .bind(created_by)
    .bind(created_at)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(StoredFile { id, name, content_type, size, sha256, created_by, created_at })
}

/// What is known of a file of the plugin in the organisation.
pub async fn info(store: &Store, org_id: Id, plugin_id: &str, id: Id) -> Result<StoredFile> {
    let row = sqlx::query(
        "SELECT id, name, content_type, size, sha256, created_by, created_at FROM plugin_files \
         WHERE id = $1 AND org_id = $2 AND plugin_id = $3",
    )
    .bind(id)
    .bind(org_id)
    .bind(plugin_id)
    .fetch_optional(store.pool())
    .await?
    .ok_or(Error::NotFound("file"))?;
    Ok(StoredFile {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        content_type: row.try_get(2)?,
        size: row.try_get::<i64, _>(3)?.max(0) as u64,
        sha256: row.try_get(4)?,
        created_by: row.try_get(5)?,
        created_at: row.try_get(6)?,
    })
}

/// A file's content.
pub async fn read(store: &Store, org_id: Id, plugin_id: &str, id: Id) -> Result<Vec<u8>> {
    sqlx::query_scalar("SELECT content FROM plugin_files WHERE id = $1 AND org_id = $2 AND plugin_id = $3")
        .bind(id)
        .bind(org_id)
        .bind(plugin_id)
        .fetch_optional(store.pool())
        .await?
        .ok_or(Error::NotFound("file"))
}

/// Deletes a file; one that is gone already is not an error.
pub async fn delete(store: &Store, org_id: Id, plugin_id: &str, id: Id) -> Result<()> {
    let mut tx = store.begin_write().await?;
    sqlx::query("DELETE FROM plugin_files WHERE id = $1 AND org_id = $2 AND plugin_id = $3")
        .bind(id)
        .bind(org_id)
        .bind(plugin_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes every file of a plugin in an organisation (uninstalling with its data).
pub async fn delete_org_files(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    plugin_id: &str,
    org_id: Id,
) -> Result<()> {
    sqlx::query("DELETE FROM plugin_files WHERE org_id = $1 AND plugin_id = $2")
        .bind(org_id)
        .bind(plugin_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::capabilities::testing::{self, TestDb, on_both_backends};
    use crate::store::Backend;

    #[test]
    fn names_keep_their_last_part_and_types_their_essence() {
        assert_eq!(clean_name("C:\\Users\\mei\\报价单 v2.pdf"), "报价单 v2.pdf");
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("a\u{0}b\nc.txt"), "abc.txt");
        assert_eq!(clean_name("../"), "file");
        assert_eq!(clean_name(&"长".repeat(500)).chars().count(), MAX_NAME);
        assert_eq!(clean_content_type("Application/PDF"), "application/pdf");
        assert_eq!(clean_content_type("text/plain; charset=UTF-8; x=1"), "text/plain; charset=utf-8");
        assert_eq!(clean_content_type("text/html\r\nX-Evil: 1"), OCTET_STREAM);
        assert_eq!(clean_content_type("nonsense"), OCTET_STREAM);
    }

    async fn files_stay_with_their_plugin_and_organisation(backend: Backend) {
        let db = TestDb::new(backend).await;
        let store = &db.store;
        let org = testing::org(store, "acme").await;
        let other = testing::org(store, "other").await;
        let data = "售后服务手册".repeat(100).into_bytes();
        let owner = Owner { org_id: org.id, plugin_id: "knowledge-base", created_by: Some(org.admin_id) };
        let f = put(store, owner, "手册.txt", "text/plain", &data, 1 << 20).await.expect("stored");
        assert_eq!((f.size, f.name.as_str()), (data.len() as u64, "手册.txt"));
        assert_eq!(f.sha256, format!("{:x}", Sha256::digest(&data)));
        assert_eq!(info(store, org.id, "knowledge-base", f.id).await.expect("info"), f);
        assert_eq!(read(store, org.id, "knowledge-base", f.id).await.expect("read"), data);
        for (org_id, plugin) in [(other.id, "knowledge-base"), (org.id, "forum")] {
            assert!(
                matches!(read(store, org_id, plugin, f.id).await, Err(Error::NotFound("file"))),
                "{plugin} in org {org_id} does not reach it"
            );
        }
        let big = vec![0u8; 1025];
        let refused = put(store, Owner { created_by: None, ..owner }, "big.bin", "", &big, 1024).await;
        assert!(matches!(refused, Err(Error::Invalid { field: Some("file"), .. })), "{refused:?}");
        delete(store, org.id, "knowledge-base", f.id).await.expect("deleted");
        delete(store, org.id, "knowledge-base", f.id).await.expect("deleting again is fine");
        assert!(info(store, org.id, "knowledge-base", f.id).await.is_err());
    }

    on_both_backends!(files_stay_with_their_plugin_and_organisation);
}
