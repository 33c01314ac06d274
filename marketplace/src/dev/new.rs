//! `tessera-plugin new`: a plugin crate from the template (`plugins/template`, compiled into
//! this tool), renamed. The template sits in the plugins workspace and reaches the SDK by a
//! relative path; the new crate is a workspace of its own, with the plugins workspace's
//! profiles, and reaches the SDK by the absolute path of a Tessera checkout, since the SDK is
//! not on crates.io.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};

use super::{identity, is_plugin_id, write};

const CARGO_TOML: &str = include_str!("../../../plugins/template/Cargo.toml");
const PLUGIN_TOML: &str = include_str!("../../../plugins/template/plugin.toml");
const LIB_RS: &str = include_str!("../../../plugins/template/src/lib.rs");
const TESTS_RS: &str = include_str!("../../../plugins/template/tests/plugin.rs");
/// The plugins workspace, whose profiles the new crate takes.
const PLUGINS_WORKSPACE: &str = include_str!("../../../plugins/Cargo.toml");

const TEMPLATE_ID: &str = "hello-crm";

/// The SDK of the checkout this tool was built in, when it is still there.
pub fn checkout_sdk() -> Option<PathBuf> {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk")).canonicalize().ok()
}

/// Makes the crate of plugin `id` in `dir`, whose SDK is the folder `sdk`. Returns the files
/// written.
pub fn new_plugin(id: &str, dir: &Path, sdk: Option<&Path>) -> Result<Vec<PathBuf>> {
    ensure!(
        is_plugin_id(id),
        "{id:?} is not a plugin id: use 2 to 40 lower-case letters, digits and dashes, starting with a letter"
    );
    let sdk = match sdk {
        Some(sdk) => sdk.canonicalize().with_context(|| format!("no SDK at {}", sdk.display()))?,
        None => checkout_sdk()
            .context("the Tessera SDK is not on crates.io; pass --sdk PATH to the sdk/ folder of a Tessera checkout")?,
    };
    ensure!(
        sdk.join("Cargo.toml").is_file() && sdk.join("testkit").join("Cargo.toml").is_file(),
        "{} is not the Tessera SDK (no Cargo.toml and testkit/ in it); pass --sdk PATH to the sdk/ folder of a \
         Tessera checkout",
        sdk.display()
    );
    if dir.exists()
        && std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?.next().is_some()
    {
        bail!("{} exists and is not empty; choose another folder with --dir DIR", dir.display());
    }
    let name = title(id);
    let files = [
        (PathBuf::from("Cargo.toml"), cargo_toml(id, &name, &sdk)?),
        (PathBuf::from("plugin.toml"), plugin_toml(id, &name)?),
        (PathBuf::from("src/lib.rs"), renamed(LIB_RS, id, &name)),
        (PathBuf::from("tests/plugin.rs"), renamed(TESTS_RS, id, &name)),
        (PathBuf::from(".gitignore"), "/target\n".to_owned()),
    ];
    let mut written = Vec::new();
    for (path, text) in files {
        let path = dir.join(path);
        write(&path, text.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

/// `notes-plus` → `Notes Plus`.
fn title(id: &str) -> String {
    id.split('-')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn renamed(text: &str, id: &str, name: &str) -> String {
    text.replace(TEMPLATE_ID, id).replace("Hello CRM", name)
}

/// Replaces the first line of `text` that starts with `prefix` after the line `section` (from
/// the top when `section` is empty).
fn set_line(text: &str, section: &str, prefix: &str, line: &str) -> Result<String> {
    let mut in_section = section.is_empty();
    let mut done = false;
    let out: Vec<&str> = text
        .lines()
        .map(|l| {
            if l == section {
                in_section = true;
            } else if in_section && !done && l.starts_with(prefix) {
                done = true;
                return line;
            }
            l
        })
        .collect();
    ensure!(done, "the template has no line starting {prefix:?} in {section:?}; this tool needs updating");
    Ok(out.join("\n") + "\n")
}

fn cargo_toml(id: &str, name: &str, sdk: &Path) -> Result<String> {
    let sdk = sdk.to_str().context("the SDK's path is not UTF-8")?;
    let mut text = set_line(CARGO_TOML, "[package]", "name = ", &format!("name = \"{id}\""))?;
    text = set_line(&text, "", "version = ", "version = \"0.1.0\"")?;
    text = set_line(&text, "", "description = ", &format!("description = \"{name}: a Tessera CRM plugin.\""))?;
    text = set_line(
        &text,
        "",
        "# The template plugin:",
        "# A Tessera CRM plugin, made by `tessera-plugin new` from the template.",
    )?;
    text = set_line(
        &text,
        "",
        "# package here and the `id`",
        "# Build it with `tessera-plugin build`, test it with `tessera-plugin test`.",
    )?;
    text = set_line(&text, "", "tessera-sdk = ", &format!("tessera-sdk = {{ path = {sdk:?} }}"))?;
    text = set_line(
        &text,
        "",
        "tessera-testkit = ",
        &format!("tessera-testkit = {{ path = {:?} }}", format!("{sdk}/testkit")),
    )?;
    let profiles = PLUGINS_WORKSPACE
        .find("\n# The plugins' native tests")
        .map(|at| &PLUGINS_WORKSPACE[at..])
        .context("plugins/Cargo.toml has no profiles; this tool needs updating")?;
    text.push_str("\n# A workspace of its own: a plugin is built alone, for wasm32-wasip2.\n[workspace]\n");
    text.push_str(profiles);
    let table: toml::Table = text.parse().context("the new Cargo.toml does not read; this tool needs updating")?;
    ensure!(
        table.get("workspace").is_some() && table.get("profile").is_some(),
        "the new Cargo.toml lacks its profiles"
    );
    Ok(text)
}

fn plugin_toml(id: &str, name: &str) -> Result<String> {
    let mut text = set_line(PLUGIN_TOML, "[plugin]", "id = ", &format!("id = \"{id}\""))?;
    text = set_line(&text, "[plugin]", "name = ", &format!("name = {{ zh = \"{name}\", en = \"{name}\" }}"))?;
    text = set_line(&text, "[plugin]", "version = ", "version = \"0.1.0\"")?;
    ensure!(identity(&text)? == (id.to_owned(), "0.1.0".to_owned()), "the new plugin.toml does not name {id}");
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("tessera-plugin-new-{name}-{}", uuid::Uuid::new_v4().simple()))
    }

    #[test]
    fn makes_a_renamed_crate_of_its_own_that_reaches_the_sdk() -> Result<()> {
        let dir = temp("ok");
        let files = new_plugin("visit-notes", &dir, None)?;
        assert_eq!(files.len(), 5);
        let cargo: toml::Table = std::fs::read_to_string(dir.join("Cargo.toml"))?.parse()?;
        assert_eq!(cargo["package"]["name"].as_str(), Some("visit-notes"));
        assert!(cargo.contains_key("workspace"), "a workspace of its own");
        assert_eq!(cargo["profile"]["release"]["opt-level"].as_str(), Some("s"));
        let sdk = cargo["dependencies"]["tessera-sdk"]["path"].as_str().context("an SDK path")?;
        assert!(Path::new(sdk).is_absolute() && Path::new(sdk).join("Cargo.toml").is_file(), "{sdk}");
        let manifest = std::fs::read_to_string(dir.join("plugin.toml"))?;
        assert_eq!(identity(&manifest)?, ("visit-notes".to_owned(), "0.1.0".to_owned()));
        assert!(manifest.contains("en = \"Visit Notes\""), "{manifest}");
        let tests = std::fs::read_to_string(dir.join("tests/plugin.rs"))?;
        assert!(tests.contains("/api/plugins/visit-notes/notes") && !tests.contains(TEMPLATE_ID));
        let err = format!("{:#}", new_plugin("visit-notes", &dir, None).expect_err("not empty"));
        assert!(err.contains("--dir"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
        Ok(())
    }

    #[test]
    fn refuses_a_bad_id_and_a_folder_that_is_not_the_sdk() {
        let err = format!("{:#}", new_plugin("Notes", &temp("id"), None).expect_err("a bad id"));
        assert!(err.contains("lower-case"), "{err}");
        let not_sdk = std::env::temp_dir();
        let err = format!("{:#}", new_plugin("notes", &temp("sdk"), Some(&not_sdk)).expect_err("not the SDK"));
        assert!(err.contains("--sdk"), "{err}");
    }
}
