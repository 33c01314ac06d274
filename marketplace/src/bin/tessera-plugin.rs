//! The `tessera-plugin` binary: parses its arguments and runs one subcommand of
//! [`tessera_marketplace::dev`].

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use tessera_marketplace::dev::publish::{Credentials, Marketplace};
use tessera_marketplace::dev::tpkg::{Built, read_certificate};
use tessera_marketplace::dev::{PluginCrate, build, keys, new, publish};

#[derive(Debug, Parser)]
#[command(name = "tessera-plugin", version, about = "Make, build, test, sign and publish Tessera CRM plugins")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The built package to work on.
#[derive(Debug, Args)]
struct Input {
    /// The plugin crate's Cargo.toml (default: the one in the current folder).
    #[arg(long)]
    manifest_path: Option<PathBuf>,
    /// A built package (`<id>-<version>.wasm`) to use instead of the crate's.
    #[arg(long, conflicts_with = "manifest_path")]
    wasm: Option<PathBuf>,
}

impl Input {
    fn built(&self) -> Result<Built> {
        Built::find(self.manifest_path.as_deref(), self.wasm.as_deref())
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make a plugin crate from the template.
    New {
        /// The plugin id: lower-case letters, digits and dashes.
        id: String,
        /// Where to make it (default: ./<id>).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The sdk/ folder of a Tessera checkout (default: the checkout this tool was built in).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Build the plugin for wasm32-wasip2, embed plugin.toml and check the package as a host does.
    Build {
        #[arg(long)]
        manifest_path: Option<PathBuf>,
    },
    /// Run the plugin's tests with the test kit (arguments after `--` go to cargo test).
    Test {
        #[arg(long)]
        manifest_path: Option<PathBuf>,
        #[arg(last = true)]
        cargo_args: Vec<String>,
    },
    /// Make a publisher key pair: publisher.key (secret) and publisher.pub.
    Keygen {
        /// The folder to write them to.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Write an unsigned .tpkg of the built package.
    Package {
        #[command(flatten)]
        input: Input,
    },
    /// Write a .tpkg of the built package signed with your key under the marketplace's certificate.
    Sign {
        #[command(flatten)]
        input: Input,
        /// Your secret key (from `tessera-plugin keygen`).
        #[arg(long)]
        key: PathBuf,
        /// The certificate the marketplace issued for that key (GET /api/v1/publishers/me/certificate).
        #[arg(long)]
        certificate: PathBuf,
    },
    /// Register your key, claim the plugin id, sign the built package and upload it.
    Publish {
        #[command(flatten)]
        input: Input,
        /// The marketplace's address, such as https://marketplace.example.
        #[arg(long, env = "TESSERA_MARKETPLACE")]
        marketplace: String,
        /// A publisher token; or sign in with --email and --password.
        #[arg(long, env = "TESSERA_MARKETPLACE_TOKEN", required_unless_present = "email", conflicts_with = "email")]
        token: Option<String>,
        #[arg(long, requires = "password")]
        email: Option<String>,
        #[arg(long, env = "TESSERA_MARKETPLACE_PASSWORD", requires = "email")]
        password: Option<String>,
        /// Your secret key.
        #[arg(long, default_value = keys::SECRET_FILE)]
        key: PathBuf,
        /// What changed: the text itself, or a file holding it.
        #[arg(long)]
        changelog: Option<String>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::New { id, dir, sdk } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&id));
            new::new_plugin(&id, &dir, sdk.as_deref())?;
            println!(
                "Made plugin {id} in {}; next: `tessera-plugin build --manifest-path {}`",
                dir.display(),
                dir.join("Cargo.toml").display()
            );
        }
        Command::Build { manifest_path } => {
            let plugin = PluginCrate::open(manifest_path.as_deref())?;
            let path = build::build(&plugin)?;
            println!("Built {} {}: {}", plugin.id, plugin.version, path.display());
        }
        Command::Test { manifest_path, cargo_args } => {
            build::test(&PluginCrate::open(manifest_path.as_deref())?, &cargo_args)?;
        }
        Command::Keygen { out } => {
            let (secret, public) = keys::keygen(&out)?;
            println!("Wrote {} (keep it secret) and {}", secret.display(), out.join(keys::PUBLIC_FILE).display());
            println!("key id {}: `tessera-plugin publish` registers it with the marketplace", public.key_id());
        }
        Command::Package { input } => {
            let path = input.built()?.write_unsigned()?;
            println!("Wrote {}", path.display());
        }
        Command::Sign { input, key, certificate } => {
            let built = input.built()?;
            let path = built.write_signed(&keys::read_secret(&key)?, read_certificate(&certificate)?)?;
            println!("Wrote {}", path.display());
        }
        Command::Publish { input, marketplace, token, email, password, key, changelog } => {
            let built = input.built()?;
            let key = keys::read_secret(&key)?;
            let changelog = changelog.as_deref().map(publish::changelog).transpose()?;
            let credentials = match (token, email, password) {
                (Some(token), _, _) => Credentials::Token(token),
                (None, Some(email), Some(password)) => Credentials::Password { email, password },
                _ => anyhow::bail!("give --token TOKEN, or --email and --password of your publisher account"),
            };
            let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            let published = runtime.block_on(async {
                let market = Marketplace::sign_in(&marketplace, credentials).await?;
                publish::publish(&market, &built, &key, changelog.as_deref()).await
            })?;
            if published.registered_key {
                println!("Registered key {} with the marketplace", key.key_id());
            }
            println!("Published {} {} ({})", published.id, published.version, published.signed.display());
            println!("{}", published.catalog_url);
            if !published.listed {
                println!(
                    "The catalog shows {} once it is on sale: PUT /api/v1/plugins/{}/listing (category, kind, price); \
                     see docs/marketplace.md",
                    published.id, published.id
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("tessera-plugin").chain(args.iter().copied())).map(|cli| cli.command)
    }

    #[test]
    fn publish_takes_a_token_or_an_email_and_password() {
        let base = ["publish", "--marketplace", "http://127.0.0.1:1"];
        let with = |extra: &[&'static str]| parse(&[&base[..], extra].concat());
        assert!(matches!(with(&["--token", "t"]), Ok(Command::Publish { token: Some(_), .. })));
        assert!(matches!(
            with(&["--email", "a@example.com", "--password", "p"]),
            Ok(Command::Publish { email: Some(_), password: Some(_), .. })
        ));
        for (args, says) in [
            (&[][..], "--token"),
            (&["--email", "a@example.com"][..], "--password"),
            (&["--token", "t", "--email", "a@example.com", "--password", "p"][..], "cannot be used with"),
        ] {
            let err = with(args).expect_err("refused").to_string();
            assert!(err.contains(says), "{args:?}: {err}");
        }
    }

    #[test]
    fn the_other_subcommands_read_their_arguments() {
        assert!(matches!(parse(&["new", "notes", "--dir", "x"]), Ok(Command::New { dir: Some(_), .. })));
        assert!(parse(&["new"]).expect_err("an id is needed").to_string().contains("<ID>"));
        assert!(
            matches!(parse(&["test", "--", "--nocapture"]), Ok(Command::Test { cargo_args, .. }) if cargo_args == ["--nocapture"])
        );
        assert!(
            parse(&["sign", "--key", "k"]).expect_err("a certificate is needed").to_string().contains("--certificate")
        );
        assert!(
            parse(&["package", "--wasm", "a.wasm", "--manifest-path", "Cargo.toml"])
                .expect_err("one input")
                .to_string()
                .contains("cannot be used with")
        );
        assert!(matches!(parse(&["keygen"]), Ok(Command::Keygen { out }) if out == Path::new(".")));
    }

    #[test]
    fn a_missing_crate_says_where_to_run() {
        let err = format!(
            "{:#}",
            run(Command::Build { manifest_path: Some("/nonexistent/Cargo.toml".into()) }).expect_err("no crate")
        );
        assert!(err.contains("--manifest-path"), "{err}");
    }
}
