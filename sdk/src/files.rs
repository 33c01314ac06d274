//! Files the plugin keeps: attachments and uploads, stored by the host in its database per
//! organisation (capability `files`, since API 0.1.4). A file is at most the manifest's
//! `max-file-bytes` (default and ceiling 10 MiB).
//!
//! A form field of kind `file` ([`crate::ui::Field::file`]) has the host store the chosen file
//! before `act` is called; the value the plugin receives reads with [`Upload::from_input`].
//!
//! ```no_run
//! use tessera_sdk::files;
//! let info = files::put("报价单.pdf", "application/pdf", b"%PDF-1.7 ...")?;
//! let again = files::read(info.id)?;
//! # Ok::<(), tessera_sdk::Error>(())
//! ```

use serde::Deserialize;
use serde_json::Value;

use crate::Id;
pub use crate::bindings::tessera::plugin::files::{FileInfo, delete, info, put, read};

/// A file a `file` form field received, as `act` gets it: already stored among the plugin's
/// files.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Upload {
    pub id: Id,
    pub name: String,
    pub content_type: String,
    pub size: u64,
}

impl Upload {
    /// The upload of the form field `field` in an action's input; `None` when no file was
    /// chosen.
    pub fn from_input(input: &Value, field: &str) -> Option<Upload> {
        serde_json::from_value(input.get(field)?.clone()).ok()
    }
}

/// A readable size: `980 B`, `12.5 KB`, `3.2 MB`.
pub fn human_size(bytes: u64) -> String {
    const KB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KB {
        format!("{bytes} B")
    } else if b < KB * KB {
        format!("{:.1} KB", b / KB)
    } else {
        format!("{:.1} MB", b / KB / KB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_reads_from_the_input_or_is_absent() {
        let input = serde_json::json!({
            "doc": {"id": 7, "name": "a.pdf", "content-type": "application/pdf", "size": 12},
            "title": "x"
        });
        let up = Upload::from_input(&input, "doc").expect("an upload");
        assert_eq!((up.id, up.name.as_str(), up.size), (7, "a.pdf", 12));
        assert_eq!(Upload::from_input(&input, "other"), None);
        assert_eq!(Upload::from_input(&input, "title"), None, "text is not an upload");
    }

    #[test]
    fn sizes_read_for_people() {
        assert_eq!(human_size(980), "980 B");
        assert_eq!(human_size(12_800), "12.5 KB");
        assert_eq!(human_size(3_355_443), "3.2 MB");
    }
}
