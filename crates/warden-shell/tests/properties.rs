//! Property tests: arbitrary text and random compositions of shell constructs never make the
//! analyser panic, spans stay inside the text on char boundaries, depth is bounded, and a
//! command buried in statically analysable constructs is never silently lost.

mod common;

use common::{check_invariants, has};
use proptest::prelude::*;
use warden_shell::{
    MAX_DEPTH, analyse_argv, analyse_shell, analyse_shell_by_lines, analyse_shell_parsed,
};

/// Shell fragments that exercise tricky lexing when glued together at random.
const TOKENS: &[&str] = &[
    "git",
    " ",
    "push",
    "'",
    "\"",
    "$",
    "(",
    ")",
    "`",
    "\\",
    "{",
    "}",
    ",",
    "..",
    ";",
    "&&",
    "||",
    "|",
    "&",
    "<",
    ">",
    ">>",
    "<<",
    "EOF",
    "\n",
    "<<<",
    "$'",
    "\\x67",
    "${",
    "$((",
    "))",
    "bash",
    "-c",
    "sudo",
    "env",
    "X=1",
    "eval",
    "xargs",
    "find",
    "-exec",
    "{}",
    "\\;",
    "python3",
    "-e",
    "os.system(",
    "case",
    "in",
    "esac",
    "if",
    "then",
    "fi",
    "for",
    "do",
    "done",
    "[[",
    "]]",
    "é",
    "\u{0}",
    "#",
    "~",
    "*",
    "!",
    "<(",
    "2>&1",
    "cd",
    "..",
    "/",
    "\t",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..60).prop_map(|v| v.concat())
}

