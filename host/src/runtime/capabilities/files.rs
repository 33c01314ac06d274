//! `files` (API 0.1.4): files the plugin keeps, per organisation (knowledge-base attachments,
//! uploads of `file` form fields). Needs `files`. A file is at most the manifest's
//! `max-file-bytes`; a plugin reaches only its own files in the organisation it runs for.

use crate::runtime::bindings::PluginFault;
use crate::runtime::bindings::tessera::plugin::files::{FileInfo, Host};
use crate::runtime::files::{self, StoredFile};
use crate::runtime::sandbox::{CallContext, PluginState};
use crate::store::Id;

type Answer<T> = wasmtime::Result<Result<T, PluginFault>>;

fn to_wit(f: StoredFile) -> FileInfo {
    FileInfo {
        id: f.id,
        name: f.name,
        content_type: f.content_type,
        size: f.size,
        sha256: f.sha256,
        created_by: f.created_by,
        created_at: f.created_at,
    }
}

impl Host for PluginState {
    async fn put(&mut self, name: String, content_type: String, data: Vec<u8>) -> Answer<FileInfo> {
        self.enter()?;
        Ok(put(&self.ctx, name, content_type, data).await)
    }

    async fn info(&mut self, id: Id) -> Answer<FileInfo> {
        self.enter()?;
        let ctx = &self.ctx;
        Ok(match granted(ctx) {
            Ok(plugin) => {
                ctx.bounded("files.info", files::info(&ctx.store, ctx.org_id(), plugin, id)).await.map(to_wit)
            }
            Err(e) => Err(e),
        })
    }

    async fn read(&mut self, id: Id) -> Answer<Vec<u8>> {
        self.enter()?;
        let ctx = &self.ctx;
        Ok(match granted(ctx) {
            Ok(plugin) => ctx.bounded("files.read", files::read(&ctx.store, ctx.org_id(), plugin, id)).await,
            Err(e) => Err(e),
        })
    }

    async fn delete(&mut self, id: Id) -> Answer<()> {
        self.enter()?;
        let ctx = &self.ctx;
        Ok(match granted(ctx) {
            Ok(plugin) => ctx.bounded("files.delete", files::delete(&ctx.store, ctx.org_id(), plugin, id)).await,
            Err(e) => Err(e),
        })
    }
}

/// The plugin whose files the call reaches, once `files` is granted.
fn granted(ctx: &CallContext) -> Result<&str, PluginFault> {
    ctx.require("files")?;
    Ok(&ctx.plugin.plugin.id)
}

async fn put(ctx: &CallContext, name: String, content_type: String, data: Vec<u8>) -> Result<FileInfo, PluginFault> {
    let plugin_id = granted(ctx)?;
    let created_by = ctx.user.as_ref().map(|u| u.principal().user_id);
    let owner = files::Owner { org_id: ctx.org_id(), plugin_id, created_by };
    let work = files::put(&ctx.store, owner, &name, &content_type, &data, ctx.plugin.max_file_bytes());
    match ctx.bounded("files.put", work).await {
        Ok(stored) => Ok(to_wit(stored)),
        // Above the plugin's limit: a limit reached, as the API names it.
        Err(PluginFault::Invalid(message)) => Err(PluginFault::Limited(message)),
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use crate::runtime::bindings::PluginFault;
    use crate::runtime::bindings::tessera::plugin::files::Host;
    use crate::runtime::capabilities::testing::{self, Setup, TestDb, fault};
    use crate::store::Backend;

    #[tokio::test]
    async fn a_granted_plugin_keeps_files_up_to_its_limit() {
        let db = TestDb::new(Backend::Sqlite).await;
        let org = testing::org(&db.store, "acme").await;
        let mut manifest = testing::manifest(&["files"], &[], "");
        manifest.plugin.max_file_bytes = Some(1_000);
        let mut state = Setup::new(&db.store, org.id, org.admin_id, manifest, &["files"]).state();
        let f = state.put("dir/价目表.csv".into(), "text/csv".into(), b"a,b\n1,2\n".to_vec()).await.unwrap().unwrap();
        assert_eq!((f.name.as_str(), f.content_type.as_str(), f.size), ("价目表.csv", "text/csv", 8));
        assert_eq!(state.read(f.id).await.unwrap().unwrap(), b"a,b\n1,2\n");
        assert_eq!(state.info(f.id).await.unwrap().unwrap().sha256, f.sha256);
        let big = state.put("big.bin".into(), String::new(), vec![0; 1_001]).await.unwrap();
        assert!(matches!(big, Err(PluginFault::Limited(_))), "{big:?}");
        state.delete(f.id).await.unwrap().unwrap();
        assert!(matches!(state.read(f.id).await.unwrap(), Err(PluginFault::NotFound(_))));
    }

    #[tokio::test]
    async fn files_need_the_grant() {
        let db = TestDb::new(Backend::Sqlite).await;
        let org = testing::org(&db.store, "acme").await;
        let manifest = testing::manifest(&["files"], &[], "");
        let mut state = Setup::new(&db.store, org.id, org.admin_id, manifest, &[]).state();
        fault(state.put("a.txt".into(), "text/plain".into(), b"x".to_vec()).await, "denied");
        fault(state.read(1).await, "denied");
    }
}
