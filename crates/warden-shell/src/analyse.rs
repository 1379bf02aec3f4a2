//! The analyser proper: walks the tree-sitter-bash syntax tree of shell text, evaluates words
//! statically, and hands each simple command to the wrapper peeler (`wrappers.rs`).

use std::cell::RefCell;

use tree_sitter::{Node, Parser, Tree};

use crate::interp::{self, Embedded, Lang};
use crate::state::{Ctx, Inh, Io, Map, Scope, Stdin, W};
use crate::words::{self, Piece};
use crate::wrappers;
use crate::{Analysis, Command, MAX_DEPTH, Opaque, Span};

/// Inputs longer than this are reported as opaque without being parsed.
pub const MAX_INPUT: usize = 1 << 20;
/// Total bytes of nested text (wrapper strings, heredocs, embedded code) parsed per call.
const MAX_NESTED_BYTES: usize = 4 << 20;
/// Maximum number of commands and opaque parts reported per call.
const MAX_ITEMS: usize = 10_000;
/// Maximum recursion of the syntax walk (bounds stack use on deeply nested input).
const MAX_RECURSION: usize = 200;

thread_local! {
    static PARSER: RefCell<Option<Parser>> = const { RefCell::new(None) };
}

/// tree-sitter-bash 0.25's external scanner calls `isdigit()` on the lookahead code point, which
/// reads outside the C library's table (and crashes) for code points above 255; a NUL reads as
/// end of input and would hide the rest of the text. The parser therefore sees a copy where each
/// non-ASCII character is replaced by as many `x` bytes as it has UTF-8 bytes and NUL by a space:
/// byte offsets are unchanged and the walk takes every value from the original text.
fn parser_input(text: &str) -> std::borrow::Cow<'_, str> {
    if text.bytes().all(|b| b != 0 && b < 0x80) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\0' => s.push(' '),
            c if c.is_ascii() => s.push(c),
            c => s.extend(std::iter::repeat_n('x', c.len_utf8())),
        }
    }
    std::borrow::Cow::Owned(s)
}

fn parse(text: &str) -> Option<Tree> {
    let text = parser_input(text);
    let text = text.as_ref();
    PARSER.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        if slot.is_none() {
            let mut p = Parser::new();
            p.set_language(&tree_sitter_bash::LANGUAGE.into()).ok()?;
            *slot = Some(p);
        }
        let p = slot.as_mut()?;
        p.reset();
        p.parse(text, None)
    })
}

/// Words that can assign a variable whose name is not written literally (or run code that
/// can): when any occurs, no variable is treated as a constant.
const ASSIGNING_BUILTINS: &[&str] = &[
    "printf", "wait", "let", "eval", "source", "IFS", "coproc", "alias", "trap", "select",
];

/// Builtins that assign (or unset) only the variables whose names they are given as words: those
/// names are not constants, the text's other variables still may be (see [`names_assigned`]).
const NAMING_BUILTINS: &[&str] = &[
    "declare",
    "typeset",
    "local",
    "readonly",
    "read",
    "mapfile",
    "readarray",
    "getopts",
    "unset",
];

/// The names a builtin of [`NAMING_BUILTINS`] may assign, from the text `after` its name up to
/// the end of its command: every word that starts like a variable name (`read -r a b`, `local
/// x=1 y`, `unset X`, an option's value too: harmless). `None` when they cannot be told: a word
/// built at run time or escaped (`read "$v"`, `declare $(…)`), a quoted builtin name (`"read"
/// X`), a name reference (`declare -n r=X`, whose assignments go to `X`), or a callback that runs
/// code (`mapfile -C f`). A word glued to the name (`git read-tree`) is not the builtin.
fn names_assigned<'a>(builtin: &str, after: &'a str) -> Option<Vec<&'a str>> {
    match after.chars().next() {
        None | Some(' ' | '\t' | ';' | '&' | '|' | '\n' | ')' | '<' | '>') => {}
        Some('"' | '\'' | '\\') => return None,
        Some(_) => return Some(Vec::new()),
    }
    let args = after
        .split([';', '&', '|', '\n', '<', '>', ')'])
        .next()
        .unwrap_or("");
    let mut names = Vec::new();
    for word in args.split_whitespace() {
        if word.contains(['$', '`', '\\', '(', '{', '*', '?', '#']) {
            return None;
        }
        let word = word.trim_matches(['"', '\'']);
        if let Some(options) = word.strip_prefix(['-', '+']) {
            if assigns_elsewhere(builtin, options) {
                return None;
            }
            continue;
        }
        let name = assigned_name(word);
        if name.starts_with(|c: char| c == '_' || c.is_ascii_alphabetic())
            && name.bytes().all(|b| b == b'_' || b.is_ascii_alphanumeric())
        {
            names.push(name);
        }
    }
    Some(names)
}

/// Whether the options `options` (a word after its `-` or `+`) make a [`NAMING_BUILTINS`] one
/// assign other variables than those it names: a name reference (`declare -n r=X` assigns `X`
/// through `r`) or a callback that runs code (`mapfile -C f`).
fn assigns_elsewhere(builtin: &str, options: &str) -> bool {
    (matches!(builtin, "declare" | "typeset" | "local") && options.contains('n'))
        || (matches!(builtin, "mapfile" | "readarray") && options.contains('C'))
}

/// The variable a word given to a [`NAMING_BUILTINS`] one names (`x=1` → `x`, `a[2]` → `a`).
fn assigned_name(word: &str) -> &str {
    word.split(['=', '+', '[']).next().unwrap_or("")
}

/// The option with which a builtin of [`ASSIGNING_BUILTINS`] assigns a variable, when only with
/// it (`printf -v NAME`, `wait -p NAME`): one that prints is common enough not to give up every
/// constant of the text for it.
fn assigning_option(builtin: &str) -> Option<&'static str> {
    match builtin {
        "printf" => Some("-v"),
        "wait" => Some("-p"),
        _ => None,
    }
}

/// Whether `cmd` is a builtin that may assign one of `constants` (or any variable): one of
/// [`ASSIGNING_BUILTINS`] (`printf` and `wait` only with `-v`/`-p`), `.`, or one of
/// [`NAMING_BUILTINS`] given one of their names, a name reference or a callback, or given words
/// known only at run time.
fn assigns_a_constant(cmd: &crate::Command, constants: &[String]) -> bool {
    let Some(program) = cmd.argv.first() else {
        return false;
    };
    let args = &cmd.argv[1..];
    if let Some(o) = assigning_option(program) {
        return args.iter().any(|a| a.starts_with(o));
    }
    match program.as_str() {
        "." => true,
        p if ASSIGNING_BUILTINS.contains(&p) => true,
        p if NAMING_BUILTINS.contains(&p) => {
            cmd.dynamic
                || args.iter().any(|a| match a.strip_prefix(['-', '+']) {
                    Some(options) => assigns_elsewhere(p, options),
                    None => constants.iter().any(|c| c == assigned_name(a)),
                })
        }
        _ => false,
    }
}

/// The most words a `for` loop may list for its body to be analysed once per word
/// (`Ctx::for_words`); a longer list leaves the loop variable unknown.
const MAX_LOOP_WORDS: usize = 16;

/// Names of variables that may be propagated as constants in `text`: assigned only by
/// top-level `X=literal` / `export X=literal` statements or `for X in …` loops (`candidates`,
/// with their counts),
/// never mentioned otherwise except as plain `$X` / `${X}` reads, never given to a builtin that
/// assigns the names it is given (`read X`, `local X`, `unset X`), and no builtin that could
/// assign a variable indirectly (`eval`, `.`, `read "$v"`, …) appears anywhere.
fn propagatable(text: &str, candidates: &[(String, usize)], exports: usize) -> Vec<String> {
    if candidates.is_empty() {
        return Vec::new();
    }
    let idents = identifiers(text);
    let mut export_words = 0;
    let mut named: Vec<&str> = Vec::new();
    for (word, _, end) in &idents {
        let assigns = match assigning_option(word) {
            Some(o) => text[*end..]
                .split([';', '&', '|', '\n'])
                .next()
                .is_some_and(|args| args.split_whitespace().any(|a| a.starts_with(o))),
            None if NAMING_BUILTINS.contains(word) => match names_assigned(word, &text[*end..]) {
                Some(names) => {
                    named.extend(names);
                    false
                }
                None => true,
            },
            None => ASSIGNING_BUILTINS.contains(word),
        };
        if assigns {
            return Vec::new();
        }
        if *word == "export" {
            export_words += 1;
        }
    }
    if export_words != exports
        || text.contains("((")
        || text.contains("$[")
        || has_dot_command(text)
    {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (name, assignments) in candidates {
        if SHELL_SET_VARIABLES.contains(&name.as_str()) || named.contains(&name.as_str()) {
            continue;
        }
        let others = idents
            .iter()
            .filter(|(word, start, end)| {
                word == name && may_assign_here(&text[..*start], &text[*end..])
            })
            .count();
        if others == *assignments {
            out.push(name.clone());
        }
    }
    out
}

/// Variables the shell itself sets as commands run (`cd` sets `PWD`, every command `_`):
/// never constants, whatever the text assigns them.
const SHELL_SET_VARIABLES: &[&str] = &[
    "PWD",
    "OLDPWD",
    "_",
    "RANDOM",
    "SRANDOM",
    "SECONDS",
    "LINENO",
    "REPLY",
    "OPTARG",
    "OPTIND",
    "BASHPID",
    "BASH_COMMAND",
    "BASH_REMATCH",
    "PIPESTATUS",
    "EPOCHSECONDS",
    "EPOCHREALTIME",
    "HISTCMD",
    "COLUMNS",
    "LINES",
    "FUNCNAME",
    "BASH_SOURCE",
    "BASH_LINENO",
    "SHLVL",
];

/// Whether an occurrence of a variable's name between `before` and `after` may set it, once the
/// builtins that assign a name they are given (`read`, `declare`, `printf -v`, …), `((…))` and
/// `.` are ruled out for the whole text: an assignment or compound assignment (`X=`, `X+=`,
/// `X[i]=`, also inside an arithmetic context such as an array subscript), an increment
/// (`X++`, `--X`), a loop (`for X`), a default (`${X:=v}`, `${X=v}`), a descriptor variable
/// (`{X}>f`). A plain read (`$X`, `${X}`) and the name as an ordinary word (`tail -f` for `f`)
/// do not.
fn may_assign_here(before: &str, after: &str) -> bool {
    let assigning_ops = [
        "=", "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "^=", "|=", "++", "--", "[",
    ];
    let next = after.trim_start();
    let prev = before.trim_end();
    if before.ends_with("${") {
        return after.starts_with(":=") || after.starts_with('=');
    }
    if before.ends_with('$') {
        return false;
    }
    assigning_ops.iter().any(|op| next.starts_with(op))
        || prev.ends_with("++")
        || prev.ends_with("--")
        || (before.ends_with('{') && after.starts_with('}'))
        || prev
            .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()
            .is_some_and(|w| w == "for")
}

/// Identifier-like tokens of `text` with their byte ranges.
fn identifiers(text: &str) -> Vec<(&str, usize, usize)> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'_' || b[i].is_ascii_alphabetic() {
            let start = i;
            while i < b.len() && (b[i] == b'_' || b[i].is_ascii_alphanumeric()) {
                i += 1;
            }
            out.push((&text[start..i], start, i));
        } else {
            i += 1;
        }
    }
    out
}