/// A random composition of constructs; the flag says whether the text statically contains the
/// command `git push` (only through constructs the analyser must see through).
fn composition() -> impl Strategy<Value = (String, bool)> {
    let leaf = prop_oneof![
        Just(("git push".to_string(), true)),
        Just(("ls -la".to_string(), false)),
        Just(("echo hi > out".to_string(), false)),
        Just(("rm -rf \"$X\"".to_string(), false)),
    ];
    leaf.prop_recursive(4, 32, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone())
                .prop_map(|((a, x), (b, y))| (format!("{a} && {b}"), x || y)),
            (inner.clone(), inner.clone())
                .prop_map(|((a, x), (b, y))| (format!("{a} | {b}"), x || y)),
            (inner.clone(), inner.clone())
                .prop_map(|((a, x), (b, y))| (format!("{a}; {b}"), x || y)),
            inner.clone().prop_map(|(a, x)| (format!("( {a} )"), x)),
            inner.clone().prop_map(|(a, x)| (format!("{{ {a}; }}"), x)),
            inner
                .clone()
                .prop_map(|(a, x)| (format!("bash -c {}", quote(&a)), x)),
            inner
                .clone()
                .prop_map(|(a, x)| (format!("sh -lc {}", quote(&a)), x)),
            inner
                .clone()
                .prop_map(|(a, x)| (format!("eval {}", quote(&a)), x)),
            inner
                .clone()
                .prop_map(|(a, x)| (format!("echo $( {a} )"), x)),
            inner
                .clone()
                .prop_map(|(a, x)| (format!("if true; then {a}; fi"), x)),
            inner
                .clone()
                .prop_map(|(a, x)| (format!("f() {{ {a}; }}"), x)),
            inner.clone().prop_map(|(a, x)| {
                // A delimiter no nested heredoc uses; a newline-terminated heredoc is followed
                // by a command so that a following `;` stays valid syntax.
                let d = format!("E{}", a.len());
                (format!("bash <<'{d}'\n{a}\n{d}\ntrue"), x)
            }),
            inner
                .clone()
                .prop_map(|(a, x)| (format!("xargs sh -c {}", quote(&a)), x)),
            inner
                .clone()
                .prop_map(|(a, x)| (format!("sudo -u root env A=1 sh -c {}", quote(&a)), x)),
            inner.prop_map(|(a, x)| (format!("for i in 1 2; do {a}; done"), x)),
        ]
    })
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Lines for multi-line scripts: plain commands (the fast path) mixed with everything that can
/// tie lines together: blocks, quotes and substitutions over several lines, continuations,
/// heredocs, assignments, `cd`, comments, words the parser skips, syntax errors.
/// The first lines are plain commands, which the scripts take more often.
const PLAIN_SCRIPT_LINES: usize = 11;
const SCRIPT_LINES: &[&str] = &[
    "cargo build --release",
    "cp target/release/app dist/app",
    "git push origin main",
    "rm -rf build",
    "cd sub",
    "cd ..",
    "pushd x",
    "popd",
    "set -euo pipefail",
    "ls; git status",
    "a && b || c",
    "echo \"building $VERSION\"",
    "echo 'a",
    "b'",
    "echo \"x",
    "y\"",
    "if [ -f x ]; then",
    "if true",
    "then",
    "else",
    "fi",
    "if [ -f .env ]; then cat .env; fi",
    "for f in a b; do",
    "while true",
    "do",
    "done",
    "case $x in",
    "a) ls;;",
    "esac",
    "{",
    "}",
    "(",
    ")",
    "f() {",
    "deploy()",
    "(cd sub && make)",
    "echo $(",
    "echo $(date)",
    "cat <<EOF",
    "EOF",
    "bash <<<'git push'",
    "echo a \\",
    "ls |",
    "wc -l",
    "ls &&",
    "x ||",
    "VERSION=1.2",
    "export X=1",
    "echo $X",
    "X=1 git push",
    "readonly Y=2",
    "# if we want",
    "# comment",
    "",
    "   ",
    "- 2>/dev/null x",
    "> out.txt",
    "kubectl -n prod apply -f deploy.yaml",
    "find dist -name '*.tmp' -delete",
    "bash -c 'git push'",
    "eval git push",
    "trap 'rm -rf /' EXIT",
    "alias g=git",
    "g push",
    "`",
    "echo ${",
    "}x",
    "fi; ls",
    "done # x",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>()) {
        let a = analyse_shell(&s);
        check_invariants(&s, &a);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..400)) {
        let s = String::from_utf8_lossy(&b).into_owned();
        let a = analyse_shell(&s);
        check_invariants(&s, &a);
    }

    #[test]
    fn token_soup_never_panics(s in token_soup()) {
        let a = analyse_shell(&s);
        check_invariants(&s, &a);
        let words: Vec<String> = s.split(' ').map(str::to_string).collect();
        let joined = words.join(" ");
        let b = analyse_argv(&words);
        check_invariants(&joined, &b);
    }

    #[test]
    fn compositions_never_lose_a_command((s, contains) in composition()) {
        let a = analyse_shell(&s);
        check_invariants(&s, &a);
        if contains {
            prop_assert!(
                has(&a, &["git", "push"]) || !a.opaque.is_empty(),
                "git push lost in {:?}: {:#?}", s, a
            );
        }
        // These compositions are all valid shell and shallow: nothing should be opaque
        // unless depth ran out.
        if !a.opaque.is_empty() {
            prop_assert!(a.opaque.iter().all(|o| o.reason.contains("deeper")), "{:?}: {:#?}", s, a);
        }
    }

    #[test]
    fn depth_is_bounded(n in 0usize..(MAX_DEPTH * 2)) {
        let s = "eval ".repeat(n) + "git push";
        let a = analyse_shell(&s);
        if n < MAX_DEPTH {
            prop_assert!(has(&a, &["git", "push"]) && a.opaque.is_empty(), "{:#?}", a);
        } else if n > MAX_DEPTH {
            prop_assert!(!has(&a, &["git", "push"]) && !a.opaque.is_empty(), "{:#?}", a);
        }
    }

    /// The parser-free fast path for plain simple commands agrees with the parser.
    #[test]
    fn fast_path_agrees_with_parser(
        words in prop::collection::vec(
            prop_oneof![
                "[a-z0-9_./:=,@%+^~*?-]{1,8}",
                Just("git".to_string()),
                Just("push".to_string()),
                Just("sudo".to_string()),
                Just("bash".to_string()),
                Just("-c".to_string()),
                Just("cd".to_string()),
                Just("'git push'".to_string()),
                Just("\"a b\"".to_string()),
                Just("x'y z'".to_string()),
                Just("python3".to_string()),
                Just("find".to_string()),
                Just("-exec".to_string()),
                Just("[".to_string()),
                Just("]".to_string()),
                Just("&&".to_string()),
                Just("||".to_string()),
                Just(";".to_string()),
                Just("x;".to_string()),
                Just("a;b".to_string()),
                Just("|".to_string()),
                Just("&".to_string()),
            ],
            0..10,
        ),
        sep in prop::sample::select(&[" ", "  ", "\t", " \t "][..]),
    ) {
        let s = words.join(sep);
        prop_assert_eq!(analyse_shell(&s), analyse_shell_parsed(&s), "{:?}", s);
    }

    /// Scripts of many lines, where plain lines take the fast path and the runs of other
    /// lines are parsed one by one (`analyse_lines`), agree with the whole-text parse.
    #[test]
    fn line_by_line_analysis_agrees_with_the_whole_parse(
        lines in prop::collection::vec(
            prop_oneof![
                prop::sample::select(&SCRIPT_LINES[..PLAIN_SCRIPT_LINES]),
                prop::sample::select(SCRIPT_LINES),
            ],
            0..14,
        ),
        indent in prop::sample::select(&["", "  ", "\t"][..]),
        end in prop::sample::select(&["", "\n"][..]),
    ) {
        let s: String = lines
            .iter()
            .map(|l| format!("{indent}{l}"))
            .collect::<Vec<_>>()
            .join("\n")
            + end;
        let whole = analyse_shell_parsed(&s);
        // Where the whole-text parse joined lines into one command it declines (opaque), and
        // the lines parsed on their own are what bash runs.
        if whole.opaque.iter().any(|o| o.reason.contains("joined lines")) {
            prop_assert!(analyse_shell(&s).opaque.is_empty(), "{:?}", s);
        } else {
            prop_assert_eq!(analyse_shell(&s), whole, "{:?}", s);
        }
    }

    #[test]
    fn argv_never_panics(v in prop::collection::vec(".{0,12}", 0..12)) {
        let joined = v.join(" ");
        let a = analyse_argv(&v);
        check_invariants(&joined, &a);
    }
}

