//! Helpers shared by the integration tests: compact views of an analysis and its invariants.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use warden_shell::{Analysis, Command, analyse_shell};

/// The argv of every command, in order.
pub fn argvs(a: &Analysis) -> Vec<Vec<String>> {
    a.commands.iter().map(|c| c.argv.clone()).collect()
}

/// Analyse and return the argvs.
pub fn cmds(s: &str) -> Vec<Vec<String>> {
    argvs(&analyse_shell(s))
}

/// The single command whose argv equals `argv`; panics with the whole analysis otherwise.
pub fn find<'a>(a: &'a Analysis, argv: &[&str]) -> &'a Command {
    let hits: Vec<&Command> = a.commands.iter().filter(|c| c.argv == argv).collect();
    assert!(hits.len() == 1, "expected exactly one {argv:?} in {a:#?}");
    hits[0]
}

/// Analyse `s` and return the command with `argv`.
pub fn only(s: &str, argv: &[&str]) -> Command {
    let a = analyse_shell(s);
    find(&a, argv).clone()
}

/// Whether the analysis reports `argv` anywhere.
pub fn has(a: &Analysis, argv: &[&str]) -> bool {
    a.commands.iter().any(|c| c.argv == argv)
}

/// Structural invariants every analysis must satisfy for `text`.
pub fn check_invariants(text: &str, a: &Analysis) {
    for s in a
        .commands
        .iter()
        .map(|c| c.span)
        .chain(a.opaque.iter().map(|o| o.span))
    {
        assert!(s.start <= s.end, "span {s:?} reversed for {text:?}");
        assert!(
            s.end <= text.len(),
            "span {s:?} beyond text of {} bytes",
            text.len()
        );
        assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
    }
    for c in &a.commands {
        assert!(!c.argv.is_empty(), "empty argv in {a:#?}");
    }
}