/// Whether `.` may be used as a command (`. file`) anywhere in the text.
fn has_dot_command(text: &str) -> bool {
    let b = text.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        c == b'.'
            && b.get(i + 1).is_none_or(|n| n.is_ascii_whitespace())
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric() && !b"./_-~".contains(&b[i - 1]))
    })
}

/// Whether the source between two words of one command, `src[from..to]`, holds a newline that
/// is not escaped (an odd run of `\` before it continues the line; `\\` is a backslash).
fn joins_lines(src: &str, from: usize, to: usize) -> bool {
    let b = src.as_bytes();
    (from..to.min(b.len()))
        .any(|p| b[p] == b'\n' && b[..p].iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 0)
}

/// Analyse shell source text.
pub fn analyse_shell(text: &str) -> Analysis {
    let mut cx = Ctx::new();
    if text.len() > MAX_INPUT {
        cx.opaque(
            Span {
                start: 0,
                end: text.len(),
            },
            format!("input larger than {MAX_INPUT} bytes"),
            "",
        );
        return cx.out;
    }
    let mut scope = Scope::default();
    if let Some(commands) = fast_words(text, 0) {
        cx.fast_commands(commands, &mut scope);
        return cx.finish(text);
    }
    if let Some(a) = analyse_lines(text) {
        return a;
    }
    cx.text(text, Map::Offset(0), &mut scope, &Inh::default(), 0);
    cx.finish(text)
}

/// [`analyse_shell`]'s line-by-line path alone (`None` when it declines the text). For tests
/// that check it agrees with the whole-text parse and is taken.
#[doc(hidden)]
pub fn analyse_shell_by_lines(text: &str) -> Option<Analysis> {
    if text.len() > MAX_INPUT {
        return None;
    }
    analyse_lines(text)
}

/// A script of many lines (what lookahead reads) where lines of plain simple commands take the
/// fast path and only the runs of other lines between them go through the parser, each run on
/// its own: parsing is most of the analysis time, and most lines of a script are plain
/// commands. The result is the whole-text parse's, or `None` (then the caller parses the whole
/// text) whenever a split could change it: heredocs (their bodies are lines of another kind),
/// a line continued with `\`, a top-level variable assignment (constants are decided over the
/// whole text), a run that does not parse on its own without error (an `if` or a quote that
/// spans a plain line). A property test checks it against the whole-text parse.
fn analyse_lines(text: &str) -> Option<Analysis> {
    if !text.contains('\n') || text.contains("<<") || may_assign(text) {
        return None;
    }
    let mut cx = Ctx::new();
    let mut scope = Scope::default();
    // The run of lines waiting for the parser: its start, and whether it may be incomplete.
    let mut run_start: Option<usize> = None;
    let mut opened: i32 = 0;
    let mut at = 0;
    // The previous line goes on in the next (`\`, `|`, `&&`, `||` at its end).
    let mut continued = false;
    for line in text.split_inclusive('\n') {
        let start = at;
        at += line.len();
        let body = line.strip_suffix('\n').unwrap_or(line);
        if body.trim().is_empty() {
            continue;
        }
        let was_continued = continued;
        let tail = body.trim_end();
        continued = tail.ends_with('\\') || tail.ends_with('|') || tail.ends_with("&&");
        let fast = if was_continued {
            None
        } else {
            fast_words(body, start).filter(|c| !c.is_empty())
        };
        match fast {
            Some(commands) if opened <= 0 => {
                if let Some(from) = run_start.take() {
                    if !cx.top_run(&text[from..start], from, &mut scope) {
                        return None;
                    }
                    opened = 0;
                }
                cx.fast_commands(commands, &mut scope);
            }
            _ => {
                run_start.get_or_insert(start);
                opened += block_balance(body);
            }
        }
    }
    if let Some(from) = run_start
        && !cx.top_run(&text[from..], from, &mut scope)
    {
        return None;
    }
    Some(cx.finish(text))
}

/// Whether some line may assign a variable at the top level (`X=…`, `export X=…`, `a[1]=…`,
/// `readonly …`): the constants of a text are decided over all of it, so such texts are not
/// split. Errs on the side of `true`.
fn may_assign(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        let first = l
            .split(|c: char| c.is_whitespace() || c == ';')
            .next()
            .unwrap_or("");
        first.contains('=')
            || matches!(
                first,
                "export"
                    | "declare"
                    | "typeset"
                    | "local"
                    | "readonly"
                    | "read"
                    | "mapfile"
                    | "readarray"
            )
    })
}

/// Openers minus closers of compound commands among a line's words before a comment (`if`/`fi`,
/// `case`/`esac`, `for`/`while`/`until`/`select` … `done`, `{`/`}`, `(`/`)` alone): a guess at
/// whether a run of lines is still open before a plain line, so that a plain line inside a
/// block stays with it. The parse of the run decides; a wrong guess costs a second parse,
/// never a different result.
fn block_balance(line: &str) -> i32 {
    let mut n = 0;
    for w in line.split(|c: char| c.is_whitespace() || c == ';') {
        match w {
            "if" | "case" | "for" | "while" | "until" | "select" | "{" | "(" => n += 1,
            "fi" | "esac" | "done" | "}" | ")" => n -= 1,
            w if w.starts_with('#') => break,
            _ => {}
        }
    }
    n
}

/// [`analyse_shell`] without the fast path: always through the parser. For tests that check
/// the fast path agrees with the parser.
#[doc(hidden)]
pub fn analyse_shell_parsed(text: &str) -> Analysis {
    let mut cx = Ctx::new();
    if text.len() > MAX_INPUT {
        return analyse_shell(text);
    }
    let mut scope = Scope::default();
    cx.text(text, Map::Offset(0), &mut scope, &Inh::default(), 0);
    cx.finish(text)
}

/// Reserved words that make a line more than a simple command.
const RESERVED: &[&str] = &[
    "if", "then", "else", "elif", "fi", "case", "esac", "for", "select", "while", "until", "do",
    "done", "in", "function", "time", "coproc", "[[", "]]", "{", "}", "!",
];

/// `NAME=VALUE` of an assignment node, the value's quotes removed when it is one quoted string
/// (`X="a b"`); `None` for an array or indexed assignment.
fn assignment_text(src: &str, n: Node<'_>) -> Option<String> {
    let name = n
        .child_by_field_name("name")
        .filter(|c| c.kind() == "variable_name")?;
    let value = n
        .child_by_field_name("value")
        .map_or("", |v| node_text(src, v));
    let unquoted = [('\'', '\''), ('"', '"')]
        .iter()
        .find_map(|&(open, close)| {
            value
                .strip_prefix(open)?
                .strip_suffix(close)
                .filter(|inner| !inner.contains([open, '$', '`']))
        })
        .unwrap_or(value);
    Some(format!("{}={unquoted}", node_text(src, name)))
}

/// Fast path for the most common input: simple commands of plain words (letters, digits,
/// `-_./=:,@%+^~*?`, and quotes around such text) joined by `&&`, `||` or `;`. They are split
/// here without the parser, which costs most of the analysis time. Anything else (pipes,
/// expansions, redirections, …) returns `None` and goes through tree-sitter; a property test
/// checks that both paths agree.
fn fast_words(text: &str, base: usize) -> Option<Vec<Vec<W>>> {
    fn plain(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b"-_./=:,@%+^~*?".contains(&b)
    }
    if text.len() > 4096 {
        return None;
    }
    let bytes = text.as_bytes();
    let mut commands: Vec<Vec<W>> = Vec::new();
    let mut words: Vec<W> = Vec::new();
    // The operator that ended the previous command: `;` may end the text, `&&`/`||` may not.
    let mut pending_op: Option<bool> = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' => {
                i += 1;
                continue;
            }
            b';' | b'&' | b'|' => {
                let two = bytes.get(i + 1) == Some(&bytes[i]);
                let op_len = match (bytes[i], two) {
                    (b';', false) => 1,
                    (b'&' | b'|', true) => 2,
                    _ => return None,
                };
                if words.is_empty() {
                    return None;
                }
                commands.push(std::mem::take(&mut words));
                pending_op = Some(bytes[i] == b';');
                i += op_len;
                continue;
            }
            _ => {}
        }
        let start = i;
        let mut v = String::new();
        let mut quoted_segments = 0;
        let mut unquoted = false;
        while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b';' | b'&' | b'|') {
            let b = bytes[i];
            if b == b'\'' || b == b'"' {
                let close = bytes[i + 1..].iter().position(|&c| c == b)? + i + 1;
                let inner = &bytes[i + 1..close];
                if !inner.iter().all(|&c| plain(c) || c == b' ') {
                    return None;
                }
                v.push_str(text.get(i + 1..close)?);
                quoted_segments += 1;
                i = close + 1;
            } else if plain(b) {
                v.push(b as char);
                unquoted = true;
                i += 1;
            } else {
                return None;
            }
        }
        let span = Span {
            start: base + start,
            end: base + i,
        };
        let map = match (quoted_segments, unquoted) {
            (0, _) => Some(Map::Offset(base + start)),
            (1, false) => Some(Map::Offset(base + start + 1)),
            _ => None,
        };
        // tree-sitter-bash reads a bare `==` or `=~` argument as a test operator missing its
        // right-hand side (a syntax error) when it ends the command; bash takes it as a
        // word. Such lines go to the parser, so both paths give the same (stricter) answer.
        if quoted_segments == 0 && (v == "==" || v == "=~") {
            return None;
        }
        if words.is_empty()
            && (v.contains('=')
                // Declarations may assign a variable that carries code (`export PAGER=…`).
                || matches!(
                    v.as_str(),
                    "export" | "declare" | "typeset" | "local" | "readonly"
                )
                || RESERVED.contains(&v.as_str())
                || !bytes[start].is_ascii_alphabetic() && !b"./_".contains(&bytes[start])
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b)))
        {
            return None;
        }
        pending_op = None;
        words.push(W {
            v,
            dynamic: false,
            split: false,
            span,
            map,
        });
    }
    if pending_op == Some(false) {
        return None;
    }
    if !words.is_empty() {
        commands.push(words);
    }
    Some(commands)
}

