//! `flow completions SHELL` and `flow man`: the command line described for shells and for
//! `man`, generated from the same clap definitions the parser uses (clap_complete,
//! clap_mangen), so they cannot drift from the options Flow takes.

use std::io::Write;

use clap::CommandFactory;

use super::{Cli, Exit};

/// Writes the completion script for `shell` to stdout (see the README's "Tooling" for where
/// each shell loads it from).
pub fn completions(shell: clap_complete::Shell) -> Exit {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "flow", &mut out);
    write_stdout(&out)
}

/// Writes the manual page of `flow` and every subcommand, as one roff document, to stdout
/// (`flow man > flow.1; man -l flow.1`).
pub fn man() -> Exit {
    match man_page() {
        Ok(page) => write_stdout(&page),
        Err(e) => {
            crate::eprintln_lossy!("error: cannot render the manual page: {e}");
            Exit::Runtime
        }
    }
}

/// The roff text of the manual: `flow(1)` followed by a section per subcommand.
pub fn man_page() -> std::io::Result<Vec<u8>> {
    let command = Cli::command();
    let mut out = Vec::new();
    // The page of `flow` itself without clap_mangen's list of `flow-<command>(1)` pages: the
    // commands follow here, on this one page.
    let top = clap_mangen::Man::new(command.clone());
    top.render_title(&mut out)?;
    top.render_name_section(&mut out)?;
    top.render_synopsis_section(&mut out)?;
    top.render_description_section(&mut out)?;
    top.render_options_section(&mut out)?;
    top.render_version_section(&mut out)?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("flow {}", sub.get_name());
        writeln!(out, ".SH \"{}\"", name.to_uppercase())?;
        if let Some(about) = sub.get_long_about().or(sub.get_about()) {
            writeln!(out, "{}", roff_text(&about.to_string()))?;
        }
        let man = clap_mangen::Man::new(sub.clone().bin_name(name.clone()));
        let mut section = Vec::new();
        man.render_synopsis_section(&mut section)?;
        man.render_options_section(&mut section)?;
        out.extend(demote_sections(&section, &name));
    }
    Ok(ascii_roff(&out))
}

/// Every character outside ASCII as groff's `\[uXXXX]` escape (the help texts hold `—` and
/// `≈`): troff reads its input as Latin-1 unless a preprocessor says otherwise.
fn ascii_roff(roff: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(roff);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\[u{:04X}]", u32::from(c)));
        }
    }
    out.into_bytes()
}

/// A subcommand's sections become subsections (`.SH NAME` → `.SS "flow run: NAME"`) under its
/// own `.SH`, so `man` shows one page.
fn demote_sections(roff: &[u8], command: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(roff);
    let mut out = String::new();
    for line in text.lines() {
        match line.strip_prefix(".SH ") {
            Some(title) => out.push_str(&format!(".SS \"{command}: {}\"\n", title.trim_matches('"'))),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out.into_bytes()
}

/// Plain text as a roff paragraph: a leading `.` or `'` would read as a request, and `\` as an
/// escape.
fn roff_text(text: &str) -> String {
    let escaped = text.replace('\\', "\\e");
    escaped
        .lines()
        .map(|l| if l.starts_with(['.', '\'']) { format!("\\&{l}") } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn write_stdout(bytes: &[u8]) -> Exit {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Exit::Ok,
        // A closed pipe (`flow man | head`) is not an error of Flow's.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Ok,
        Err(e) => {
            crate::eprintln_lossy!("error: cannot write to stdout: {e}");
            Exit::Runtime
        }
    }
}
