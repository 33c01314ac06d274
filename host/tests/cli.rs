//! The `tessera` command line, run as a user would run it, on SQLite and PostgreSQL.
//! (It lives beside the host because only the host's own tests can find its binary.)

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn tessera<S: AsRef<std::ffi::OsStr>>(args: &[S], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.env_remove("TESSERA_ADMIN_PASSWORD").env_remove("TESSERA_PASSWORD").env_remove("TESSERA_DATABASE_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("tessera runs");
    if let Some(input) = stdin
        && let Some(mut pipe) = child.stdin.take()
    {
        pipe.write_all(input.as_bytes()).expect("stdin");
    }
    child.wait_with_output().expect("tessera finishes")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn database_args(backend: &str, dir: &std::path::Path) -> Vec<String> {
    match backend {
        "sqlite" => vec!["--data-dir".into(), dir.display().to_string()],
        _ => {
            let admin = std::env::var("TESSERA_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into());
            let name = format!("tessera_cli_{}", std::process::id());
            let psql =
                |sql: &str| Command::new("psql").arg(&admin).args(["-qc", sql]).status().expect("psql").success();
            psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            assert!(psql(&format!("CREATE DATABASE {name}")), "PostgreSQL is needed for the tests");
            let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or_default();
            vec!["--database-url".into(), format!("{base}/{name}")]
        }
    }
}

fn admin_commands_work_on(backend: &str) {
    let dir = std::env::temp_dir().join(format!("tessera-cli-{backend}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = database_args(backend, &dir);
    let db: Vec<&str> = db.iter().map(String::as_str).collect();
    let with = |cmd: &[&'static str]| -> Vec<String> {
        cmd.iter().map(|s| (*s).to_owned()).chain(db.iter().map(|s| (*s).to_owned())).collect()
    };

    let out = tessera(&with(&["migrate"]), &[], None);
    assert!(out.status.success(), "{}", text(&out));

    let out = tessera(&with(&["org", "add", "--slug", "north-wind", "--name", "北风贸易"]), &[], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("sign in as admin / "), "a generated admin password is shown once: {}", text(&out));

    let out = tessera(
        &with(&["org", "add", "--slug", "north-wind", "--name", "again"]),
        &[("TESSERA_ADMIN_PASSWORD", "long enough password")],
        None,
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("exists already"), "{}", text(&out));

    let out = tessera(&with(&["org", "add", "--slug", "Bad Slug!", "--name", "x"]), &[], None);
    assert!(!out.status.success());
    assert!(text(&out).contains("short name"), "{}", text(&out));

    let out = tessera(
        &with(&["user", "add", "--org", "north-wind", "--username", "mei", "--role", "Salesperson"]),
        &[],
        Some("mei's long passphrase\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = tessera(
        &with(&["user", "add", "--org", "north-wind", "--username", "short"]),
        &[("TESSERA_PASSWORD", "too short")],
        None,
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("at least 12 characters"), "{}", text(&out));
    let out = tessera(
        &with(&["user", "add", "--org", "north-wind", "--username", "x1", "--role", "Nope"]),
        &[("TESSERA_PASSWORD", "long enough password")],
        None,
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("there is no role"), "{}", text(&out));

    let out = tessera(&with(&["user", "list", "--org", "north-wind"]), &[], None);
    let listing = text(&out);
    assert!(listing.contains("admin") && listing.contains("mei"), "{listing}");

    let out = tessera(
        &with(&["user", "passwd", "--org", "north-wind", "--username", "mei"]),
        &[("TESSERA_PASSWORD", "mei's new passphrase")],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = tessera(
        &with(&["user", "passwd", "--org", "north-wind", "--username", "nobody"]),
        &[("TESSERA_PASSWORD", "whatever it is here")],
        None,
    );
    assert!(!out.status.success());

    let out = tessera(&with(&["org", "list"]), &[], None);
    assert!(text(&out).contains("north-wind"), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn admin_commands_work_on_sqlite() {
    admin_commands_work_on("sqlite");
}

#[test]
fn admin_commands_work_on_postgres() {
    admin_commands_work_on("postgres");
}

#[test]
fn demo_data_and_imports_from_the_command_line() {
    let dir = std::env::temp_dir().join(format!("tessera-cli-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let data = dir.join("data").display().to_string();
    let out = tessera(
        &["org", "add", "--data-dir", &data, "--slug", "acme", "--name", "Acme"],
        &[("TESSERA_ADMIN_PASSWORD", "long enough password")],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = tessera(&["demo", "--data-dir", &data, "--customers", "120"], &[], None);
    assert!(text(&out).contains("added 120 demo customers"), "{}", text(&out));
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "客户名称,电话\n好公司,010-88889999\n,021-5555 7777\n").expect("write");
    let out = tessera(&["import", "--data-dir", &data, bad.to_str().expect("path"), "--dry-run"], &[], None);
    assert!(!out.status.success());
    assert!(text(&out).contains("row 3 (客户名称): the name is empty"), "{}", text(&out));
    assert!(text(&out).contains("1 new"), "{}", text(&out));
    let good = dir.join("good.csv");
    std::fs::write(&good, "名称,手机\n命令行导入公司,13912345678\n").expect("write");
    let out = tessera(&["import", "--data-dir", &data, good.to_str().expect("path"), "--map", "名称=name"], &[], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("1 new") && text(&out).contains("1/1 rows"), "{}", text(&out));
    let out = tessera(&["import", "--data-dir", &data, good.to_str().expect("path")], &[], None);
    assert!(text(&out).contains("0 new, 1 matching"), "a second import adds nothing: {}", text(&out));
    let out =
        tessera(&["import", "--data-dir", &data, good.to_str().expect("path"), "--map", "名称=shoe_size"], &[], None);
    assert!(!out.status.success());
    assert!(text(&out).contains("is not a field"), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn help_names_every_command() {
    let out = tessera(&["--help"], &[], None);
    let help = text(&out);
    for cmd in ["serve", "migrate", "user", "org", "demo", "import"] {
        assert!(help.contains(cmd), "{help}");
    }
    let serve = text(&tessera(&["serve", "--help"], &[], None));
    for flag in ["--listen", "--database-url", "--data-dir"] {
        assert!(serve.contains(flag), "{serve}");
    }
}

#[test]
fn a_bad_database_url_is_a_clear_error() {
    let out = tessera(&["migrate", "--database-url", "mysql://nowhere/x"], &[], None);
    assert!(!out.status.success());
    assert!(text(&out).contains("unsupported database URL"), "{}", text(&out));
}

/// What `tessera serve` prints before it serves: its output up to the API's address (at most
/// 20 s of it).
fn banner(child: &mut std::process::Child) -> String {
    use std::io::Read;
    let mut stdout = child.stdout.take().expect("stdout");
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut buf = [0u8; 4096];
    while !seen.contains("API:") && std::time::Instant::now() < deadline {
        match stdout.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    seen
}

#[test]
fn serve_prints_the_url_and_credentials_and_logs_json_on_request() {
    let dir = std::env::temp_dir().join(format!("tessera-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["--log-format", "json", "serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(&dir)
        .env_remove("TESSERA_ADMIN_PASSWORD")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let seen = banner(&mut child);
    // One request, so that a JSON log line is written.
    let _ = std::net::TcpStream::connect(("127.0.0.1", port))
        .and_then(|mut s| s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = child.kill();
    let out = child.wait_with_output().expect("exit");
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(seen.contains(&format!("http://127.0.0.1:{port}")), "{seen}");
    assert!(seen.contains("sign in as:   admin / "), "{seen}");
    assert!(seen.contains("generated; shown only this once"), "{seen}");
    assert!(seen.contains("no --marketplace-key given") && !seen.contains("DEVELOPER MODE"), "{seen}");
    assert!(logs.lines().any(|l| l.starts_with('{') && l.contains("\"level\"")), "JSON logs: {logs}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_in_developer_mode_says_so_loudly() {
    let dir = std::env::temp_dir().join(format!("tessera-serve-dev-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(&dir)
        .env("TESSERA_DEVELOPER_MODE", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let seen = banner(&mut child);
    let _ = child.kill();
    let out = child.wait_with_output().expect("exit");
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(seen.contains("!! DEVELOPER MODE: unsigned plugins"), "{seen} {logs}");
    assert!(logs.contains("developer mode"), "and the log warns: {logs}");
    let _ = std::fs::remove_dir_all(&dir);
}