/// Analyse an argv as it would be exec'd (no shell in between, but wrappers are still peeled).
pub fn analyse_argv(argv: &[String]) -> Analysis {
    let mut cx = Ctx::new();
    let total: usize = argv.iter().map(|a| a.len() + 1).sum();
    if total > MAX_INPUT {
        cx.opaque(
            Span {
                start: 0,
                end: total.saturating_sub(1),
            },
            format!("input larger than {MAX_INPUT} bytes"),
            "",
        );
        return cx.out;
    }
    let mut off = 0;
    let mut ws = Vec::with_capacity(argv.len());
    for a in argv {
        let span = Span {
            start: off,
            end: off + a.len(),
        };
        ws.push(W {
            v: a.clone(),
            dynamic: false,
            split: false,
            span,
            map: Some(Map::Offset(off)),
        });
        off += a.len() + 1;
    }
    if ws.is_empty() {
        return cx.out;
    }
    let span = Span {
        start: 0,
        end: off.saturating_sub(1),
    };
    let mut scope = Scope::default();
    wrappers::exec(
        &mut cx,
        ws,
        span,
        Io::default(),
        &mut scope,
        Inh::default(),
        0,
    );
    cx.finish(&argv.join(" "))
}

const STATEMENT_KINDS: &[&str] = &[
    "command",
    "redirected_statement",
    "list",
    "pipeline",
    "subshell",
    "compound_statement",
    "if_statement",
    "while_statement",
    "for_statement",
    "c_style_for_statement",
    "case_statement",
    "function_definition",
    "negated_command",
    "test_command",
    "declaration_command",
    "unset_command",
    "variable_assignment",
    "variable_assignments",
];

fn is_statement(kind: &str) -> bool {
    STATEMENT_KINDS.contains(&kind)
}

/// The whole of what `argv` writes to its one file `writes[0]`, when the text says it: `cat`
/// (or `cat -`) and `tee FILE` copying a heredoc or here-string, `echo` (no options) of literal
/// words, `printf FORMAT` alone, the file replaced by `>` (see [`Io::stdout_file`]).
fn written_content(argv: &[String], io: &Io, writes: &[String]) -> Option<String> {
    let [path] = writes else { return None };
    let program = wrappers::basename(argv.first()?);
    let to_stdout_file = io.stdout_file.as_ref() == Some(path);
    // A heredoc with expansions is taken as written: read as a script, `$X` is a run-time
    // value there too, which is how a script holding the expanded text would be judged.
    let stdin = match &io.stdin {
        Stdin::Text { text, .. } => Some(text),
        _ => None,
    };
    match program {
        "cat" if to_stdout_file && argv[1..].iter().all(|a| a == "-") => stdin.cloned(),
        "tee" if io.stdout_file.is_none() && argv.len() == 2 && &argv[1] == path => stdin.cloned(),
        "echo" if to_stdout_file && argv[1..].iter().all(|a| !a.starts_with('-')) => {
            Some(format!("{}\n", argv[1..].join(" ")))
        }
        "printf" if to_stdout_file && argv.len() == 2 && !argv[1].starts_with('-') => {
            printf_text(&argv[1])
        }
        _ => None,
    }
}

/// What `printf FORMAT` (no arguments) prints: its escapes made characters, `%%` a `%`; `None`
/// for a format with a conversion, or an escape this does not know.
fn printf_text(format: &str) -> Option<String> {
    let mut out = String::with_capacity(format.len());
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(match chars.next()? {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                '\\' => '\\',
                '"' => '"',
                '\'' => '\'',
                'a' => '\u{7}',
                'b' => '\u{8}',
                'f' => '\u{c}',
                'v' => '\u{b}',
                _ => return None,
            }),
            '%' => {
                if chars.next()? != '%' {
                    return None;
                }
                out.push('%');
            }
            c => out.push(c),
        }
    }
    Some(out)
}

fn node_text<'s>(src: &'s str, n: Node<'_>) -> &'s str {
    src.get(n.byte_range()).unwrap_or("")
}

impl Ctx {
    fn new() -> Ctx {
        Ctx {
            out: Analysis::default(),
            nested_bytes: 0,
            recursion: 0,
            full: false,
            constants: Vec::new(),
            heredoc_consumed: false,
            prev_sibling_end: None,
        }
    }

    fn finish(mut self, text: &str) -> Analysis {
        // Defensive: every span must lie within the original text, on char boundaries.
        for c in &mut self.out.commands {
            c.span = clamp(c.span, text);
        }
        for o in &mut self.out.opaque {
            o.span = clamp(o.span, text);
        }
        self.out
    }

    fn room(&mut self) -> bool {
        if self.out.commands.len() + self.out.opaque.len() >= MAX_ITEMS {
            if !self.full {
                self.full = true;
                self.out.opaque.push(Opaque {
                    span: Span { start: 0, end: 0 },
                    reason: format!("more than {MAX_ITEMS} commands; analysis stopped"),
                    text: String::new(),
                });
            }
            return false;
        }
        true
    }

