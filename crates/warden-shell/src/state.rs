//! The analyser's shared state types: evaluated words, a command's input and redirections, what
//! peeled wrappers pass on, shell scope and the per-call collector. Their own module so that the
//! syntax walk (`analyse.rs`), the wrapper peeler (`wrappers.rs`) and the carried-code readers
//! (`carried.rs`) depend on these types rather than on each other.

use crate::{Analysis, Span};

/// How byte offsets of the text being analysed map onto the original top-level text.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Map {
    /// The text is a verbatim slice of the original starting at this offset.
    Offset(usize),
    /// The text was derived (unquoted, decoded, joined); everything maps to this span.
    Fixed(Span),
}

impl Map {
    pub(crate) fn span(self, start: usize, end: usize) -> Span {
        match self {
            Map::Offset(b) => Span {
                start: b + start,
                end: b + end,
            },
            Map::Fixed(s) => s,
        }
    }
    pub(crate) fn sub(self, start: usize) -> Map {
        match self {
            Map::Offset(b) => Map::Offset(b + start),
            f @ Map::Fixed(_) => f,
        }
    }
}

/// A word after static evaluation.
#[derive(Debug, Clone)]
pub(crate) struct W {
    pub(crate) v: String,
    pub(crate) dynamic: bool,
    /// A run-time value outside double quotes: it may become several words, or none, or glob.
    pub(crate) split: bool,
    pub(crate) span: Span,
    /// Set when `v` is a verbatim slice of the original text (so nested text keeps exact spans).
    pub(crate) map: Option<Map>,
}

impl W {
    pub(crate) fn lit(v: impl Into<String>, span: Span) -> W {
        W {
            v: v.into(),
            dynamic: false,
            split: false,
            span,
            map: None,
        }
    }
    pub(crate) fn text_map(&self) -> Map {
        self.map.unwrap_or(Map::Fixed(self.span))
    }
}

/// What a command's standard input is, as far as it can be known.
#[derive(Debug, Clone, Default)]
pub(crate) enum Stdin {
    #[default]
    Terminal,
    /// A heredoc / here-string / literal pipe producer; `dynamic` when it holds expansions.
    Text {
        text: String,
        map: Map,
        dynamic: bool,
        heredoc_unquoted: bool,
    },
    /// Fed by a pipe whose content is unknown (e.g. `curl … | sh`).
    Pipe,
    /// The paths a `find` prints (its words, all literal, and only `-print`/`-print0` as
    /// actions): `find … | xargs CMD` is `find … -exec CMD {} +`.
    Found(Vec<W>),
}

/// Redirections and input of one command.
#[derive(Debug, Clone, Default)]
pub(crate) struct Io {
    pub(crate) writes: Vec<String>,
    pub(crate) reads: Vec<String>,
    pub(crate) stdin: Stdin,
    pub(crate) dynamic: bool,
    /// The file the standard output replaces (`> f`, `>| f`, the last one wins), when that is
    /// the only redirection writing a file: what `cat <<'EOF' > f` puts there is then known.
    pub(crate) stdout_file: Option<String>,
}

/// Properties inherited from the wrappers peeled so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct Inh {
    pub(crate) wrappers: Vec<String>,
    pub(crate) elevated: bool,
    pub(crate) dynamic: bool,
    /// Set when the commands run on another machine or in a container (`ssh HOST`, …).
    pub(crate) remote: Option<String>,
    /// `NAME=VALUE` assignments made for the command (see [`crate::Command::env`]).
    pub(crate) env: Vec<String>,
}

impl Inh {
    pub(crate) fn with(&self, wrapper: impl Into<String>) -> Inh {
        let mut n = self.clone();
        n.wrappers.push(wrapper.into());
        n
    }
}

/// Shell state that sequential commands share.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    pub(crate) cwd: Option<String>,
    pub(crate) dirstack: Vec<Option<String>>,
    /// Variables known to hold a constant (see `analyse::propagatable`); shared with subshells, not
    /// with child shells.
    pub(crate) consts: Vec<(String, String)>,
    /// `NAME=VALUE` of the variables an `export NAME=VALUE` statement set: every later command
    /// of the text sees them, child shells included (the environment is inherited).
    pub(crate) exported: Vec<String>,
    /// `NAME=VALUE` of the shell variables assigned by statements, for a later `export NAME`.
    pub(crate) assigned: Vec<String>,
}

impl Scope {
    /// The scope a child shell (`bash -c`, a script on stdin) starts with: same directory, no
    /// shell variables.
    pub(crate) fn child_shell(&self) -> Scope {
        Scope {
            cwd: self.cwd.clone(),
            dirstack: Vec::new(),
            consts: Vec::new(),
            exported: self.exported.clone(),
            assigned: Vec::new(),
        }
    }

    pub(crate) fn constant(&self, name: &str) -> Option<&str> {
        self.consts
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Collects the analysis of one call.
pub(crate) struct Ctx {
    pub(crate) out: Analysis,
    pub(crate) nested_bytes: usize,
    pub(crate) recursion: usize,
    pub(crate) full: bool,
    /// Top-level variables that may be propagated as constants (see `analyse::propagatable`).
    pub(crate) constants: Vec<String>,
    /// Set by the wrapper peeler when a shell analysed an unquoted heredoc body as its script
    /// (so the body's substitutions are not reported twice).
    pub(crate) heredoc_consumed: bool,
    /// The statement a sequence is analysing (its node id) and where its previous sibling
    /// ends: a node finds its previous sibling by walking its parent's children from the
    /// first, which over a script of many statements is quadratic.
    pub(crate) prev_sibling_end: Option<(usize, usize)>,
}
