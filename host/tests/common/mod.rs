//! What the host's process-level suites share: a `tessera serve` started as a child process on a
//! database of its own (SQLite in a directory, or a fresh PostgreSQL database), and an API token
//! of its first administrator. Killing the child with SIGKILL leaves only what was committed.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The first administrator's password of every host these suites start.
pub const PASSWORD: &str = "durability admin passphrase";

/// A running `tessera serve`; killed when dropped.
pub struct Host {
    pub child: Option<Child>,
    pub base: String,
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// The `tessera` binary to start: `TESSERA_BIN` when set (a benchmark's release build), else
/// the one cargo built with these tests.
fn binary() -> std::ffi::OsString {
    std::env::var_os("TESSERA_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_tessera").into())
}

/// Starts `tessera serve` with `args` (the database's, and any more) and waits until it answers.
pub async fn start(args: &[String]) -> Host {
    let port = free_port();
    let child = Command::new(binary())
        // The suites install the unsigned packages `cargo xtask build-plugins` makes.
        .args(["serve", "--developer-mode", "--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .env("TESSERA_ADMIN_PASSWORD", PASSWORD)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("tessera starts");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
        assert!(Instant::now() < deadline, "tessera did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Host { child: Some(child), base }
}

/// A database of its own for `backend` (`sqlite` or `postgres`): the arguments that point the
/// host at it, and its URL for checking what was committed.
pub fn database(backend: &str, dir: &std::path::Path, name: &str) -> (Vec<String>, String) {
    match backend {
        "sqlite" => {
            let url = format!("sqlite://{}?mode=rwc", dir.join("tessera.db").display());
            (vec!["--data-dir".into(), dir.display().to_string()], url)
        }
        _ => {
            let name = format!("tessera_{name}_{}", std::process::id());
            let psql = |sql: &str| {
                Command::new("psql").arg(postgres_admin()).args(["-qc", sql]).status().expect("psql").success()
            };
            psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            assert!(psql(&format!("CREATE DATABASE {name}")), "PostgreSQL is needed for the tests");
            let admin = postgres_admin();
            let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or_default();
            let url = format!("{base}/{name}");
            (vec!["--database-url".into(), url.clone(), "--data-dir".into(), dir.display().to_string()], url)
        }
    }
}

fn postgres_admin() -> String {
    std::env::var("TESSERA_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
}

/// Removes what [`database`] made.
pub fn drop_database(dir: &std::path::Path, url: &str) {
    let _ = std::fs::remove_dir_all(dir);
    if let Some(name) = url.strip_prefix("postgres").and(url.rsplit('/').next()) {
        let _ = Command::new("psql")
            .arg(postgres_admin())
            .args(["-qc", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")])
            .status();
    }
}

/// Signs in as the first administrator and returns a personal API token.
pub async fn token(base: &str) -> String {
    let client = reqwest::Client::builder().cookie_store(true).build().expect("client");
    let signed: Value = client
        .post(format!("{base}/api/v1/auth/sign-in"))
        .json(&json!({ "username": "admin", "password": PASSWORD }))
        .send()
        .await
        .expect("sign-in")
        .json()
        .await
        .expect("json");
    let csrf = signed["csrf_token"].as_str().expect("csrf").to_owned();
    let made: Value = client
        .post(format!("{base}/api/v1/me/tokens"))
        .header("x-csrf-token", csrf)
        .json(&json!({ "name": "process suite" }))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    made["token"].as_str().expect("token").to_owned()
}
