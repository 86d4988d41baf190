//! The `tailerbot` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tailerbot::tls::install_crypto_provider();
    tailerbot::crash::setup();
    let cli = tailerbot::cli::Cli::parse();
    tailerbot::cli::run(cli)
}
