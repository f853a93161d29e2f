use clap::Parser;

fn main() -> std::process::ExitCode {
    // Rust ignores SIGPIPE, so `flow explain ... | head` would panic on the closed pipe ("failed
    // printing to stdout") and exit 101. Like other Unix tools, end quietly instead: the reader
    // has gone. A run killed so mid-way is one `--resume` finishes.
    #[cfg(unix)]
    // SAFETY: restoring a signal's default disposition at start-up, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = flow::cli::Cli::parse();
    flow::cli::log_format::init(flow::cli::log_format::format_of(&cli));
    std::process::ExitCode::from(flow::cli::main_with(cli) as u8)
}
