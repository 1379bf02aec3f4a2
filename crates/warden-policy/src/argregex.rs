//! A rule's `arg_regex`, built only when some argument could match it. Building a regular
//! expression and its matching state costs a one-action `warden check` process more than the
//! rest of its classification, and most commands of a rule's program cannot match it (the rule
//! on git's `-c core.pager=…` looks at every git command). The characters every match must
//! contain are read from the pattern's top level; an argument lacking one of them cannot match,
//! so it is rejected without building anything.

use regex_lite::Regex;
use std::sync::OnceLock;

/// A rule's regular expression with its cheap necessary condition.
#[derive(Debug, Clone)]
pub(crate) struct ArgRegex {
    source: String,
    /// Characters every match contains (empty: no condition known).
    required: Vec<char>,
    compiled: OnceLock<Option<Regex>>,
}

impl ArgRegex {
    pub(crate) fn new(source: &str) -> Self {
        Self {
            source: source.to_owned(),
            required: required_chars(source),
            compiled: OnceLock::new(),
        }
    }

    /// Whether `word` could match: it holds every required character. A necessary condition
    /// only; [`ArgRegex::regex`] decides.
    pub(crate) fn may_match(&self, word: &str) -> bool {
        self.required.iter().all(|c| word.contains(*c))
    }

    /// The built expression; `None` if it does not build (every layer's expressions are
    /// validated when it loads, the built-in default's by this crate's tests).
    pub(crate) fn regex(&self) -> Option<&Regex> {
        self.compiled
            .get_or_init(|| Regex::new(&self.source).ok())
            .as_ref()
    }
}

/// Characters that stand alone at the top level of `pattern` (outside groups, classes and
/// alternatives, not made optional by `?`, `*` or `{…}`): every match contains each of them.
/// Anything this reading does not fully understand gives no condition at all.
fn required_chars(pattern: &str) -> Vec<char> {
    let chars: Vec<char> = pattern.chars().collect();
    // Inline flags: verbose mode changes what characters mean; case-insensitive mode makes
    // letters match their other case.
    let mut case_insensitive = false;
    for (i, w) in chars.windows(2).enumerate() {
        if w == ['(', '?'] {
            let flags: String = chars[i + 2..]
                .iter()
                .take_while(|c| c.is_ascii_alphabetic() || **c == '-')
                .collect();
            if flags.contains('x') {
                return Vec::new();
            }
            case_insensitive |= flags.contains('i');
        }
    }
    let optional = |j: usize| matches!(chars.get(j), Some('?' | '*' | '{'));
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&e) = chars.get(i + 1) else {
                    return Vec::new();
                };
                if e.is_ascii_alphanumeric() {
                    // `\b`, `\s`, `\d` … are classes or assertions; `\x41`, `\u{…}`, `\p{…}`
                    // run on past two characters.
                    if matches!(e, 'x' | 'u' | 'U' | 'p' | 'P' | 'Q' | 'E') {
                        return Vec::new();
                    }
                } else if depth == 0 && !optional(i + 2) {
                    out.push(e);
                }
                i += 2;
                continue;
            }
            '[' => {
                // Skip the class: `[]…]` and `[^]…]` hold a literal `]` first.
                i += 1;
                if chars.get(i) == Some(&'^') {
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    i += 1;
                }
                while i < chars.len() && chars[i] != ']' {
                    match chars[i] {
                        '\\' => i += 1,
                        // Nested classes and set operations: not read here.
                        '[' => return Vec::new(),
                        _ => {}
                    }
                    i += 1;
                }
                if i >= chars.len() {
                    return Vec::new();
                }
            }
            '(' => depth += 1,
            ')' => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return Vec::new(),
            },
            '|' if depth == 0 => return Vec::new(),
            '{' => {
                while i < chars.len() && chars[i] != '}' {
                    i += 1;
                }
            }
            '|' | '.' | '^' | '$' | '?' | '*' | '+' | ']' | '}' => {}
            _ => {
                if depth == 0 && !optional(i + 1) && !(case_insensitive && c.is_alphabetic()) {
                    out.push(c);
                }
            }
        }
        i += 1;
    }
    if depth != 0 {
        return Vec::new();
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_characters_are_read_from_the_top_level_only() {
        assert_eq!(
            required_chars("(?i)^(core\\.(pager|editor)|pager\\.)="),
            vec!['=']
        );
        assert_eq!(required_chars("^db:(migrate|drop)"), vec![':', 'b', 'd']);
        assert_eq!(required_chars("(?i)^db:(migrate|drop)"), vec![':']);
        assert!(required_chars("^(rm|shred|unlink)$").is_empty());
        assert!(required_chars("a|b").is_empty());
        assert!(required_chars("a?b*c{0,2}").is_empty());
        assert_eq!(required_chars("x+[=]y"), vec!['x', 'y']);
        assert_eq!(required_chars("\\.\\b\\s"), vec!['.']);
        assert!(required_chars("\\x3d").is_empty());
        assert!(required_chars("(?x) = ").is_empty());
        assert!(required_chars("[[:alpha:]]=").is_empty());
        assert!(required_chars("(a").is_empty());
    }

    #[test]
    fn the_condition_never_rejects_what_the_expression_matches() {
        // Every `arg_regex` of the built-in default against words built from its own pieces.
        let file: crate::PolicyFile =
            toml::from_str(crate::DEFAULT_POLICY).expect("default parses");
        let words = [
            "core.pager=less",
            "CORE.PAGER=less",
            "core.sshCommand=ssh",
            "alias.x=!sh",
            "db:migrate",
            "DB:MIGRATE",
            "migrate",
            "rm",
            "create table t",
            "CREATE TABLE t",
            "x.dropDatabase(",
            "GITHUB_TOKEN",
            "$AWS_SECRET_ACCESS_KEY",
            "delete",
            "upload",
            "prisma",
            "--add",
            "-e",
        ];
        let mut checked = 0;
        for spec in file.rules.iter().chain(file.never_auto.iter()) {
            let Some(source) = &spec.arg_regex else {
                continue;
            };
            let re = ArgRegex::new(source);
            let built = re.regex().expect("default regexes build");
            for w in words {
                if built.is_match(w) {
                    checked += 1;
                    assert!(
                        re.may_match(w),
                        "{source} matches {w} but the condition rejects it"
                    );
                }
            }
        }
        assert!(checked > 10, "only {checked} matches checked");
    }
}
