//! The `tessera` binary: the CRM server and its admin commands.

/// mimalloc keeps per-thread heaps; under many concurrent requests the system allocator's
/// shared arenas were a measurable share of a customer-list request.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tessera_host::cli::main()
}
