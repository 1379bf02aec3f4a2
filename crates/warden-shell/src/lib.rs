//! Turns shell text (or an argv) into the commands it would actually run, so that policy can
//! judge each one: wrappers are peeled, compounds split, inline interpreter code searched, and
//! anything that cannot be known ahead of time is reported as opaque rather than dropped.
//!
//! Conventions the policy can rely on:
//! - wrapper labels: the wrapper's basename (`sudo`, `env`, `timeout`, `xargs`, …), `bash -c`
//!   (any shell name), `bash <stdin` (script from a heredoc, here-string or literal pipe),
//!   `find -exec` (or `-execdir`, `-ok`, `-okdir`), `eval`, `trap`, `su -c`, `script -c`,
//!   `python3 -c` / `node -e` / `perl -e` / `awk` (interpreter and flag), `python3 <stdin`;
//!   the table of peeled wrappers is [`WRAPPERS`];
//! - commands are reported in execution order as far as it is static; `find` comes before the
//!   commands of its `-exec`; substitutions come before the command that uses their output;
//! - code carried in variables and options (`GIT_SSH_COMMAND`, `git -c core.pager`, `sed e`,
//!   `ssh -o ProxyCommand`, …) is reported under a wrapper label naming the carrier; commands
//!   sent to another machine or container (`ssh HOST CMD`, `docker exec`, `kubectl exec`) carry
//!   [`Command::remote`];
//! - SQL clients ([`SQL_CLIENTS`]) fed a heredoc / here-string get `--warden-stdin=<body>` as a
//!   last argument, fed a file (`< dump.sql`) `--warden-stdin-file=<path>`; a bare redirection (`> f`) and `$(< f)` are reported as the command `:`;
//! - the analyser is pure, never panics, and bounds its work: input over [`MAX_INPUT`] bytes,
//!   nesting over [`MAX_DEPTH`] levels and more than 10,000 commands become opaque.

use serde::Serialize;

/// Byte range into the original top-level text (for argv input: into the argv joined by spaces).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// One command the text would run, after peeling every wrapper that leads to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Command {
    /// Unquoted words. `argv[0]` is the program as written (`/usr/bin/git`, `\git` becomes `git`).
    /// A word whose value cannot be known statically keeps its source text (e.g. `$X`) and sets
    /// `dynamic`.
    pub argv: Vec<String>,
    /// Where the command stands in the original text.
    pub span: Span,
    /// The wrappers peeled to reach this command, outermost first (`sudo`, `bash -c`, `xargs`, ...).
    pub wrappers: Vec<String>,
    /// Paths this command writes through redirections (`>`, `>>`, `&>`, `2>` to a file) or `tee`.
    pub writes: Vec<String>,
    /// Paths this command reads through redirections (`<`).
    pub reads: Vec<String>,
    /// Some argument's value is unknown before running: a parameter expansion, a command
    /// substitution, or arguments appended at run time (`xargs`, `parallel`, `find -exec {}`).
    pub dynamic: bool,
    /// The argv indices of its run-time values when those are all that is dynamic about it and
    /// each is one word whatever it holds (an expansion inside double quotes, not `"$@"`):
    /// which option such a value belongs to can then be known (`git commit -m "$MSG"`). Empty
    /// otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub one_word_dynamic: Vec<usize>,
    /// The command runs with elevated privileges (`sudo`, `doas`).
    pub elevated: bool,
    /// Directory the command runs in when the text changed it with a literal `cd` or `git -C`-style
    /// wrapper before it (absolute, or relative to the starting directory).
    pub cwd: Option<String>,
    /// Variables assigned for this command as `NAME=VALUE` (`HUSKY=0 git commit`, `env X=1
    /// cmd`, and those of the commands that started it): what it and its children see besides
    /// the environment. A value known only at run time keeps its source text.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Where the command runs when that is another machine or container (`ssh HOST`,
    /// `docker exec C`, `kubectl exec P`, …): outside any sandbox of this machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// What the command writes to its one path in `writes`, when the text says it (`cat
    /// <<'EOF' > f`, `cat > f <<EOF`, `tee f <<< 'TEXT'`, `echo TEXT > f`, `printf 'TEXT\n' > f`):
    /// a script written and run in the same text is read as written (lookahead).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// A part of the text whose effect cannot be determined statically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Opaque {
    pub span: Span,
    /// Why it could not be analysed, for a person.
    pub reason: String,
    /// The source text of the opaque part.
    pub text: String,
}

/// Everything found in one piece of shell text or argv.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Analysis {
    pub commands: Vec<Command>,
    pub opaque: Vec<Opaque>,
}

/// Maximum nesting of wrappers and embedded scripts; anything deeper is reported as opaque.
pub const MAX_DEPTH: usize = 16;

mod analyse;
mod carried;
mod interp;
mod state;
mod words;
mod wrappers;

pub use analyse::{
    MAX_INPUT, analyse_argv, analyse_shell, analyse_shell_by_lines, analyse_shell_parsed,
};
pub use wrappers::{Kind as WrapperKind, SQL_CLIENTS, WRAPPERS, Wrapper, fd_exec_option};