/// Regression (found by `fast_path_agrees_with_parser`): tree-sitter-bash reads a bare `==` or
/// `=~` that ends a command as a test operator without its right side; the fast path took it
/// as a plain word, so `cd ==` was analysed differently with and without the parser.
#[test]
fn a_trailing_test_operator_word_takes_the_same_path_both_ways() {
    for s in [
        "cd ==",
        "git push ==",
        "ls =~",
        "cd x ==",
        "cd == x",
        "echo '=='",
    ] {
        assert_eq!(analyse_shell(s), analyse_shell_parsed(s), "{s:?}");
    }
}

/// Issue 16, item 4: every simple command of the parse tree shows up in `commands[]` (a
/// command or an opaque part inside its span), unless the analysis as a whole is opaque.
/// `cd`/`pushd`/`popd` are the exception: they change the scope instead of being reported.
mod no_command_vanishes {
    use super::*;

    const PROGRAMS: &[&str] = &[
        "git",
        "ls",
        "rm",
        "cat",
        "make",
        "npm",
        "kubectl",
        "terraform",
        "curl",
        "echo",
        "printf",
        "true",
        "python3",
        "tar",
        "sed",
        "awk",
        "ssh",
        "docker",
        "find",
        "grep",
        "cd",
        "./x.sh",
        "/usr/bin/env",
        "sort",
        "wc",
        "head",
        "test",
        "[",
        ":",
        "bash -c",
        "sh -c",
    ];
    const ARGS: &[&str] = &[
        "push", "-rf", "status", "x", "'a b'", "\"$X\"", "$(date)", "-n", "--", "{}", "f.txt",
        "~/y", "-c", "*.rs", "\\;", "-exec", "2>&1", ">out", "<in",
    ];
    const WRAPPERS: &[&str] = &[
        "sudo ",
        "env A=1 ",
        "timeout 5 ",
        "nohup ",
        "nice -n 5 ",
        "xargs ",
        "command ",
        "exec ",
        "time ",
        "builtin ",
        "stdbuf -oL ",
        "setsid ",
        "env -i ",
        "env - ",
        // Before issue 16, `xargs -I{} bash -c {}` and `parallel sh -c {}` vanished entirely.
        "xargs -I{} ",
        "parallel ",
        "env -S 'A=1' ",
        "find . -exec ",
    ];

    fn simple() -> impl Strategy<Value = String> {
        (
            prop::sample::select(WRAPPERS.to_vec()).prop_map(str::to_string),
            any::<bool>(),
            prop::sample::select(PROGRAMS),
            prop::collection::vec(prop::sample::select(ARGS), 0..4),
        )
            .prop_map(|(w, wrap, p, args)| {
                let mut s = if wrap { w } else { String::new() };
                s.push_str(p);
                for a in args {
                    s.push(' ');
                    s.push_str(a);
                }
                s
            })
    }

