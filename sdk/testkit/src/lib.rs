//! The Tessera plugin test kit: test a plugin with `cargo test` against a real host. A
//! [`TestHost`] is the real `tessera-host` — a fresh SQLite database in a temporary directory,
//! the real plugin runtime, real HTTP over a loopback socket — with its first organisation made
//! and its administrator signed in. Nothing is mocked, so a test passes only if the plugin works
//! in a real CRM:
//!
//! ```no_run
//! use tessera_testkit::{Role, StatusCode, TestHost, json};
//!
//! # async fn example() -> anyhow::Result<()> {
//! let host = TestHost::start().await?;
//! // Builds this crate for wasm32-wasip2, packages it with its plugin.toml, installs it.
//! let plugin = host.install_crate(env!("CARGO_MANIFEST_DIR")).await?;
//! plugin.enable_all().await?;
//!
//! let customer = host.create_customer(json!({ "name": "北京科技" })).await?;
//! let (status, notes) = host.admin().get("/api/plugins/hello-crm/notes").await?;
//! assert_eq!(status, StatusCode::OK, "{notes}");
//!
//! let mei = host.user("mei", Role::Salesperson).await?;
//! let page = plugin.render_as(&mei, "notes", &[]).await?;
//! let outcome = plugin.act("notes", "add", None, json!({ "title": "回访" })).await?;
//! plugin.run_job("daily-summary").await?;
//!
//! // Events reach plugins asynchronously: poll until the effect shows.
//! let id = customer["id"].as_i64().unwrap_or_default();
//! let timeline = host
//!     .wait_for(|| async {
//!         let (_, items) = host.admin().get(&format!("/api/v1/customers/{id}/plugin-timeline")).await?;
//!         Ok(items.as_array().is_some_and(|a| !a.is_empty()).then_some(items))
//!     })
//!     .await?;
//! host.stop().await;
//! # Ok(())
//! # }
//! ```
//!
//! Every helper returns an [`anyhow::Result`] whose error says what failed, with the host's
//! status and answer or cargo's output, so a test reads as a list of `?`s and assertions.

mod client;
mod host;
mod package;
mod plugin;
mod wait;

pub use client::{Client, Role};
pub use host::{ADMIN_PASSWORD, TestHost, USER_PASSWORD, runtime_config};
pub use package::{TARGET, TARGET_DIR_VAR, package_crate};
pub use plugin::TestPlugin;
pub use wait::{WAIT_LIMIT, wait_for, wait_for_within};

/// The host's HTTP status codes and methods, so tests need no `reqwest` of their own.
pub use reqwest::{Method, StatusCode};
/// `serde_json`, for the JSON the API speaks.
pub use serde_json::{self, Value, json};
/// The host library, for tests that reach past the API (its store, its runtime).
pub use tessera_host;
