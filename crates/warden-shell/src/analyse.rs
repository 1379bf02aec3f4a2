//! The analyser proper (placeholder until implemented).

use crate::Analysis;

/// Analyse shell source text.
pub fn analyse_shell(_text: &str) -> Analysis {
    Analysis::default()
}

/// Analyse an argv as it would be exec'd (no shell in between, but wrappers are still peeled).
pub fn analyse_argv(_argv: &[String]) -> Analysis {
    Analysis::default()
}