    fn script() -> impl Strategy<Value = String> {
        simple().prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} && {b}")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} || {b}")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} | {b}")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}; {b}")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}\n{b}")),
                inner.clone().prop_map(|a| format!("( {a} )")),
                inner.clone().prop_map(|a| format!("{{ {a}; }}")),
                inner.clone().prop_map(|a| format!("echo $({a})")),
                inner.clone().prop_map(|a| format!("X=`{a}`")),
                inner.clone().prop_map(|a| format!("if {a}; then {a}; fi")),
                inner
                    .clone()
                    .prop_map(|a| format!("while {a}; do {a}; done")),
                inner
                    .clone()
                    .prop_map(|a| format!("for i in 1 2; do {a}; done")),
                inner
                    .clone()
                    .prop_map(|a| format!("case $x in a) {a};; esac")),
                inner.clone().prop_map(|a| format!("f() {{ {a}; }}")),
                inner.clone().prop_map(|a| format!("{a} &")),
                inner.clone().prop_map(|a| format!("! {a}")),
                inner.clone().prop_map(|a| format!("diff <({a}) f")),
            ]
        })
    }

    /// Spans of the `command` nodes that name a program (`cd` and friends left out).
    fn simple_commands(text: &str) -> Vec<(usize, usize, String)> {
        let mut p = tree_sitter::Parser::new();
        p.set_language(&tree_sitter_bash::LANGUAGE.into())
            .expect("bash grammar");
        let tree = p.parse(text, None).expect("parse");
        let mut out = Vec::new();
        let mut stack = vec![tree.root_node()];
        while let Some(n) = stack.pop() {
            if n.kind() == "command"
                && let Some(name) = n.child_by_field_name("name")
            {
                let name = text[name.byte_range()].to_string();
                if !matches!(name.as_str(), "cd" | "pushd" | "popd") {
                    // The body of a backquote substitution holding a backslash is unescaped
                    // and parsed again, so its commands carry the substitution's span.
                    // Arguments after a redirection belong to the command, though the
                    // grammar ends the `command` node before the redirection.
                    let mut region = (n.start_byte(), n.end_byte());
                    let mut up = n.parent();
                    while let Some(p) = up.filter(|p| {
                        // `! cmd 2>&1 arg`: the negation sits between the command and the
                        // redirection its later arguments follow.
                        matches!(
                            p.kind(),
                            "pipeline" | "list" | "redirected_statement" | "negated_command"
                        )
                    }) {
                        if p.kind() == "redirected_statement" {
                            region.1 = p.end_byte();
                        }
                        up = p.parent();
                    }
                    let mut up = n.parent();
                    while let Some(p) = up {
                        let t = &text[p.byte_range()];
                        if p.kind() == "command_substitution"
                            && t.starts_with('`')
                            && t.contains('\\')
                        {
                            region = (p.start_byte(), p.end_byte());
                        }
                        up = p.parent();
                    }
                    out.push((region.0, region.1, name));
                }
            }
            let mut c = n.walk();
            stack.extend(n.children(&mut c));
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        #[test]
        fn every_simple_command_is_reported(s in script()) {
            let a = analyse_shell(&s);
            check_invariants(&s, &a);
            // Only an opaque part covering the command excuses it (an opaque part elsewhere
            // does not); an input the analyser refused as a whole covers everything.
            for (start, end, name) in simple_commands(&s) {
                let inside = |sp: warden_shell::Span| sp.start >= start && sp.end <= end;
                let overlaps = |sp: warden_shell::Span| sp.start < end.max(start + 1) && sp.end > start;
                // `sudo cd x` and `command cd x` still change (or fail to change) directory.
                let words: Vec<&str> = s[start..end].split_whitespace().collect();
                let via_cd = words.contains(&"cd");
                // `bash -c a=b`: the script only assigns a variable; nothing is executed.
                let is_assignment = |w: &str| {
                    w.split_once('=')
                        .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric()))
                };
                let assigns_only = words.iter().position(|w| *w == "-c").is_some_and(|c| {
                    words[c + 1..]
                        .iter()
                        .find(|w| !w.starts_with('-'))
                        .is_some_and(|w| is_assignment(w))
                });
                prop_assert!(
                    via_cd || assigns_only
                        || a.commands.iter().any(|c| inside(c.span))
                        || a.opaque.iter().any(|o| overlaps(o.span)),
                    "`{}` at {}..{} vanished from {:?}: {:#?}", name, start, end, s, a
                );
            }
        }
    }
}

/// The line-by-line path is taken for most scripts of [`SCRIPT_LINES`] (so the property test
/// above tests it, not the fallback), and agrees with the whole-text parse whenever it is.
#[test]
fn line_by_line_analysis_is_taken_and_agrees() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let (mut taken, total) = (0, 3000);
    for _ in 0..total {
        let lines: Vec<&str> = (0..2 + next(10))
            .map(|_| match next(2) {
                0 => SCRIPT_LINES[next(PLAIN_SCRIPT_LINES)],
                _ => SCRIPT_LINES[next(SCRIPT_LINES.len())],
            })
            .collect();
        let s = lines.join("\n");
        if let Some(a) = analyse_shell_by_lines(&s) {
            taken += 1;
            assert_eq!(a, analyse_shell_parsed(&s), "{s:?}");
        }
    }
    eprintln!("line-by-line path taken for {taken} of {total}");
    assert!(
        taken * 5 > total,
        "line-by-line path taken for {taken} of {total}"
    );
}
