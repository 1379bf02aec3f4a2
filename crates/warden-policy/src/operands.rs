//! Which words of a command are text rather than files it may read: a path rule for `.env`
//! must see `cat .env` and `grep KEY .env`, and not `echo .env >> .gitignore`, `find -name
//! '.env*'` or `grep -rn '.env' src`, which agents run all day and which read no secret.
//!
//! The program's `[programs.NAME]` entry says which words are text (see [`ProgramSpec`]):
//!
//! | entry | words that are text | example |
//! |---|---|---|
//! | `reads_no_content = true` | every word after the program | `echo .env`, `printf`, `test -f .env`, `ls -la .env*` |
//! | `pattern_options` | the value of such an option: the next word, after `=`, attached to a one-letter option, or after a cluster ending in one | `find -name '.env*'`, `grep --include='*.pem'`, `grep -re .env` |
//! | `pattern_operand` | the first operand, unless an option it lists gave the pattern | `grep KEY .env` (KEY), `sed 's/a/b/' f` |
//!
//! Every other word may be a path; the operands among them are the files a program that edits in
//! place writes ([`file_operands`]). Where the entry is wrong or incomplete the error is towards
//! reading: an option missing from `value_args` makes its value the pattern and the pattern a
//! file.

use crate::file::ProgramSpec;

/// Per word of `argv` (the program's own word included, never text): whether it is text the
/// program's entry says is not a path; empty when the entry says nothing of the kind (most
/// programs), so that a word past the end is not text.
pub(crate) fn text_words(argv: &[String], spec: Option<&ProgramSpec>) -> Vec<bool> {
    let Some(spec) = spec.filter(|s| {
        s.reads_no_content || !s.pattern_options.is_empty() || s.pattern_operand.is_some()
    }) else {
        return Vec::new();
    };
    if spec.reads_no_content {
        let mut text = vec![true; argv.len()];
        if let Some(program) = text.first_mut() {
            *program = false;
        }
        return text;
    }
    word_kinds(argv, spec)
        .into_iter()
        .map(|k| k == Word::Text)
        .collect()
}

/// The operands of `argv` that name files: not options, not their values, not text (a pattern
/// operand or option): `yq -i EXPR FILE…`'s files, `gawk -i inplace PROGRAM FILE…`'s.
pub(crate) fn file_operands<'a>(argv: &'a [String], spec: &ProgramSpec) -> Vec<&'a str> {
    argv.iter()
        .zip(word_kinds(argv, spec))
        .filter(|(_, k)| *k == Word::Operand)
        .map(|(w, _)| w.as_str())
        .collect()
}

/// What a word of a command line is, by its program's entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    /// The program itself, an option, or an option holding its own value that may be a path.
    Other,
    /// The value of an option of `value_args` (may be a path).
    Value,
    /// Text, never a path (see the module table).
    Text,
    /// An operand that may name a file.
    Operand,
}

fn word_kinds(argv: &[String], spec: &ProgramSpec) -> Vec<Word> {
    let mut kinds = vec![Word::Other; argv.len()];
    let givers: &[String] = spec.pattern_operand.as_deref().unwrap_or_default();
    let mut pattern_given = false;
    let mut first_operand = None;
    let mut options_done = false;
    let mut k = 1;
    while k < argv.len() {
        let word = argv[k].as_str();
        if options_done || !word.starts_with('-') || word == "-" {
            kinds[k] = Word::Operand;
            first_operand.get_or_insert(k);
        } else if word == "--" {
            options_done = true;
        } else {
            let opt = option(word, spec, givers);
            pattern_given |= opt.gives_pattern;
            let value = if opt.text { Word::Text } else { Word::Value };
            match opt.value {
                Value::None => {}
                Value::Here if opt.text => kinds[k] = Word::Text,
                Value::Here => {}
                Value::Next => {
                    if let Some(kind) = kinds.get_mut(k + 1) {
                        *kind = value;
                    }
                    k += 1;
                }
            }
        }
        k += 1;
    }
    if spec.pattern_operand.is_some()
        && !pattern_given
        && let Some(i) = first_operand
    {
        kinds[i] = Word::Text;
    }
    kinds
}

/// What an option word (it starts with `-` and is not `-` or `--`) is.
struct Opt {
    /// Where its value is.
    value: Value,
    /// Its value is text (a `pattern_options` one), not a possible path.
    text: bool,
    /// It gives the pattern (`-e PAT`, `-f FILE`) or asks for none (`rg --files`), so that no
    /// operand is one.
    gives_pattern: bool,
}

enum Value {
    /// It takes none, or none we know of.
    None,
    /// In the word itself (`--exclude=.env`, `-e.env`, `-A3`).
    Here,
    /// The next word.
    Next,
}

