//! The `tailerbot` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

/// jemalloc returns freed memory to the system within seconds, where glibc's arenas kept
/// what bursts of commands had fragmented (bench/RESULTS.md §9).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    tailerbot::tls::install_crypto_provider();
    tailerbot::crash::setup();
    let cli = tailerbot::cli::Cli::parse();
    tailerbot::cli::run(cli)
}
