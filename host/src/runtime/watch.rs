//! The plugin directory: a package (`*.tpkg`, or `*.wasm` on a developer's host) dropped
//! into it is installed, and the
//! organisations that follow the latest version of that plugin move onto it. The directory
//! is read once at start and then watched with `notify`; a file still being written is
//! read again when its writes settle.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};

use super::Runtime;
use crate::error::{Error, Result};

/// How long a file must stay unchanged before it is read.
const SETTLE: Duration = Duration::from_millis(50);

/// Installs every package in `dir`, then watches it.
pub async fn spawn(runtime: Arc<Runtime>, dir: PathBuf) -> Result<tokio::task::JoinHandle<()>> {
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::Config(format!("cannot create the plugin directory {}: {e}", dir.display())))?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && matches!(event.kind, EventKind::Create(_) | EventKind::Modify(_))
        {
            for path in event.paths {
                let _ = tx.send(path);
            }
        }
    })
    .map_err(|e| Error::Config(format!("cannot watch the plugin directory: {e}")))?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|e| Error::Config(format!("cannot watch the plugin directory {}: {e}", dir.display())))?;
    let mut existing: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| Error::Config(format!("cannot read the plugin directory: {e}")))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| is_package(p))
        .collect();
    existing.sort();
    for path in existing {
        install_file(&runtime, &path).await;
    }
    Ok(tokio::spawn(async move {
        // The watcher lives as long as the task.
        let _watcher = watcher;
        while let Some(path) = rx.recv().await {
            if !is_package(&path) {
                continue;
            }
            // Let the writer finish: wait until no more events name the file.
            let mut pending = vec![path];
            while let Ok(Some(more)) = tokio::time::timeout(SETTLE, rx.recv()).await {
                if is_package(&more) && !pending.contains(&more) {
                    pending.push(more);
                }
            }
            for path in pending {
                install_file(&runtime, &path).await;
            }
        }
    }))
}

fn is_package(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "wasm" || e == "tpkg") && path.is_file()
}

async fn install_file(runtime: &Runtime, path: &Path) {
    let bytes = match tokio::fs::read(path).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read a plugin package");
            return;
        }
    };
    match runtime.registry.install(bytes, "directory", None, None).await {
        Ok(v) => {
            tracing::info!(path = %path.display(), plugin = %v.plugin_id, version = %v.version, "plugin package read")
        }
        Err(e) => tracing::error!(path = %path.display(), error = %e, "plugin package refused"),
    }
}
