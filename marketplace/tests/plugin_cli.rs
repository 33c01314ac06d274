//! `tessera-plugin`, the real binary, against a registry served in-process on SQLite and
//! PostgreSQL: a publisher makes a key pair, packages a built plugin, publishes it with a
//! token (the key registered and the id claimed on the way), signs it with a certificate it
//! fetched, and publishes a new version by email and password; a version published twice is
//! refused with the marketplace's code and message. The plugin is a minimal component written
//! in the test, as `tessera-plugin build` would leave it, so no wasm32 build is needed.

mod support;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use reqwest::StatusCode;
use serde_json::json;
use support::*;
use tessera_package::Tpkg;
use tessera_tests::both_backends;

/// What a run of the tool did.
struct Ran {
    ok: bool,
    stdout: String,
    stderr: String,
}

async fn tessera_plugin(args: &[&str]) -> Result<Ran> {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera-plugin"))
        .args(args)
        .env_remove("TESSERA_MARKETPLACE_TOKEN")
        .env_remove("TESSERA_MARKETPLACE_PASSWORD")
        .output()
        .await
        .context("cannot run tessera-plugin")?;
    Ok(Ran {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

async fn succeeds(args: &[&str]) -> Result<String> {
    let ran = tessera_plugin(args).await?;
    anyhow::ensure!(ran.ok, "tessera-plugin {args:?} failed:\n{}{}", ran.stdout, ran.stderr);
    Ok(ran.stdout)
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

/// A plugin of `version` built as `tessera-plugin build` leaves it: `<id>-<version>.wasm`.
fn built(dir: &Path, version: &str) -> Result<PathBuf> {
    let manifest = manifest("cli-notes", version, "CLI notes", &["customers:read"], "");
    let path = dir.join(format!("cli-notes-{version}.wasm"));
    std::fs::write(&path, component(&manifest, READS_CUSTOMERS))?;
    Ok(path)
}

both_backends! {
    async fn a_publisher_keygens_packages_signs_and_publishes_with_the_tool(backend) {
        let m = Market::start(backend).await?;
        let work = std::env::temp_dir().join(format!("tessera-plugin-cli-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&work)?;
        let key = work.join("publisher.key");

        let said = succeeds(&["keygen", "--out", text(&work)]).await?;
        assert!(said.contains("publisher.key") && work.join("publisher.pub").is_file(), "{said}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&key)?.permissions().mode() & 0o777, 0o600, "the secret key is the owner's");
        }
        let again = tessera_plugin(&["keygen", "--out", text(&work)]).await?;
        assert!(!again.ok && again.stderr.contains("--out DIR"), "a key pair is never overwritten: {}", again.stderr);

        // An unsigned package, as a host would refuse it and a publisher may inspect it.
        let v1 = built(&work, "1.0.0")?;
        succeeds(&["package", "--wasm", text(&v1)]).await?;
        let unsigned = Tpkg::decode(&std::fs::read(work.join("cli-notes-1.0.0.unsigned.tpkg"))?)?;
        assert!(unsigned.signature().is_none());
        assert_eq!(unsigned.component(), std::fs::read(&v1)?.as_slice());

        // A new publisher account, with no key yet: publish registers it and claims the id.
        let (status, account) = m
            .post("/api/v1/publishers", None, &json!({ "name": "cli", "email": "cli@example.com", "password": PASSWORD }))
            .await?;
        assert_eq!(status, StatusCode::CREATED, "{account}");
        let token = account["token"].as_str().context("token")?;
        let said = succeeds(&[
            "publish", "--wasm", text(&v1), "--marketplace", &m.base, "--token", token, "--key", text(&key),
            "--changelog", "The first release",
        ])
        .await?;
        assert!(said.contains("Registered key") && said.contains(&m.url("/plugins/cli-notes")), "{said}");
        assert!(said.contains("/listing"), "an unlisted plugin is not in the catalog, and the tool says so: {said}");
        m.list(token, "cli-notes", json!({ "category": "crm", "kind": "free" })).await?;
        let (status, plugin) = m.get("/api/v1/plugins/cli-notes", None).await?;
        assert_eq!(status, StatusCode::OK, "{plugin}");
        assert_eq!((plugin["versions"][0]["version"].as_str(), plugin["versions"][0]["changelog"].as_str()), (Some("1.0.0"), Some("The first release")));
        let (status, page) = m.page("/plugins/cli-notes", None).await?;
        assert_eq!(status, StatusCode::OK, "the catalog URL printed is a page: {page}");

        // Signing by hand, with the certificate fetched from the marketplace.
        let (status, cert) = m.get("/api/v1/publishers/me/certificate", Some(token)).await?;
        assert_eq!(status, StatusCode::OK, "{cert}");
        let cert_file = work.join("certificate.json");
        std::fs::write(&cert_file, cert.to_string())?;
        succeeds(&["sign", "--wasm", text(&v1), "--key", text(&key), "--certificate", text(&cert_file)]).await?;
        let signed = Tpkg::decode(&std::fs::read(work.join("cli-notes-1.0.0.tpkg"))?)?;
        let by = tessera_package::verify(&signed, &m.trust().await?)?;
        assert_eq!((by.plugin.as_str(), by.publisher.key.key_id()), ("cli-notes", tessera_marketplace::dev::keys::read_secret(&key)?.key_id()));

        // The same version again: the marketplace's code and message, and a failure.
        let twice = tessera_plugin(&[
            "publish", "--wasm", text(&v1), "--marketplace", &m.base, "--email", "cli@example.com", "--password", PASSWORD,
            "--key", text(&key),
        ])
        .await?;
        assert!(!twice.ok && twice.stderr.contains("version_exists") && twice.stderr.contains("409"), "{}", twice.stderr);

        // A new version by email and password, its changelog from a file; the key is known.
        let v2 = built(&work, "1.0.1")?;
        let changelog = work.join("CHANGELOG.md");
        std::fs::write(&changelog, "Faster notes")?;
        let said = succeeds(&[
            "publish", "--wasm", text(&v2), "--marketplace", &m.base, "--email", "cli@example.com", "--password", PASSWORD,
            "--key", text(&key), "--changelog", text(&changelog),
        ])
        .await?;
        assert!(!said.contains("Registered key"), "{said}");
        let (_, plugin) = m.get("/api/v1/plugins/cli-notes", None).await?;
        assert_eq!((plugin["latest_version"].as_str(), plugin["versions"][0]["changelog"].as_str()), (Some("1.0.1"), Some("Faster notes")));

        // A wrong password is the marketplace's refusal, said with what to check.
        let wrong = tessera_plugin(&[
            "publish", "--wasm", text(&v2), "--marketplace", &m.base, "--email", "cli@example.com", "--password", "wrong",
            "--key", text(&key),
        ])
        .await?;
        assert!(!wrong.ok && wrong.stderr.contains("check the email address and password"), "{}", wrong.stderr);
        let _ = std::fs::remove_dir_all(&work);
        Ok(())
    }
}

/// `new` and `build` end to end: the template, renamed, builds for wasm32-wasip2 outside the
/// plugins workspace, and its package is one the host takes; a capability requested and never
/// used is caught by `build`, before anything is signed. One wasm32 build of a small crate (the
/// build directory is kept under the repository's `target/` between runs).
#[tokio::test]
async fn a_new_plugin_builds_and_a_capability_mismatch_is_caught() -> Result<()> {
    let work = std::env::temp_dir().join(format!("tessera-plugin-new-{}", uuid::Uuid::new_v4().simple()));
    let dir = work.join("visit-notes");
    succeeds(&["new", "visit-notes", "--dir", text(&dir)]).await?;
    let cargo_toml = dir.join("Cargo.toml");
    let build = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera-plugin"))
            .args(["build", "--manifest-path", text(&cargo_toml)])
            .env(
                tessera_testkit::TARGET_DIR_VAR,
                concat!(env!("CARGO_MANIFEST_DIR"), "/../target/wasm-tessera-plugin-test"),
            )
            .output()
    };
    let built = build().await?;
    let said = String::from_utf8_lossy(&built.stderr);
    assert!(built.status.success(), "{said}");
    let package = std::fs::read(dir.join("target/tessera/visit-notes-0.1.0.wasm"))?;
    let read = tessera_tests::tessera_host::runtime::package::read(package)?;
    assert_eq!(
        (read.manifest.plugin.id.as_str(), read.manifest.plugin.version.to_string().as_str()),
        ("visit-notes", "0.1.0")
    );

    let manifest = std::fs::read_to_string(dir.join("plugin.toml"))?;
    let greedy = manifest.replace(
        "capabilities = [\"customers:read\", \"events:subscribe\", \"schedule\"]",
        "capabilities = [\"customers:read\", \"events:subscribe\", \"schedule\", \"notify\"]",
    );
    assert_ne!(greedy, manifest, "the template's capabilities line changed; update this test");
    std::fs::write(dir.join("plugin.toml"), greedy)?;
    let refused = build().await?;
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && said.contains("notify") && said.contains("build again"), "{said}");
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