    pub(crate) fn opaque(&mut self, span: Span, reason: impl Into<String>, text: &str) {
        if !self.room() {
            return;
        }
        let text: String = if text.len() > 4096 {
            let mut end = 4096;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}…", &text[..end])
        } else {
            text.to_string()
        };
        self.out.opaque.push(Opaque {
            span,
            reason: reason.into(),
            text,
        });
    }

    /// Redirections with no command (`> f`, `< f`) still write or read: report them as the
    /// stand-in command `:` carrying those paths.
    fn emit_redirections_only(&mut self, span: Span, inh: &Inh, io: &Io, scope: &Scope) {
        if !io.writes.is_empty() || !io.reads.is_empty() {
            self.emit(vec![":".into()], span, inh, io, false, scope, Vec::new());
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "a command has this many independent parts"
    )]
    pub(crate) fn emit(
        &mut self,
        argv: Vec<String>,
        span: Span,
        inh: &Inh,
        io: &Io,
        dynamic: bool,
        scope: &Scope,
        extra_writes: Vec<String>,
    ) {
        if !self.room() {
            return;
        }
        let mut writes = io.writes.clone();
        writes.extend(extra_writes);
        let dynamic = dynamic || inh.dynamic || io.dynamic;
        let content = if dynamic {
            None
        } else {
            written_content(&argv, io, &writes)
        };
        self.out.commands.push(Command {
            argv,
            span,
            wrappers: inh.wrappers.clone(),
            writes,
            reads: io.reads.clone(),
            dynamic,
            one_word_dynamic: Vec::new(),
            elevated: inh.elevated,
            cwd: scope.cwd.clone(),
            remote: inh.remote.clone(),
            env: inh.env.clone(),
            content,
        });
    }

    /// Simple commands from the fast path, in order. Sequential commands share the scope (a
    /// `cd` carries over), as in the parser.
    fn fast_commands(&mut self, commands: Vec<Vec<W>>, scope: &mut Scope) {
        for words in commands {
            if let (Some(first), Some(last)) = (words.first(), words.last()) {
                let span = Span {
                    start: first.span.start,
                    end: last.span.end,
                };
                wrappers::exec(self, words, span, Io::default(), scope, Inh::default(), 0);
            }
        }
    }

    /// A run of whole top-level lines of a larger text (see [`analyse_lines`]), starting at
    /// byte `offset` of it. Returns `false`, having analysed nothing, when the run does not
    /// parse without error on its own or assigns a variable at its top level.
    fn top_run(&mut self, run: &str, offset: usize, scope: &mut Scope) -> bool {
        let Some(tree) = parse(run) else {
            return false;
        };
        let root = tree.root_node();
        // A word the parser skipped at the start of the run (`- 2>/dev/null x`) is recovered
        // from the text before the statement, which differs from the whole text's.
        let skipped = run.len() - run.trim_start().len() != root.start_byte();
        if skipped || root.has_error() || !Self::constant_candidates(run, root).0.is_empty() {
            return false;
        }
        let inh = Inh::default();
        let env = Env {
            src: run,
            map: Map::Offset(offset),
            depth: 0,
            inh: &inh,
        };
        self.stmt(&env, root, scope);
        true
    }

    /// Analyse a piece of shell text; returns the index of the first command it emitted.
    pub(crate) fn text(
        &mut self,
        text: &str,
        map: Map,
        scope: &mut Scope,
        inh: &Inh,
        depth: usize,
    ) -> usize {
        let first = self.out.commands.len();
        let whole = map.span(0, text.len());
        if depth > MAX_DEPTH {
            self.opaque(
                whole,
                format!("nested deeper than {MAX_DEPTH} levels"),
                text,
            );
            return first;
        }
        if depth > 0 {
            self.nested_bytes += text.len();
            if self.nested_bytes > MAX_NESTED_BYTES {
                self.opaque(whole, "too much nested text to analyse", text);
                return first;
            }
        }
        let Some(tree) = parse(text) else {
            self.opaque(whole, "shell text could not be parsed", text);
            return first;
        };
        let root = tree.root_node();
        if root.has_error() {
            self.report_errors(root, text, map);
        }
        let env = Env {
            src: text,
            map,
            depth,
            inh,
        };
        // A child shell's text (`bash -c '…'`) has constants of its own, decided over that text
        // alone (its scope starts without the parent's shell variables).
        let (candidates, exports) = Self::constant_candidates(text, root);
        let constants = propagatable(text, &candidates, exports);
        // What the analysis may have to take back (see below).
        let before = (!constants.is_empty()).then(|| {
            (
                scope.clone(),
                self.out.opaque.len(),
                self.nested_bytes,
                self.full,
                self.heredoc_consumed,
                self.prev_sibling_end,
            )
        });
        let outer = std::mem::replace(&mut self.constants, constants);
        self.stmt(&env, root, scope);
        // The text was scanned for the builtins that assign variables, as written; a command
        // that turns out to be one of them all the same (`rea\d X`, `'re'ad X`, `r=rea;
        // ${r}d X`, `ev"a"l …`) assigning a constant means the constants were wrong: the text is
        // analysed again without any.
        if let Some((saved, opaque, nested_bytes, full, heredoc_consumed, prev)) = before
            && self.out.commands[first..]
                .iter()
                .any(|c| assigns_a_constant(c, &self.constants))
        {
            *scope = saved;
            self.out.commands.truncate(first);
            self.out.opaque.truncate(opaque);
            self.nested_bytes = nested_bytes;
            self.full = full;
            self.heredoc_consumed = heredoc_consumed;
            self.prev_sibling_end = prev;
            self.constants = Vec::new();
            self.stmt(&env, root, scope);
        }
        if depth > 0 {
            self.constants = outer;
        }
        first
    }

    /// The variables assigned by top-level `X=…` / `export X=…` statements, with their
    /// counts, and the number of such `export` statements.
    fn constant_candidates(text: &str, root: Node<'_>) -> (Vec<(String, usize)>, usize) {
        let mut candidates: Vec<(String, usize)> = Vec::new();
        let mut exports = 0;
        for ch in Self::children(root) {
            let assignments: Vec<Node<'_>> = match ch.kind() {
                "variable_assignment" => vec![ch],
                "declaration_command" => {
                    let kids = Self::children(ch);
                    let export = kids.first().is_some_and(|k| k.kind() == "export");
                    if !export
                        || kids
                            .iter()
                            .skip(1)
                            .any(|k| k.kind() != "variable_assignment")
                    {
                        continue;
                    }
                    exports += 1;
                    kids.into_iter().skip(1).collect()
                }
                // `X=a Y=b` with no command: both are shell variables.
                "variable_assignments" => Self::children(ch)
                    .into_iter()
                    .filter(|k| k.kind() == "variable_assignment")
                    .collect(),
                _ => continue,
            };
            for a in assignments {
                if let Some(name) = a.child_by_field_name("name")
                    && name.kind() == "variable_name"
                {
                    let name = node_text(text, name).to_string();
                    match candidates.iter_mut().find(|(n, _)| *n == name) {
                        Some((_, count)) => *count += 1,
                        None => candidates.push((name, 1)),
                    }
                }
            }
        }
        // A `for NAME in WORDS` loop assigns NAME too, wherever it stands (see `for_words`).
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            if node.kind() == "for_statement"
                && let Some(var) = node.child_by_field_name("variable")
            {
                let name = node_text(text, var).to_string();
                match candidates.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, count)) => *count += 1,
                    None => candidates.push((name, 1)),
                }
            }
            stack.extend(Self::children(node).into_iter().filter(|k| k.is_named()));
        }
        (candidates, exports)
    }

    /// `for NAME in WORDS; do BODY; done` over words the text spells out (no expansion, at most
    /// [`MAX_LOOP_WORDS`]): BODY is analysed once per word with NAME bound to it, as
    /// `NAME=WORD; BODY` would be, so `for f in *.log; do rm "$f"; done` is `rm '*.log'` rather
    /// than `rm` of a path nobody knows. When NAME may be assigned elsewhere too (see
    /// [`propagatable`]) those analyses only add to the usual one (NAME unknown in BODY, which
    /// the caller makes when this returns `false`), in a scope of their own: a read of
    /// `~/.ssh/id_rsa` the words name is still seen.
    fn for_words(&mut self, env: &Env<'_, '_>, n: Node<'_>, scope: &mut Scope) -> bool {
        let (Some(var), Some(body)) = (
            n.child_by_field_name("variable"),
            n.child_by_field_name("body"),
        ) else {
            return false;
        };
        let name = node_text(env.src, var);
        let mut cursor = n.walk();
        let values: Vec<Node<'_>> = n.children_by_field_name("value", &mut cursor).collect();
        // Words with expansions (`$(ls)`, `"$@"`, `<(…)`) are not known, and evaluating them
        // here would report their substitutions a second time. No words: `"$@"`.
        let expands = |v: &Node<'_>| {
            let t = node_text(env.src, *v);
            t.contains(['$', '`']) || t.contains("<(") || t.contains(">(")
        };
        if values.is_empty() || values.iter().any(expands) {
            return false;
        }
        let mut words = Vec::new();
        for v in values {
            words.extend(self.word(env, v, scope));
        }
        if words.len() > MAX_LOOP_WORDS || words.iter().any(|w| w.dynamic) {
            return false;
        }
        let constant = self.constants.iter().any(|c| c == name);
        let mut own;
        let bound = if constant {
            scope
        } else {
            own = scope.clone();
            &mut own
        };
        for w in words {
            bound.consts.push((name.to_string(), w.v));
            self.stmt(env, body, bound);
        }
        constant
    }

    /// A statement `X=value`: remembered for a later `export X`; an exported variable's new
    /// value is exported too.
    fn shell_variable(env: &Env<'_, '_>, n: Node<'_>, scope: &mut Scope) {
        let Some(set) = assignment_text(env.src, n) else {
            return;
        };
        let prefix = &set[..=set.find('=').unwrap_or(0)];
        if scope.exported.iter().any(|e| e.starts_with(prefix)) && !scope.exported.contains(&set) {
            scope.exported.push(set.clone());
        }
        scope.assigned.push(set);
    }

    /// A top-level `X=value` or `export X=value`: record a constant when allowed.
    fn assignment(&mut self, env: &Env<'_, '_>, n: Node<'_>, scope: &mut Scope) {
        if n.parent().is_some_and(|p| p.kind() == "program") {
            Self::shell_variable(env, n, scope);
        }
        if self.carried_assignment(env, n, scope) {
            return;
        }
        let name = n
            .child_by_field_name("name")
            .filter(|c| c.kind() == "variable_name")
            .map(|c| node_text(env.src, c).to_string());
        let Some(name) = name else {
            self.subs(env, n, scope);
            return;
        };
        if !self.constants.contains(&name) {
            self.subs(env, n, scope);
            return;
        }
        let v = match n.child_by_field_name("value") {
            Some(v) => {
                let ws = self.word(env, v, scope);
                match ws.as_slice() {
                    [w] if !w.dynamic => Some(w.v.clone()),
                    _ => None,
                }
            }
            None => Some(String::new()),
        };
        // `X+=v` appends to the value X has, known only when a statement of the text set it
        // (otherwise it may come from the environment).
        let appends = node_text(env.src, n)
            .get(name.len()..)
            .is_some_and(|rest| rest.starts_with("+="));
        let v = match v {
            Some(v) if appends => scope.constant(&name).map(|old| format!("{old}{v}")),
            v => v,
        };
        match v {
            Some(v) => scope.consts.push((name, v)),
            // Not a constant after all: forget it for the rest of the text.
            None => self.constants.retain(|c| *c != name),
        }
    }

    /// The variables an `export` (or `declare -x`, `typeset -x`) statement sets, for the later
    /// commands (`export HUSKY=0; git commit` is `HUSKY=0 git commit`); `export NAME` exports
    /// the value a statement assigned before.
    fn exports(env: &Env<'_, '_>, n: Node<'_>, scope: &mut Scope) {
        let kids = Self::children(n);
        let exporting = match kids.first().map(|k| k.kind()) {
            Some("export") => true,
            Some("declare" | "typeset") => kids.iter().skip(1).any(|k| {
                let t = node_text(env.src, *k);
                k.kind() == "word" && t.starts_with('-') && t.contains('x')
            }),
            _ => false,
        };
        if !exporting {
            return;
        }
        for k in kids.iter().skip(1) {
            let set = match k.kind() {
                "variable_assignment" => assignment_text(env.src, *k),
                "variable_name" => {
                    let name = node_text(env.src, *k);
                    let prefix = format!("{name}=");
                    scope
                        .assigned
                        .iter()
                        .rev()
                        .find(|a| a.starts_with(&prefix))
                        .cloned()
                }
                _ => None,
            };
            if let Some(set) = set.filter(|s| !scope.exported.contains(s)) {
                scope.exported.push(set);
            }
        }
    }

    /// `NAME=value` (before a command, as a statement, or exported) where NAME carries code
    /// (`GIT_SSH_COMMAND`, `PAGER`, `BASH_ENV`, …): the value is analysed. Returns whether
    /// the assignment was such a one.
    fn carried_assignment(&mut self, env: &Env<'_, '_>, n: Node<'_>, scope: &mut Scope) -> bool {
        let Some(name) = n
            .child_by_field_name("name")
            .filter(|c| c.kind() == "variable_name")
            .map(|c| node_text(env.src, c))
        else {
            return false;
        };
        if !crate::carried::carries_code(name) {
            return false;
        }
        let span = env.map.span(n.start_byte(), n.end_byte());
        let value = match n.child_by_field_name("value") {
            Some(v) => {
                let ws = self.word(env, v, scope);
                match ws.as_slice() {
                    [w] => w.clone(),
                    _ => {
                        let mut w = W::lit(
                            ws.iter()
                                .map(|w| w.v.as_str())
                                .collect::<Vec<_>>()
                                .join(" "),
                            span,
                        );
                        w.dynamic = ws.iter().any(|w| w.dynamic);
                        w
                    }
                }
            }
            None => W::lit("", span),
        };
        self.carried_variable(name, &value, scope, env.inh, env.depth)
    }

    fn report_errors(&mut self, root: Node<'_>, src: &str, map: Map) {
        let mut cursor = root.walk();
        let mut reported = 0;
        loop {
            let n = cursor.node();
            let mut descend = true;
            if n.is_error() || n.is_missing() {
                let (s, e) = if n.is_missing() {
                    let p = n.parent().unwrap_or(n);
                    (p.start_byte(), p.end_byte())
                } else {
                    (n.start_byte(), n.end_byte())
                };
                let what = if n.is_missing() {
                    format!("syntax error: missing `{}`", n.kind())
                } else {
                    "syntax error".to_string()
                };
                if reported < 32 {
                    self.opaque(map.span(s, e), what, src.get(s..e).unwrap_or(""));
                }
                reported += 1;
                descend = n.is_missing();
            }
            if descend && cursor.goto_first_child() {
                continue;
            }
            loop {
                if cursor.goto_next_sibling() {
                    break;
                }
                if !cursor.goto_parent() {
                    return;
                }
            }
        }
    }

    fn enter(&mut self, env: &Env<'_, '_>, n: Node<'_>) -> bool {
        if self.recursion >= MAX_RECURSION {
            self.opaque(
                env.map.span(n.start_byte(), n.end_byte()),
                "syntax nested too deeply",
                node_text(env.src, n),
            );
            return false;
        }
        self.recursion += 1;
        true
    }

    /// Whether the parser joined lines into the simple statement `n`: its child `next` starts
    /// on a later line than `prev` ends, with no `\` continuing the line. Bash ends a simple
    /// command (or `export`, `unset`…) at an unescaped newline, but tree-sitter-bash, after lines
    /// ending in `|`, can join the next lines into one (`ls |\nls |\ngit status\ngit push\nls
    /// &&\ntrue` had `git status git push ls`, a `git status`; with `export A` first, the push
    /// became names exported), and a line that starts with `\` into the assignment on the line
    /// before (`Y=1\n\git push` ran a program named `\ngit`, unknown: `auto` in the sandbox).
    /// Its tree cannot be trusted for this text: `n` is opaque (the policy's fail-closed tier),
    /// never what it seemed.
    fn joined_lines(
        &mut self,
        env: &Env<'_, '_>,
        n: Node<'_>,
        prev: Node<'_>,
        next: Node<'_>,
    ) -> bool {
        // (The newline may open `next` itself: `Y=1\n\git push` was one command whose name
        // was the word `\n\git`.)
        let text = node_text(env.src, next);
        let lead = text.len() - text.trim_start_matches([' ', '\t', '\n']).len();
        if !joins_lines(env.src, prev.end_byte(), next.start_byte() + lead) {
            return false;
        }
        self.opaque(
            env.map.span(n.start_byte(), n.end_byte()),
            "the parser joined lines into one command",
            node_text(env.src, n),
        );
        true
    }

    /// Analyse a statement-like node.
    fn stmt(&mut self, env: &Env<'_, '_>, n: Node<'_>, scope: &mut Scope) -> Stdin {
        if !self.enter(env, n) {
            return Stdin::Pipe;
        }
        let r = self.stmt_inner(env, n, scope);
        self.recursion -= 1;
        r
    }

    fn children<'t>(n: Node<'t>) -> Vec<Node<'t>> {
        let mut c = n.walk();
        n.children(&mut c).collect()
    }

    fn stmt_inner(&mut self, env: &Env<'_, '_>, n: Node<'_>, scope: &mut Scope) -> Stdin {
        if matches!(n.kind(), "declaration_command" | "unset_command") {
            let kids = Self::children(n);
            if kids
                .windows(2)
                .any(|pair| self.joined_lines(env, n, pair[0], pair[1]))
            {
                return Stdin::Pipe;
            }
        }
        match n.kind() {
            "command" => return self.simple(env, n, &[], scope, Stdin::Terminal),
            "redirected_statement" => return self.redirected(env, n, scope, Stdin::Terminal, &[]),
            "pipeline" => {
                self.pipeline(env, &Self::children(n), scope, Stdin::Terminal, &[]);
            }
            "subshell" => {
                let mut inner = scope.clone();
                self.seq(env, n, &mut inner);
            }
            "compound_statement" if node_text(env.src, n) == "{}" => {
                // tree-sitter-bash reads `{}` as an empty group; bash reads the word `{}` and
                // runs a program of that name (what `bash -c {}` does with a literal `{}`).
                let span = env.map.span(n.start_byte(), n.end_byte());
                let mut w = W::lit("{}", span);
                w.map = Some(env.map.sub(n.start_byte()));
                wrappers::exec(
                    self,
                    vec![w],
                    span,
                    Io::default(),
                    scope,
                    env.inh.clone(),
                    env.depth,
                );
            }
            "program" | "compound_statement" | "do_group" | "list" | "else_clause"
            | "elif_clause" | "case_item" | "negated_command" | "ERROR" => {
                self.seq(env, n, scope);
            }
            "for_statement" if self.for_words(env, n, scope) => {}
            "if_statement"
            | "while_statement"
            | "for_statement"
            | "c_style_for_statement"
            | "case_statement" => self.seq(env, n, scope),
            "function_definition" => {
                if let Some(body) = n.child_by_field_name("body") {
                    let mut inner = scope.clone();
                    self.stmt(env, body, &mut inner);
                }
            }
            "variable_assignment" if n.parent().is_some_and(|p| p.kind() == "program") => {
                self.assignment(env, n, scope);
            }
            "declaration_command" if n.parent().is_some_and(|p| p.kind() == "program") => {
                self.declaration_listing(env, n, scope);
                Self::exports(env, n, scope);
                for ch in Self::children(n) {
                    if ch.kind() == "variable_assignment" {
                        self.assignment(env, ch, scope);
                    } else if ch.is_named() {
                        self.subs(env, ch, scope);
                    }
                }
            }
            "variable_assignment" => {
                Self::shell_variable(env, n, scope);
                if !self.carried_assignment(env, n, scope) {
                    self.subs(env, n, scope);
                }
            }
            "variable_assignments" if n.parent().is_some_and(|p| p.kind() == "program") => {
                for ch in Self::children(n) {
                    if ch.kind() == "variable_assignment" {
                        Self::shell_variable(env, ch, scope);
                        self.assignment(env, ch, scope);
                    } else if ch.is_named() {
                        self.subs(env, ch, scope);
                    }
                }
            }
            "declaration_command" | "variable_assignments" => {
                if n.kind() == "declaration_command" {
                    self.declaration_listing(env, n, scope);
                    Self::exports(env, n, scope);
                }
                for ch in Self::children(n) {
                    if ch.kind() == "variable_assignment" {
                        if !self.carried_assignment(env, ch, scope) {
                            self.subs(env, ch, scope);
                        }
                    } else if ch.is_named() {
                        self.subs(env, ch, scope);
                    }
                }
            }
            "test_command" | "unset_command" => self.subs(env, n, scope),
            "comment" | "heredoc_body" | "heredoc_end" | "heredoc_start" => {}
            _ if !n.is_named() => {}
            other => {
                // Expression-like nodes (for-loop values, case words, conditions).
                if is_word_kind(other) || other.ends_with("_expression") {
                    self.subs(env, n, scope);
                } else {
                    self.opaque(
                        env.map.span(n.start_byte(), n.end_byte()),
                        format!("unsupported shell construct `{other}`"),
                        node_text(env.src, n),
                    );
                    self.subs(env, n, scope);
                }
            }
        }
        Stdin::Pipe
    }

    /// Children of a sequential node, sharing the scope.
    fn seq(&mut self, env: &Env<'_, '_>, n: Node<'_>, scope: &mut Scope) {
        let mut prev_end = None;
        for ch in Self::children(n) {
            let before = prev_end.replace(ch.end_byte());
            if !ch.is_named() || ch.is_missing() {
                continue;
            }
            match ch.kind() {
                "heredoc_body" => self.subs(env, ch, scope),
                k if is_statement(k)
                    || matches!(
                        k,
                        "do_group"
                            | "else_clause"
                            | "elif_clause"
                            | "case_item"
                            | "compound_statement"
                            | "ERROR"
                            | "comment"
                    ) =>
                {
                    // Cleared after: node ids are unique only while this tree lives.
                    self.prev_sibling_end = before.map(|end| (ch.id(), end));
                    self.stmt(env, ch, scope);
                    self.prev_sibling_end = None;
                }
                "variable_name" | "word" if n.kind() == "function_definition" => {}
                _ => self.subs(env, ch, scope),
            }
        }
    }

    /// A pipeline; `tail_redirects` belong to its last element (tree-sitter attaches
    /// `a | b > f` to the whole pipeline, the shell to `b`).
    /// Where `n`'s previous sibling ends: from the sequence's own walk when it is the statement
    /// that walk is at (tree-sitter's `prev_sibling` walks the parent's children from the first,
    /// quadratic over a script's statements), else from tree-sitter.
    fn prev_sibling_end_of(&self, n: Node<'_>) -> Option<usize> {
        self.prev_sibling_end
            .filter(|(id, _)| *id == n.id())
            .map(|(_, end)| {
                // The whole test suite (corpus, oracle, properties) checks the shortcut.
                debug_assert_eq!(Some(end), n.prev_sibling().map(|p| p.end_byte()));
                end
            })
            .or_else(|| n.prev_sibling().map(|p| p.end_byte()))
    }

    fn pipeline(
        &mut self,
        env: &Env<'_, '_>,
        parts: &[Node<'_>],
        scope: &Scope,
        first: Stdin,
        tail_redirects: &[Node<'_>],
    ) -> Stdin {
        let named: Vec<Node<'_>> = parts.iter().copied().filter(|c| c.is_named()).collect();
        let mut input = first;
        for (k, ch) in named.iter().enumerate() {
            let mut inner = scope.clone();
            let stdin = std::mem::take(&mut input);
            let extra: &[Node<'_>] = if k + 1 == named.len() {
                tail_redirects
            } else {
                &[]
            };
            input = self.tail(env, *ch, &mut inner, stdin, extra);
        }
        input
    }

    /// Analyse a statement whose last simple command also gets `redirects`.
    fn tail(
        &mut self,
        env: &Env<'_, '_>,
        n: Node<'_>,
        scope: &mut Scope,
        stdin: Stdin,
        redirects: &[Node<'_>],
    ) -> Stdin {
        if !self.enter(env, n) {
            return Stdin::Pipe;
        }
        let out = match n.kind() {
            "command" => self.simple(env, n, redirects, scope, stdin),
            "redirected_statement" => self.redirected(env, n, scope, stdin, redirects),
            "pipeline" => {
                let parts = Self::children(n);
                self.pipeline(env, &parts, scope, stdin, redirects)
            }
            // `! CMD <<EOF`: the heredoc (and the piped input) is the negated command's.
            "negated_command" => match Self::children(n).into_iter().find(|c| c.is_named()) {
                Some(inner) => self.tail(env, inner, scope, stdin, redirects),
                None => Stdin::Pipe,
            },
            // tree-sitter-bash reads `a | b | c && d` as `a | (b | c && d)`; bash reads
            // `(a | b | c) && d`, so the piped input is the first part's (`echo 'git push' |
            // bash | cat && x` runs the push).
            "list" if !redirects.is_empty() || !matches!(stdin, Stdin::Terminal) => {
                let named: Vec<Node<'_>> = Self::children(n)
                    .into_iter()
                    .filter(|c| c.is_named())
                    .collect();
                let mut out = Stdin::Pipe;
                let mut first_stdin = Some(stdin);
                for (k, ch) in named.iter().enumerate() {
                    let input = first_stdin.take().unwrap_or(Stdin::Terminal);
                    if k + 1 == named.len() {
                        out = self.tail(env, *ch, scope, input, redirects);
                    } else if k == 0 {
                        self.tail(env, *ch, scope, input, &[]);
                    } else {
                        self.stmt(env, *ch, scope);
                    }
                }
                out
            }
            _ => {
                let first = self.out.commands.len();
                let out = self.stmt(env, n, scope);
                self.patch_redirects(env, redirects, scope, first);
                out
            }
        };
        self.recursion -= 1;
        out
    }

    /// Apply redirections of a compound statement (`{ a; b; } > f`) to every command in it.
    fn patch_redirects(
        &mut self,
        env: &Env<'_, '_>,
        redirects: &[Node<'_>],
        scope: &mut Scope,
        first: usize,
    ) {
        if redirects.is_empty() {
            return;
        }
        let mut io = Io::default();
        let mut extra = Vec::new();
        let mut cont = Vec::new();
        for r in redirects {
            self.redirect(env, *r, &mut io, &mut extra, &mut cont, scope);
        }
        let last = self.out.commands.len();
        for c in &mut self.out.commands[first..last] {
            c.writes.extend(io.writes.iter().cloned());
            c.reads.extend(io.reads.iter().cloned());
            c.argv.extend(extra.iter().map(|w| w.v.clone()));
            c.dynamic |= io.dynamic || extra.iter().any(|w| w.dynamic);
        }
        self.continuations(env, &cont, scope, Stdin::Pipe, false);
    }

    /// A statement with redirections (plus `outer` ones that an enclosing node carried).
    fn redirected(
        &mut self,
        env: &Env<'_, '_>,
        n: Node<'_>,
        scope: &mut Scope,
        stdin: Stdin,
        outer: &[Node<'_>],
    ) -> Stdin {
        let body = n.child_by_field_name("body");
        let mut redirects: Vec<Node<'_>> = {
            let mut c = n.walk();
            n.children_by_field_name("redirect", &mut c).collect()
        };
        redirects.extend_from_slice(outer);
        let Some(body) = body else {
            // A bare redirection (`> f`): equivalent to `: > f`.
            let mut io = Io {
                stdin,
                ..Io::default()
            };
            let mut extra = Vec::new();
            let mut cont = Vec::new();
            // Words the parser skipped (`- 2>/dev/null x`: bash runs `-` with argument `x`).
            // The skipped word can lie before this node (`- 2>/dev/null x`): from the end of
            // whatever precedes it (`;`, `|`, the start of the text).
            let mut skipped_unreadable = false;
            let mut prev_end = self
                .prev_sibling_end_of(n)
                .or_else(|| n.parent().map(|p| p.start_byte()))
                .unwrap_or(0);
            for r in &redirects {
                if r.start_byte() >= prev_end {
                    skipped_unreadable |= !skipped_words(env, prev_end, r.start_byte(), &mut extra);
                    prev_end = r.end_byte();
                }
                self.redirect(env, *r, &mut io, &mut extra, &mut cont, scope);
            }
            let span = env.map.span(n.start_byte(), n.end_byte());
            if skipped_unreadable {
                self.opaque(
                    span,
                    "the shell parser skipped part of the command",
                    node_text(env.src, n),
                );
                return Stdin::Pipe;
            }
            if extra.is_empty() {
                self.emit_redirections_only(span, env.inh, &io, scope);
            } else {
                // Words after the redirection are a command (`>f x` runs `x`).
                self.heredoc_consumed = false;
                wrappers::exec(self, extra, span, io, scope, env.inh.clone(), env.depth);
            }
            let consumed = std::mem::take(&mut self.heredoc_consumed);
            self.continuations(env, &cont, scope, Stdin::Pipe, consumed);
            return Stdin::Pipe;
        };
        self.tail(env, body, scope, stdin, &redirects)
    }

    /// Statements that tree-sitter nests inside a heredoc redirect (`cat <<EOF | sh`,
    /// `cat <<EOF && x`).
    fn continuations(
        &mut self,
        env: &Env<'_, '_>,
        cont: &[Node<'_>],
        scope: &mut Scope,
        out: Stdin,
        body_consumed: bool,
    ) {
        let mut out = Some(out);
        for c in cont {
            if c.kind() == "heredoc_body" && !body_consumed {
                self.subs(env, *c, scope);
            }
        }
        for c in cont {
            if c.kind() == "heredoc_body" {
                continue;
            }
            if c.kind() == "pipeline" {
                let parts = Self::children(*c);
                self.pipeline(env, &parts, scope, out.take().unwrap_or(Stdin::Pipe), &[]);
            } else {
                self.stmt(env, *c, scope);
            }
        }
    }

    /// Process one redirect node into `io`; words that tree-sitter attached to the redirect but
    /// that are really arguments go to `extra`; statements nested in heredocs go to `cont`.
    fn redirect<'t>(
        &mut self,
        env: &Env<'_, '_>,
        r: Node<'t>,
        io: &mut Io,
        extra: &mut Vec<W>,
        cont: &mut Vec<Node<'t>>,
        scope: &mut Scope,
    ) {
        match r.kind() {
            "file_redirect" => {
                let mut op = String::new();
                let mut dests = Vec::new();
                let mut fd = None;
                for ch in Self::children(r) {
                    if !ch.is_named() {
                        op.push_str(ch.kind());
                    } else if ch.kind() != "file_descriptor" {
                        dests.push(ch);
                    } else {
                        fd = Some(node_text(env.src, ch));
                    }
                }
                let mut it = dests.into_iter();
                if let Some(d) = it.next() {
                    let ws = self.word(env, d, scope);
                    let target = ws.into_iter().next();
                    if let Some(t) = target {
                        io.dynamic |= t.dynamic;
                        let fd_dup = matches!(op.as_str(), ">&" | "<&" | ">&-" | "<&-")
                            && (t.v.chars().all(|c| c.is_ascii_digit()) || t.v == "-");
                        let special = matches!(
                            t.v.as_str(),
                            "/dev/null" | "/dev/stdout" | "/dev/stderr" | "/dev/stdin" | "/dev/tty"
                        ) || t.v.starts_with("/dev/fd/");
                        if !fd_dup && !special {
                            if op.starts_with('<') && op != "<>" {
                                io.reads.push(t.v);
                            } else if op == "<>" {
                                io.reads.push(t.v.clone());
                                io.writes.push(t.v);
                            } else {
                                let replaces_stdout = matches!(op.as_str(), ">" | ">|")
                                    && fd.is_none_or(|f| f == "1")
                                    && !t.dynamic;
                                io.stdout_file = replaces_stdout.then(|| t.v.clone());
                                io.writes.push(t.v);
                            }
                        }
                    }
                }
                for d in it {
                    extra.extend(self.word(env, d, scope));
                }
            }
            "heredoc_redirect" => {
                let mut quoted = false;
                let mut body_text: Option<(usize, usize)> = None;
                let mut body_node = None;
                let mut start_end: Option<usize> = None;
                let mut end_start: Option<usize> = None;
                for ch in Self::children(r) {
                    match ch.kind() {
                        "heredoc_start" => {
                            let t = node_text(env.src, ch);
                            quoted = t.contains(['\'', '"', '\\']);
                            start_end = Some(ch.end_byte());
                        }
                        "heredoc_body" => {
                            body_text = Some((ch.start_byte(), ch.end_byte()));
                            body_node = Some(ch);
                        }
                        "heredoc_end" => end_start = Some(ch.start_byte()),
                        "file_redirect" | "herestring_redirect" => {
                            self.redirect(env, ch, io, extra, cont, scope);
                        }
                        k if is_statement(k) => cont.push(ch),
                        _ => {}
                    }
                }
                // tree-sitter-bash reads a first body line that starts with a backslash as
                // words of the redirection (and drops it from the body): the body is taken
                // from the source, from the line after `<<DELIM` to the delimiter line.
                let line_after = start_end.and_then(|e| {
                    env.src
                        .get(e..)
                        .and_then(|t| t.find('\n'))
                        .map(|p| e + p + 1)
                });
                let whole = match (line_after, body_text, end_start) {
                    (Some(s), Some((bs, be)), _) if s < bs => Some((s, be)),
                    (_, Some(b), _) => Some(b),
                    (Some(s), None, Some(e)) if s <= e => Some((s, e)),
                    _ => None,
                };
                if let Some((s, e)) = whole {
                    let text = env.src.get(s..e).unwrap_or("").to_string();
                    let prefix = body_text.map_or(text.as_str(), |(bs, _)| {
                        env.src.get(s..bs.max(s)).unwrap_or("")
                    });
                    let prefix_dynamic = !quoted && prefix.contains(['$', '`']);
                    let dynamic =
                        !quoted && (body_node.is_some_and(has_expansion) || prefix_dynamic);
                    if let Some(bn) = body_node.filter(|_| dynamic) {
                        // Its substitutions run in this shell unless a shell consumes the body.
                        cont.push(bn);
                    }
                    if prefix_dynamic && !prefix.is_empty() {
                        self.opaque(
                            env.map.span(s, s + prefix.len()),
                            "heredoc line the parser misread holds an expansion",
                            prefix,
                        );
                    }
                    io.stdin = Stdin::Text {
                        text,
                        map: env.map.sub(s),
                        dynamic,
                        heredoc_unquoted: !quoted,
                    };
                }
            }
            "herestring_redirect" => {
                for ch in Self::children(r) {
                    if ch.is_named() {
                        let ws = self.word(env, ch, scope);
                        let text: Vec<&str> = ws.iter().map(|w| w.v.as_str()).collect();
                        let dynamic = ws.iter().any(|w| w.dynamic);
                        let map = match ws.as_slice() {
                            [w] => w.text_map(),
                            _ => env.map.sub(ch.start_byte()),
                        };
                        io.stdin = Stdin::Text {
                            text: text.join(" ") + "\n",
                            map,
                            dynamic,
                            heredoc_unquoted: false,
                        };
                        break;
                    }
                }
            }
            _ => self.subs(env, r, scope),
        }
    }

    /// A simple command.
    fn simple(
        &mut self,
        env: &Env<'_, '_>,
        n: Node<'_>,
        outer_redirects: &[Node<'_>],
        scope: &mut Scope,
        stdin: Stdin,
    ) -> Stdin {
        let mut words: Vec<W> = Vec::new();
        let mut io = Io {
            stdin,
            ..Io::default()
        };
        let mut extra = Vec::new();
        let mut cont = Vec::new();
        let mut has_name = false;
        let mut last_end: Option<usize> = None;
        let mut assigned: Vec<String> = Vec::new();
        // A word the parser skipped just before this command (`- 2>/dev/null x` is parsed as
        // `2>/dev/null x`; bash runs `-`): recovered when it is plain words on the same line.
        // Likewise between two parts of it (`X=1 - 2>/dev/null x`).
        let mut before = self
            .prev_sibling_end_of(n)
            .or_else(|| {
                // The root starts where the parser's first node does, after a skipped word.
                n.parent().map(|p| {
                    if p.parent().is_some() {
                        p.start_byte()
                    } else {
                        0
                    }
                })
            })
            .unwrap_or(0);
        let kids = Self::children(n);
        let mut i = 0;
        while i < kids.len() {
            let ch = kids[i];
            i += 1;
            if i > 1
                && matches!(
                    n.field_name_for_child((i - 1) as u32),
                    Some("argument" | "name")
                )
                && self.joined_lines(env, n, kids[i - 2], ch)
            {
                return Stdin::Terminal;
            }
            if let Some(gap) = env.src.get(before..ch.start_byte())
                && !gap.contains('\n')
                && !gap.trim().is_empty()
            {
                let mut recovered = Vec::new();
                if skipped_words(env, before, ch.start_byte(), &mut recovered) {
                    has_name = true;
                    words.extend(recovered);
                }
            }
            before = ch.end_byte();
            let field = n.field_name_for_child((i - 1) as u32);
            match (ch.kind(), field) {
                ("variable_assignment", _) => {
                    assigned.extend(assignment_text(env.src, ch));
                    if !self.carried_assignment(env, ch, scope) {
                        self.subs(env, ch, scope);
                    }
                }
                ("command_name", _) => {
                    has_name = true;
                    let inner = ch.named_child(0).unwrap_or(ch);
                    let ws = self.word(env, inner, scope);
                    join_words(env.src, &mut words, ws, &mut last_end, inner);
                }
                ("file_redirect" | "heredoc_redirect" | "herestring_redirect", _) => {
                    self.redirect(env, ch, &mut io, &mut extra, &mut cont, scope);
                }
                ("$", Some("argument")) => {
                    // `$"…"` (locale translation) is split by tree-sitter into `$` + string.
                    if let Some(next) = kids.get(i)
                        && next.kind() == "string"
                        && next.start_byte() == ch.end_byte()
                    {
                        let mut ws = self.word(env, *next, scope);
                        for w in &mut ws {
                            w.span = env.map.span(ch.start_byte(), next.end_byte());
                            w.map = None;
                        }
                        words.extend(ws);
                        i += 1;
                    } else {
                        words.push(W::lit("$", env.map.span(ch.start_byte(), ch.end_byte())));
                    }
                }
                (_, Some("argument")) => {
                    let ws = self.word(env, ch, scope);
                    join_words(env.src, &mut words, ws, &mut last_end, ch);
                }
                ("comment", _) => {}
                _ if ch.is_named() => self.subs(env, ch, scope),
                _ => {}
            }
        }
        // Words tree-sitter-bash skipped: a lone `-` before a numbered redirect
        // (`make - 2>/dev/null x`) is in no node at all, though bash passes it.
        let mut skipped_unreadable = false;
        let mut prev_end = n.end_byte();
        for r in outer_redirects {
            skipped_unreadable |= !skipped_words(env, prev_end, r.start_byte(), &mut extra);
            prev_end = r.end_byte();
            self.redirect(env, *r, &mut io, &mut extra, &mut cont, scope);
        }
        words.extend(extra);
        let name_dynamic = words.first().is_none_or(|w| w.dynamic);
        let span = env.map.span(n.start_byte(), n.end_byte());
        if skipped_unreadable {
            self.opaque(
                span,
                "the shell parser skipped part of the command",
                node_text(env.src, n),
            );
            return Stdin::Pipe;
        }
        let output = literal_output(&words, &io, span);
        if !has_name {
            self.emit_redirections_only(span, env.inh, &io, scope);
        } else if name_dynamic {
            let text = words.first().map(|w| w.v.clone()).unwrap_or_default();
            self.opaque(
                span,
                format!("program name `{text}` is computed at run time"),
                node_text(env.src, n),
            );
        } else {
            self.heredoc_consumed = false;
            let mut inh = env.inh.clone();
            for v in scope.exported.iter().chain(&assigned) {
                if !inh.env.contains(v) {
                    inh.env.push(v.clone());
                }
            }
            wrappers::exec(self, words, span, io, scope, inh, env.depth);
        }
        let consumed = std::mem::take(&mut self.heredoc_consumed);
        self.continuations(
            env,
            &cont,
            scope,
            output.clone().unwrap_or(Stdin::Pipe),
            consumed,
        );
        output.unwrap_or(Stdin::Pipe)
    }

    /// Analyse every command substitution inside `n` (which is not itself a statement).
    pub(crate) fn subs(&mut self, env: &Env<'_, '_>, n: Node<'_>, scope: &mut Scope) {
        if !self.enter(env, n) {
            return;
        }
        match n.kind() {
            "command_substitution" | "process_substitution" => self.substitution(env, n, scope),
            _ => {
                for ch in Self::children(n) {
                    if ch.is_named() {
                        if is_statement(ch.kind()) {
                            self.stmt(env, ch, scope);
                        } else {
                            self.subs(env, ch, scope);
                        }
                    }
                }
            }
        }
        self.recursion -= 1;
    }

    /// `export`, `export -p`, `declare -x`, … with no names: the builtin prints variables (the
    /// exported environment among them), so it is reported as a command of that name.
    fn declaration_listing(&mut self, env: &Env<'_, '_>, n: Node<'_>, scope: &Scope) {
        let kids = Self::children(n);
        let Some(keyword) = kids.first() else {
            return;
        };
        let flags = kids
            .iter()
            .skip(1)
            .all(|k| k.kind() == "word" && node_text(env.src, *k).starts_with('-'));
        if flags {
            let argv = kids
                .iter()
                .map(|k| node_text(env.src, *k).to_string())
                .collect();
            let span = env.map.span(keyword.start_byte(), n.end_byte());
            self.emit(
                argv,
                span,
                env.inh,
                &Io::default(),
                false,
                scope,
                Vec::new(),
            );
        }
    }

    fn substitution(&mut self, env: &Env<'_, '_>, n: Node<'_>, scope: &Scope) {
        let mut inner = scope.clone();
        let text = node_text(env.src, n);
        if text.starts_with('`') && text.contains('\\') && text.len() >= 2 {
            let body = text.get(1..text.len() - 1).unwrap_or("");
            let un = words::unescape_backquote(body);
            let map = Map::Fixed(env.map.span(n.start_byte(), n.end_byte()));
            self.text(&un, map, &mut inner, env.inh, env.depth + 1);
            return;
        }
        let kids = Self::children(n);
        let redirects: Vec<Node<'_>> = kids
            .iter()
            .copied()
            .filter(|c| c.kind() == "file_redirect")
            .collect();
        if !redirects.is_empty() {
            // `$(< file)` reads the file (like `cat file`): report it as `: < file`.
            let mut io = Io::default();
            let mut extra = Vec::new();
            let mut cont = Vec::new();
            for r in &redirects {
                self.redirect(env, *r, &mut io, &mut extra, &mut cont, &mut inner);
            }
            let span = env.map.span(n.start_byte(), n.end_byte());
            self.emit(
                vec![":".into()],
                span,
                env.inh,
                &io,
                false,
                &inner,
                Vec::new(),
            );
        }
        for ch in kids {
            if ch.is_named() && ch.kind() != "file_redirect" {
                self.stmt(env, ch, &mut inner);
            }
        }
    }

    /// Evaluate a word node; brace expansion may produce several words.
    pub(crate) fn word(&mut self, env: &Env<'_, '_>, n: Node<'_>, scope: &mut Scope) -> Vec<W> {
        let span = env.map.span(n.start_byte(), n.end_byte());
        let mut b = WordBuilder::default();
        if self.enter(env, n) {
            self.word_part(env, n, scope, &mut b, false);
            self.recursion -= 1;
        } else {
            b.dynamic = true;
            b.split = true;
        }
        let src = node_text(env.src, n);
        let verbatim = |v: &str| -> Option<Map> {
            // Keep exact spans when the value is the source text minus one pair of quotes.
            if v == src {
                Some(env.map.sub(n.start_byte()))
            } else if src.len() >= 2 && src.get(1..src.len() - 1) == Some(v) {
                Some(env.map.sub(n.start_byte() + 1))
            } else {
                None
            }
        };
        match words::brace_expand(&b.pieces) {
            Some(vs) if vs.len() == 1 => {
                let v = vs.into_iter().next().unwrap_or_default();
                let map = if b.dynamic { None } else { verbatim(&v) };
                vec![W {
                    v,
                    dynamic: b.dynamic,
                    split: b.split,
                    span,
                    map,
                }]
            }
            Some(vs) => vs
                .into_iter()
                .map(|v| W {
                    v,
                    dynamic: b.dynamic,
                    split: b.split,
                    span,
                    map: None,
                })
                .collect(),
            None => vec![W {
                v: src.to_string(),
                dynamic: true,
                split: true,
                span,
                map: None,
            }],
        }
    }

    fn word_part(
        &mut self,
        env: &Env<'_, '_>,
        n: Node<'_>,
        scope: &mut Scope,
        b: &mut WordBuilder,
        quoted: bool,
    ) {
        let text = node_text(env.src, n);
        match n.kind() {
            "word" | "number" => {
                let mut s = String::new();
                if quoted {
                    words::unescape_double(text, &mut s);
                    words::push_lit(&mut b.pieces, s);
                } else {
                    words::unescape_unquoted(text, &mut s);
                    if text.contains('\\') {
                        // Escaped braces are literal; keep it simple and treat the word as such.
                        words::push_lit(&mut b.pieces, s);
                    } else {
                        words::push_unquoted_pieces(&s, &mut b.pieces);
                    }
                }
            }
            "raw_string" => {
                let inner = text.get(1..text.len().saturating_sub(1)).unwrap_or("");
                words::push_lit(&mut b.pieces, inner.to_string());
            }
            "ansi_c_string" => {
                let inner = text.get(2..text.len().saturating_sub(1)).unwrap_or("");
                let mut s = String::new();
                words::decode_ansi_c(inner, &mut s);
                words::push_lit(&mut b.pieces, s);
            }
            "string" | "translated_string" => {
                let kids = Self::children(n);
                let open = text
                    .find('"')
                    .map_or(n.start_byte(), |p| n.start_byte() + p + 1);
                let close = if text.len() >= 2 && text.ends_with('"') {
                    n.end_byte() - 1
                } else {
                    n.end_byte()
                };
                let mut pos = open;
                for ch in kids {
                    if !ch.is_named() {
                        continue;
                    }
                    if ch.start_byte() > pos {
                        let mut s = String::new();
                        words::unescape_double(
                            env.src.get(pos..ch.start_byte()).unwrap_or(""),
                            &mut s,
                        );
                        words::push_lit(&mut b.pieces, s);
                    }
                    if ch.kind() == "string_content" {
                        let mut s = String::new();
                        words::unescape_double(node_text(env.src, ch), &mut s);
                        words::push_lit(&mut b.pieces, s);
                    } else {
                        self.word_part(env, ch, scope, b, true);
                    }
                    pos = pos.max(ch.end_byte());
                }
                if close > pos {
                    let mut s = String::new();
                    words::unescape_double(env.src.get(pos..close).unwrap_or(""), &mut s);
                    words::push_lit(&mut b.pieces, s);
                }
            }
            "concatenation" => {
                let kids = Self::children(n);
                let mut i = 0;
                while i < kids.len() {
                    let ch = kids[i];
                    i += 1;
                    if ch.kind() == "$"
                        && let Some(next) = kids.get(i)
                        && next.kind() == "string"
                    {
                        continue;
                    }
                    self.word_part(env, ch, scope, b, quoted);
                }
            }
            "simple_expansion" | "expansion" => {
                let name = n
                    .named_child(0)
                    .filter(|c| c.kind() == "variable_name")
                    .map(|c| node_text(env.src, c));
                let plain = matches!((n.kind(), text), ("simple_expansion", _) | ("expansion", _))
                    && name.is_some()
                    && n.named_child_count() == 1;
                // Unquoted, a value is split on whitespace and globbed: only plain values.
                let constant = name
                    .filter(|_| plain)
                    .and_then(|nm| scope.constant(nm))
                    .filter(|v| quoted || words::stays_one_word(v))
                    .map(str::to_string);
                if plain && name == Some("HOME") && b.is_empty() {
                    words::push_lit(&mut b.pieces, "~".to_string());
                } else if let Some(v) = constant {
                    words::push_lit(&mut b.pieces, v);
                } else {
                    b.dynamic = true;
                    // `"$@"` and `"${a[@]}"` are as many words as there are values.
                    b.split |= !quoted || text.contains('@');
                    words::push_lit(&mut b.pieces, text.to_string());
                    self.subs(env, n, scope);
                }
            }
            "command_substitution" => {
                // A heredoc's text cat'ed in is known; unquoted it is split and globbed, so only a
                // plain value is taken as it is.
                let known =
                    words::heredoc_cat_output(text).filter(|v| quoted || words::stays_one_word(v));
                if let Some(v) = known {
                    words::push_lit(&mut b.pieces, v);
                } else {
                    b.dynamic = true;
                    b.split |= !quoted;
                    words::push_lit(&mut b.pieces, text.to_string());
                }
                self.substitution(env, n, scope);
            }
            "process_substitution" => {
                words::push_lit(&mut b.pieces, text.to_string());
                self.substitution(env, n, scope);
            }
            "brace_expression" => {
                let mut s = String::new();
                words::unescape_unquoted(text, &mut s);
                words::push_unquoted_pieces(&s, &mut b.pieces);
            }
            "$" => words::push_lit(&mut b.pieces, "$".to_string()),
            _ => {
                // arithmetic_expansion, extglob patterns, anything else: keep the source text.
                if text.contains('$') || text.contains('`') || n.kind() == "arithmetic_expansion" {
                    b.dynamic = true;
                    b.split |= !quoted;
                }
                words::push_lit(&mut b.pieces, text.to_string());
                self.subs(env, n, scope);
            }
        }
    }

    /// Analyse a string as shell text run by a nested shell (`bash -c STRING`).
    pub(crate) fn shell_string(
        &mut self,
        w: &W,
        scope: &Scope,
        inh: &Inh,
        depth: usize,
        why: &str,
    ) -> usize {
        if w.dynamic {
            self.opaque(w.span, format!("{why} is computed at run time"), &w.v);
            return self.out.commands.len();
        }
        let mut inner = scope.child_shell();
        self.text(&w.v, w.text_map(), &mut inner, inh, depth + 1)
    }

    /// Search inline interpreter code for the commands it starts.
    pub(crate) fn code(
        &mut self,
        lang: Lang,
        code: &W,
        scope: &Scope,
        inh: &Inh,
        depth: usize,
        wrapper: &str,
    ) {
        if depth > MAX_DEPTH {
            self.opaque(
                code.span,
                format!("nested deeper than {MAX_DEPTH} levels"),
                &code.v,
            );
            return;
        }
        self.nested_bytes += code.v.len();
        if self.nested_bytes > MAX_NESTED_BYTES {
            self.opaque(code.span, "too much nested text to analyse", &code.v);
            return;
        }
        let inh = inh.with(wrapper);
        let map = code.text_map();
        for (at, e) in interp::scan_at(lang, &code.v) {
            // The call's own place in the original text when the code is a verbatim slice of
            // it (a script read ahead names its line), else the whole code's.
            let span = match map {
                Map::Offset(_) => {
                    let end = code.v[at..].find('\n').map_or(code.v.len(), |n| at + n);
                    map.span(at, end)
                }
                Map::Fixed(s) => s,
            };
            match e {
                Embedded::Shell(s) => {
                    let w = W::lit(s, span);
                    let mut inner = scope.child_shell();
                    self.text(&w.v, Map::Fixed(span), &mut inner, &inh, depth + 1);
                }
                Embedded::Argv(v, dynamic) => {
                    if v.is_empty() {
                        continue;
                    }
                    let ws = v.into_iter().map(|a| W::lit(a, span)).collect();
                    let mut inner = scope.clone();
                    let mut inh2 = inh.clone();
                    inh2.dynamic |= dynamic;
                    wrappers::exec(self, ws, span, Io::default(), &mut inner, inh2, depth + 1);
                }
                Embedded::Code(c) => {
                    let w = W::lit(c, code.span);
                    // The evaluated code runs in the same interpreter: no new wrapper layer.
                    let mut trimmed = inh.clone();
                    trimmed.wrappers.pop();
                    self.code(lang, &w, scope, &trimmed, depth + 1, wrapper);
                }
                Embedded::NonLiteral(t) => {
                    self.opaque(
                        code.span,
                        format!("embedded command built at run time ({wrapper}): {t}"),
                        &code.v,
                    );
                }
            }
        }
    }

    /// `cd`-like builtins update the scope.
    pub(crate) fn change_dir(&mut self, argv: &[W], scope: &mut Scope) -> bool {
        let Some(cmd) = argv.first() else {
            return false;
        };
        match cmd.v.as_str() {
            "cd" | "pushd" => {
                let args: Vec<&W> = argv[1..]
                    .iter()
                    .filter(|w| !(w.v.starts_with('-') && w.v.len() > 1 && w.v != "--"))
                    .filter(|w| w.v != "--")
                    .collect();
                let target = match args.first() {
                    None if cmd.v == "cd" => "~".to_string(),
                    None => return false,
                    Some(w) if w.dynamic || w.v == "-" || w.v.starts_with('+') => return false,
                    Some(w) => w.v.clone(),
                };
                if cmd.v == "pushd" {
                    scope.dirstack.push(scope.cwd.clone());
                }
                scope.cwd = Some(join_dir(scope.cwd.as_deref(), &target));
                true
            }
            "popd" => {
                if let Some(prev) = scope.dirstack.pop() {
                    scope.cwd = prev;
                    true
                } else {
                    false
                }
            }
            _ => false,
        }
    }
}

/// Appends the words of one word node; tree-sitter splits `gi\<newline>t` into two words
/// while the shell removes the line continuation first, so such neighbours are joined.
/// Recovers the words of `env.src[start..end]`, text between two nodes of one command that
/// the parser put in no node, as the literal words bash reads there (pushed onto `words`).
/// Only plain words are recovered; `false` when the text holds anything else.
fn skipped_words(env: &Env<'_, '_>, start: usize, end: usize, words: &mut Vec<W>) -> bool {
    let Some(gap) = env.src.get(start..end) else {
        return true;
    };
    let plain = |c: char| c.is_ascii_alphanumeric() || "-+=.,/:@%_^".contains(c);
    let mut at = start;
    for piece in gap.split_inclusive(char::is_whitespace) {
        let word = piece.trim_end();
        let word_start = at;
        at += piece.len();
        if word.is_empty() || word == "\\" && piece.ends_with('\n') {
            continue;
        }
        if !word.chars().all(plain) {
            return false;
        }
        words.push(W::lit(
            word,
            env.map.span(word_start, word_start + word.len()),
        ));
    }
    true
}

fn join_words(
    src: &str,
    words: &mut Vec<W>,
    ws: Vec<W>,
    last_end: &mut Option<usize>,
    n: Node<'_>,
) {
    let continued = last_end.is_some_and(|e| src.get(e..n.start_byte()) == Some("\\\n"));
    *last_end = Some(n.end_byte());
    let mut it = ws.into_iter();
    if continued
        && let Some(prev) = words.last_mut()
        && let Some(first) = it.next()
    {
        prev.v.push_str(&first.v);
        prev.dynamic |= first.dynamic;
        prev.span.end = prev.span.end.max(first.span.end);
        prev.map = None;
    }
    words.extend(it);
}

/// Joins a `cd` target onto the current directory, resolving `.` and `..` lexically.
fn join_dir(cwd: Option<&str>, target: &str) -> String {
    let base = match cwd {
        Some(c) if !(target.starts_with('/') || target.starts_with('~')) => {
            format!("{c}/{target}")
        }
        _ => target.to_string(),
    };
    let absolute = base.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for p in base.split('/') {
        match p {
            "" | "." => {}
            ".." if parts
                .last()
                .is_some_and(|l| *l != ".." && !l.starts_with('~')) =>
            {
                parts.pop();
            }
            ".." if absolute && parts.is_empty() => {}
            _ => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// What `echo`/`printf`/`cat <<EOF` print, when it is known statically (for `… | sh`).
fn literal_output(words: &[W], io: &Io, span: Span) -> Option<Stdin> {
    let name = wrappers::basename(&words.first()?.v).to_string();
    let dynamic = words.iter().any(|w| w.dynamic);
    match name.as_str() {
        "echo" => {
            let args: Vec<&str> = words[1..]
                .iter()
                .map(|w| w.v.as_str())
                .skip_while(|a| matches!(*a, "-n" | "-e" | "-E" | "-ne" | "-en"))
                .collect();
            Some(Stdin::Text {
                text: args.join(" ") + "\n",
                map: Map::Fixed(span),
                dynamic,
                heredoc_unquoted: false,
            })
        }
        "printf" => {
            let fmt = words.get(1)?;
            if words.len() == 2 && !fmt.v.contains('%') {
                Some(Stdin::Text {
                    text: fmt.v.replace("\\n", "\n"),
                    map: Map::Fixed(span),
                    dynamic,
                    heredoc_unquoted: false,
                })
            } else {
                None
            }
        }
        "cat" if words.len() == 1 => match &io.stdin {
            s @ Stdin::Text { .. } => Some(s.clone()),
            _ => None,
        },
        "find" if !dynamic && io.writes.is_empty() && only_prints_paths(&words[1..]) => {
            Some(Stdin::Found(words.to_vec()))
        }
        _ => None,
    }
}

/// Whether `find`'s arguments print the paths found and do nothing else: no action but
/// `-print`/`-print0` (`-printf` prints what it likes, `-exec` runs, `-delete` deletes).
fn only_prints_paths(args: &[W]) -> bool {
    const NOT_ACTIONS: &[&str] = &["-print", "-print0", "-prune", "-quit", "-true", "-false"];
    args.iter().all(|w| {
        let v = w.v.as_str();
        let action = [
            "-exec", "-ok", "-delete", "-print", "-fprint", "-fls", "-ls",
        ]
        .iter()
        .any(|a| v.starts_with(a));
        !action || NOT_ACTIONS.contains(&v)
    })
}

/// Keeps a span inside `text` and on char boundaries (start rounded down, end rounded up).
fn clamp(s: Span, text: &str) -> Span {
    let len = text.len();
    let mut start = s.start.min(len);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = s.end.clamp(start, len);
    while !text.is_char_boundary(end) {
        end += 1;
    }
    Span { start, end }
}

fn is_word_kind(k: &str) -> bool {
    matches!(
        k,
        "word"
            | "string"
            | "raw_string"
            | "ansi_c_string"
            | "translated_string"
            | "concatenation"
            | "simple_expansion"
            | "expansion"
            | "command_substitution"
            | "process_substitution"
            | "arithmetic_expansion"
            | "number"
            | "variable_name"
            | "extglob_pattern"
            | "regex"
            | "brace_expression"
            | "string_content"
            | "special_variable_name"
            | "test_operator"
            | "file_descriptor"
            | "herestring_redirect"
            | "file_redirect"
            | "heredoc_redirect"
    )
}

fn has_expansion(n: Node<'_>) -> bool {
    let mut c = n.walk();
    n.children(&mut c).any(|ch| {
        matches!(
            ch.kind(),
            "expansion" | "simple_expansion" | "command_substitution" | "arithmetic_expansion"
        )
    })
}

#[derive(Default)]
pub(crate) struct WordBuilder {
    pieces: Vec<Piece>,
    dynamic: bool,
    /// A run-time part outside double quotes (see [`W::split`]).
    split: bool,
}

impl WordBuilder {
    fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }
}

/// Where the walk is: the text, how it maps onto the original, nesting depth, inherited wrappers.
pub(crate) struct Env<'s, 'i> {
    src: &'s str,
    map: Map,
    depth: usize,
    inh: &'i Inh,
}

#[cfg(test)]
mod tests {
    use super::{join_dir, joins_lines};

    #[test]
    fn a_newline_after_an_odd_run_of_backslashes_continues_the_line() {
        // Between `a` and `b`: `\<newline>` continues, `\\<newline>` is a backslash and a new
        // line, `\\\<newline>` continues again.
        assert!(!joins_lines("a \\\nb", 1, 4));
        assert!(joins_lines("a\\\\\n b", 3, 5));
        assert!(!joins_lines("a\\\\\\\n b", 4, 6));
        assert!(joins_lines("a\n b", 1, 3));
    }

    #[test]
    fn cd_join() {
        assert_eq!(join_dir(Some("a"), "b"), "a/b");
        assert_eq!(join_dir(Some("a/b"), "../c"), "a/c");
        assert_eq!(join_dir(Some("a"), "/etc"), "/etc");
        assert_eq!(join_dir(None, ".."), "..");
        assert_eq!(join_dir(Some("/"), ".."), "/");
        assert_eq!(join_dir(Some("~/x"), "../.."), "~/..");
    }
}
