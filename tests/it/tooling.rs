//! `flow completions` and `flow man`: generated from the command line itself, checked by the
//! shells and by groff.

use std::process::Command;

use crate::common::flow_cli;

const COMMANDS: [&str; 8] = ["check", "explain", "run", "copy", "status", "verify", "completions", "man"];

#[test]
fn the_bash_completion_script_parses_and_completes_every_command_and_option() {
    let (code, script, stderr) = flow_cli(&["completions", "bash"]);
    assert_eq!(code, 0, "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flow.bash");
    std::fs::write(&path, &script).unwrap();
    let syntax = Command::new("bash").arg("-n").arg(&path).output().unwrap();
    assert!(syntax.status.success(), "bash -n: {}", String::from_utf8_lossy(&syntax.stderr));
    // Ask bash itself what `flow <TAB>` and `flow run --re<TAB>` complete to.
    // Bash calls the function with the command, the word being completed and the one before it.
    let complete = |words: &str, current: usize| {
        let probe = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={current}; COMP_LINE=\"{words}\"; COMP_POINT=${{#COMP_LINE}}; \
             _flow flow \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            path.display()
        );
        let out = Command::new("bash").arg("-c").arg(probe).output().unwrap();
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect::<Vec<_>>()
    };
    let top = complete("flow ''", 1);
    for command in COMMANDS {
        assert!(top.iter().any(|w| w == command), "`flow <TAB>` lacks {command}: {top:?}");
    }
    assert_eq!(complete("flow run --re", 2), ["--report", "--resume"]);
    assert_eq!(complete("flow completions p", 2), ["powershell"]);
}

#[test]
fn zsh_fish_and_powershell_scripts_name_every_command() {
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let (code, script, stderr) = flow_cli(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {stderr}");
        for command in COMMANDS {
            assert!(script.contains(command), "{shell} script lacks {command}");
        }
    }
    let (code, _, stderr) = flow_cli(&["completions", "tcsh"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("invalid value 'tcsh'"), "{stderr}");
}

#[test]
fn the_manual_renders_with_groff_and_documents_every_command_and_option() {
    let (code, roff, stderr) = flow_cli(&["man"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        roff.starts_with(".ie \\n(.g .ds Aq \\(aq") || roff.contains(".TH flow 1"),
        "{}",
        &roff[..200.min(roff.len())]
    );
    assert!(!roff.contains("flow\\-check(1)"), "no references to pages that do not exist");
    for command in COMMANDS {
        assert!(roff.contains(&format!(".SH \"FLOW {}\"", command.to_uppercase())), "no section for {command}");
    }
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("flow.1");
    std::fs::write(&page, &roff).unwrap();
    let Ok(out) = Command::new("groff").args(["-man", "-Tutf8", "-ww", "-rLL=300n", "-rHY=0"]).arg(&page).output()
    else {
        println!("skipped the groff rendering: groff is not installed");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && warnings.trim().is_empty(), "groff: {warnings}");
    // grotty draws bold and underline by overstriking (`c BACKSPACE c`): keep the last of each.
    let mut plain = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            plain.pop();
        } else {
            plain.push(c);
        }
    }
    let text = plain.replace(['\u{2010}', '\u{2212}'], "-");
    for option in ["--resume", "--connect-retries", "--all-tables", "--offline", "--report"] {
        assert!(text.contains(option), "the rendered page lacks {option}");
    }
}
