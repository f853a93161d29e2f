use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = flow::cli::Cli::parse();
    std::process::ExitCode::from(flow::cli::main_with(cli) as u8)
}