fn option(word: &str, spec: &ProgramSpec, givers: &[String]) -> Opt {
    let listed = |list: &[String], name: &str| list.iter().any(|o| o == name);
    let describe = |name: &str, value: Value| {
        let text = listed(&spec.pattern_options, name);
        let gives_pattern = listed(givers, name);
        // A giver that takes no value is a mode with no pattern (`rg --files DIR`).
        let takes_value = text || listed(&spec.value_args, name);
        Opt {
            value: if takes_value { value } else { Value::None },
            text,
            gives_pattern,
        }
    };
    // A whole option (`--include=*.pem`, `--include *.pem`, find's `-name PAT`).
    let (name, value) = match word.split_once('=') {
        Some((n, _)) if word.starts_with("--") => (n, Value::Here),
        _ => (word, Value::Next),
    };
    let whole = describe(name, value);
    if !matches!(whole.value, Value::None) || word.starts_with("--") {
        return whole;
    }
    // A cluster of one-letter options (`-rn`, `-rie PAT`, `-A3`): the first letter that takes
    // a value takes the rest of the word, or the next word when it is the last.
    let letters = &word[1..];
    for (i, c) in letters.char_indices() {
        let rest_empty = i + c.len_utf8() == letters.len();
        let one = describe(
            &format!("-{c}"),
            if rest_empty { Value::Next } else { Value::Here },
        );
        if !matches!(one.value, Value::None) {
            return one;
        }
    }
    whole
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grep() -> ProgramSpec {
        ProgramSpec {
            value_args: ["-A", "-m", "-f", "--file"].map(String::from).to_vec(),
            pattern_options: ["-e", "--regexp", "--include"].map(String::from).to_vec(),
            pattern_operand: Some(
                ["-e", "--regexp", "-f", "--file"]
                    .map(String::from)
                    .to_vec(),
            ),
            ..ProgramSpec::default()
        }
    }

    /// The words of `line` that are text under `spec`.
    fn texts(line: &str, spec: &ProgramSpec) -> Vec<String> {
        let argv: Vec<String> = line.split(' ').map(String::from).collect();
        let text = text_words(&argv, Some(spec));
        argv.into_iter()
            .zip(text)
            .filter(|(_, t)| *t)
            .map(|(w, _)| w)
            .collect()
    }

    #[test]
    fn the_first_operand_is_the_pattern() {
        let g = grep();
        assert_eq!(texts("grep KEY .env", &g), ["KEY"]);
        assert_eq!(texts("grep -rn .env src", &g), [".env"]);
        assert_eq!(texts("grep -A 3 KEY .env", &g), ["KEY"]);
        assert_eq!(texts("grep -m1 KEY .env", &g), ["KEY"]);
        assert_eq!(texts("grep -rA 3 KEY .env", &g), ["KEY"]);
        assert_eq!(texts("grep -A3 KEY .env", &g), ["KEY"]);
        assert_eq!(texts("grep KEY .env -r", &g), ["KEY"]);
        assert_eq!(texts("grep -- -KEY .env", &g), ["-KEY"]);
    }

    #[test]
    fn an_option_that_gives_the_pattern_leaves_every_operand_a_file() {
        let g = grep();
        assert_eq!(texts("grep -e KEY .env", &g), ["KEY"]);
        assert_eq!(texts("grep .env -e KEY", &g), ["KEY"]);
        assert_eq!(texts("grep -rie KEY .env", &g), ["KEY"]);
        assert_eq!(texts("grep -eKEY .env", &g), ["-eKEY"]);
        assert_eq!(texts("grep --regexp=KEY .env", &g), ["--regexp=KEY"]);
        assert_eq!(texts("grep --regexp KEY .env", &g), ["KEY"]);
        assert_eq!(texts("grep -f pats .env", &g), Vec::<String>::new());
        assert_eq!(texts("grep -rf pats .env", &g), Vec::<String>::new());
        assert_eq!(texts("grep --file=pats .env", &g), Vec::<String>::new());
    }

    #[test]
    fn pattern_options_values_are_text_in_every_form() {
        let g = grep();
        assert_eq!(texts("grep -r --include *.pem KEY .", &g), ["*.pem", "KEY"]);
        assert_eq!(
            texts("grep -r --include=*.pem KEY .", &g),
            ["--include=*.pem", "KEY"]
        );
    }

    #[test]
    fn file_operands_are_neither_options_their_values_nor_the_pattern() {
        let g = grep();
        let argv = |l: &str| -> Vec<String> { l.split(' ').map(String::from).collect() };
        let a = argv("grep -A 3 --include *.rs KEY src .env");
        assert_eq!(file_operands(&a, &g), ["src", ".env"]);
        let a = argv("grep -f pats -- -x .env");
        assert_eq!(file_operands(&a, &g), ["-x", ".env"]);
    }

    #[test]
    fn a_program_without_an_entry_or_with_a_plain_one_has_no_text() {
        let argv: Vec<String> = ["cat", ".env"].map(String::from).to_vec();
        assert!(text_words(&argv, None).is_empty());
        assert!(text_words(&argv, Some(&ProgramSpec::default())).is_empty());
        let echo = ProgramSpec {
            reads_no_content: true,
            ..ProgramSpec::default()
        };
        assert_eq!(texts("echo -n .env", &echo), ["-n", ".env"]);
    }
}
