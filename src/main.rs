#![deny(unsafe_code)]

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = flow::cli::Cli::parse();
    flow::cli::log_format::init(flow::cli::log_format::format_of(&cli));
    std::process::ExitCode::from(flow::cli::main_with(cli) as u8)
}
