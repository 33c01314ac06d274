//! The `tessera` binary: the CRM server and its admin commands.

fn main() -> std::process::ExitCode {
    tessera_host::cli::main()
}
