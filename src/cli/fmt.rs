//! `flow fmt [--check] [PATH...]`: rewrite `.flow` files in the canonical layout
//! ([`crate::syntax::format`]).
//!
//! Paths may be files or directories (searched for `*.flow`, skipping hidden directories,
//! `target` and `node_modules`); no path means the current directory; `-` reads standard input
//! and writes the formatted text to standard output. A file is rewritten only when its text
//! changes, through a temporary file renamed over it, so an interrupted `fmt` never leaves half a
//! file. Exit codes: 0 when every file is (now) formatted; 1 with `--check` when some file would
//! change (each is named); 2 when a file cannot be read or does not parse (its syntax error is
//! printed, the other files are still formatted).

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Exit, FmtArgs};
use crate::diagnostics::FileProblems;
use crate::syntax::format::format;

/// Directories never searched for `.flow` files: build output and dependencies.
const SKIPPED_DIRS: &[&str] = &["target", "node_modules"];

pub fn run(args: FmtArgs) -> Exit {
    if args.paths.iter().any(|p| p.as_os_str() == "-") {
        return stdin(&args);
    }
    let roots = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths.clone() };
    let mut files = Vec::new();
    let mut unusable = false;
    for root in &roots {
        if let Err(e) = collect(root, root == Path::new(".") || root.is_dir(), &mut files) {
            crate::eprintln_lossy!("error: cannot read {}: {e}", root.display());
            unusable = true;
        }
    }
    let mut changed = Vec::new();
    for file in &files {
        match format_file(file, args.check) {
            Ok(true) => changed.push(file),
            Ok(false) => {}
            Err(()) => unusable = true,
        }
    }
    for file in &changed {
        if args.check {
            super::say!("would reformat {}\n", file.display());
        } else {
            super::say!("formatted {}\n", file.display());
        }
    }
    if unusable {
        Exit::Usage
    } else if args.check && !changed.is_empty() {
        let mut command = vec!["flow".to_string(), "fmt".to_string()];
        command.extend(args.paths.iter().map(|p| p.display().to_string()));
        crate::eprintln_lossy!(
            "{} file(s) would be reformatted; run `{}` to format them",
            changed.len(),
            super::common::shell_words(&command)
        );
        Exit::Runtime
    } else {
        Exit::Ok
    }
}

fn stdin(args: &FmtArgs) -> Exit {
    if args.paths.len() > 1 {
        crate::eprintln_lossy!("error: `-` (standard input) cannot be mixed with other paths");
        return Exit::Usage;
    }
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        crate::eprintln_lossy!("error: cannot read standard input: {e}");
        return Exit::Usage;
    }
    match format(&text) {
        Ok(formatted) if args.check && formatted != text => {
            crate::eprintln_lossy!("<stdin> would be reformatted");
            Exit::Runtime
        }
        Ok(_) if args.check => Exit::Ok,
        Ok(formatted) => {
            super::say!("{formatted}");
            Exit::Ok
        }
        Err(problem) => {
            crate::eprint_lossy!("{}", FileProblems::new("<stdin>", &text, vec![problem]).render_graphical());
            Exit::Usage
        }
    }
}

/// `.flow` files under `path` (itself when a file), sorted, so output order is stable.
fn collect(path: &Path, search: bool, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !search {
        std::fs::metadata(path)?;
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for entry in entries {
        let name = entry.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // Symbolic links to directories are not followed: a link back up would loop.
        let linked = std::fs::symlink_metadata(&entry).is_ok_and(|m| m.file_type().is_symlink());
        if entry.is_dir() && linked {
            continue;
        }
        if entry.is_dir() {
            if !name.starts_with('.') && !SKIPPED_DIRS.contains(&name.as_str()) {
                collect(&entry, true, out)?;
            }
        } else if name.ends_with(".flow") {
            out.push(entry);
        }
    }
    Ok(())
}

/// Formats one file; `Ok(true)` when its text changes (and, unless `check`, was rewritten).
/// Problems are printed here; `Err(())` says the file could not be used.
fn format_file(file: &Path, check: bool) -> Result<bool, ()> {
    let text = super::common::read_flow_file(file).map_err(|why| crate::eprintln_lossy!("error: {why}"))?;
    let formatted = format(&text).map_err(|problem| {
        crate::eprint_lossy!(
            "{}",
            FileProblems::new(&file.display().to_string(), &text, vec![problem]).render_graphical()
        );
    })?;
    if formatted == text {
        return Ok(false);
    }
    if !check {
        replace(file, &formatted).map_err(|e| crate::eprintln_lossy!("error: cannot write {}: {e}", file.display()))?;
    }
    Ok(true)
}

/// Writes `text` into `file`. Through a temporary file renamed over the file (so an interrupted
/// `fmt` leaves the old text or the new, never half), keeping its permissions and, where this
/// process may, its owner; a symbolic link is followed (the file it names is formatted, the
/// link stays). A file with several hard links is rewritten in place instead, so the links keep
/// sharing it. A read-only file is refused.
fn replace(file: &Path, text: &str) -> std::io::Result<()> {
    let file = &std::fs::canonicalize(file)?;
    let meta = std::fs::metadata(file)?;
    if meta.permissions().readonly() {
        return Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, "the file is read-only; not formatted"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() > 1 {
            return std::fs::write(file, text);
        }
    }
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{name}.fmt-{}", std::process::id()));
    std::fs::write(&temp, text)?;
    let _ = std::fs::set_permissions(&temp, meta.permissions());
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // Only root may give a file away; for anyone else the owner is already theirs.
        let _ = std::os::unix::fs::chown(&temp, Some(meta.uid()), Some(meta.gid()));
    }
    std::fs::rename(&temp, file).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}
