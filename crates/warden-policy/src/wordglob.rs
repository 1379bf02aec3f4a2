//! Globs over single words (program names, subcommands, arguments, hosts, tool names). Compiling
//! these into regular expressions cost most of a `warden check` process's start-up, so words
//! get this small matcher: `*` (any run, `/` included), `?` (one character), `[abc]`, `[a-z]`,
//! `[!x]` / `[^x]`, and `\` to escape the next character.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    AnyRun,
    AnyOne,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// The text of tokens that are all literal characters.
fn literal_of(tokens: &[Token]) -> Option<String> {
    tokens
        .iter()
        .map(|t| match t {
            Token::Literal(c) => Some(*c),
            _ => None,
        })
        .collect()
}

/// One compiled word glob.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct WordGlob {
    source: String,
    tokens: Vec<Token>,
    case_insensitive: bool,
    shape: Shape,
}

/// Shapes that match without the general algorithm (most patterns in practice).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Everything,
    General,
}

impl fmt::Debug for WordGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WordGlob({:?})", self.source)
    }
}

/// Why a pattern is not a valid glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WordGlobError(pub String);

impl fmt::Display for WordGlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl WordGlob {
    pub(crate) fn new(pattern: &str, case_insensitive: bool) -> Result<Self, WordGlobError> {
        if !case_insensitive && !pattern.contains(['*', '?', '[', '\\']) {
            // A plain word (most path segments and program names): matched by comparison
            // alone, so it needs no tokens (compiling a policy's globs is start-up time).
            return Ok(Self {
                source: pattern.to_owned(),
                tokens: Vec::new(),
                case_insensitive,
                shape: Shape::Exact(pattern.to_owned()),
            });
        }
        let fold = |c: char| {
            if case_insensitive {
                c.to_ascii_lowercase()
            } else {
                c
            }
        };
        let mut tokens = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => {
                    if tokens.last() != Some(&Token::AnyRun) {
                        tokens.push(Token::AnyRun);
                    }
                }
                '?' => tokens.push(Token::AnyOne),
                '\\' => match chars.next() {
                    Some(e) => tokens.push(Token::Literal(fold(e))),
                    None => return Err(WordGlobError("dangling `\\` at the end".into())),
                },
                '[' => {
                    let negated = matches!(chars.peek(), Some('!' | '^'));
                    if negated {
                        chars.next();
                    }
                    let mut ranges = Vec::new();
                    let mut closed = false;
                    let mut first = true;
                    while let Some(c) = chars.next() {
                        if c == ']' && !first {
                            closed = true;
                            break;
                        }
                        first = false;
                        let lo = if c == '\\' {
                            chars
                                .next()
                                .ok_or_else(|| WordGlobError("dangling `\\` in a class".into()))?
                        } else {
                            c
                        };
                        if chars.peek() == Some(&'-') {
                            let mut look = chars.clone();
                            look.next();
                            if let Some(&hi) = look.peek()
                                && hi != ']'
                            {
                                chars.next();
                                chars.next();
                                if hi < lo {
                                    return Err(WordGlobError(format!("bad range `{lo}-{hi}`")));
                                }
                                ranges.push((fold(lo), fold(hi)));
                                continue;
                            }
                        }
                        ranges.push((fold(lo), fold(lo)));
                    }
                    if !closed {
                        return Err(WordGlobError(
                            "unclosed character class; missing `]`".into(),
                        ));
                    }
                    tokens.push(Token::Class { negated, ranges });
                }
                other => tokens.push(Token::Literal(fold(other))),
            }
        }
        let shape = Self::shape_of(&tokens, case_insensitive);
        Ok(Self {
            source: pattern.to_owned(),
            tokens,
            case_insensitive,
            shape,
        })
    }

    fn shape_of(tokens: &[Token], case_insensitive: bool) -> Shape {
        if case_insensitive {
            return Shape::General;
        }
        if let [Token::AnyRun] = tokens {
            return Shape::Everything;
        }
        if let [rest @ .., Token::AnyRun] = tokens
            && let Some(l) = literal_of(rest)
        {
            return Shape::Prefix(l);
        }
        if let [Token::AnyRun, rest @ ..] = tokens
            && let Some(l) = literal_of(rest)
        {
            return Shape::Suffix(l);
        }
        literal_of(tokens)
            .map(Shape::Exact)
            .unwrap_or(Shape::General)
    }

    /// `ext` when the pattern is exactly `*.ext` (case-sensitive, `ext` literal without a dot):
    /// a word matches it when the text after its last dot is `ext`.
    fn extension(&self) -> Option<&str> {
        match &self.shape {
            Shape::Suffix(l) => l.strip_prefix('.').filter(|e| !e.contains('.')),
            _ => None,
        }
    }

    /// The pattern's text when it is case-sensitive and has no wildcard at all.
    fn exact(&self) -> Option<&str> {
        match &self.shape {
            Shape::Exact(l) => Some(l),
            _ => None,
        }
    }

    fn token_matches(&self, t: &Token, c: char) -> bool {
        let c = if self.case_insensitive {
            c.to_ascii_lowercase()
        } else {
            c
        };
        match t {
            Token::Literal(l) => *l == c,
            Token::AnyOne => true,
            Token::Class { negated, ranges } => {
                ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated
            }
            Token::AnyRun => false,
        }
    }

    /// Match the whole word.
    pub(crate) fn is_match(&self, word: &str) -> bool {
        match &self.shape {
            Shape::Exact(l) => word == l,
            Shape::Prefix(l) => word.starts_with(l.as_str()),
            Shape::Suffix(l) => word.ends_with(l.as_str()),
            Shape::Everything => true,
            Shape::General => self.general_match(word),
        }
    }

    /// Linear-time backtracking over the last `*` only. Walks the word by byte offsets of its
    /// characters (no copy of the word: this runs for every path of every command).
    fn general_match(&self, word: &str) -> bool {
        let char_at = |i: usize| word[i..].chars().next();
        let (mut ti, mut pi) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while let Some(c) = char_at(ti) {
            match self.tokens.get(pi) {
                Some(Token::AnyRun) => {
                    star = Some((pi, ti));
                    pi += 1;
                }
                Some(t) if self.token_matches(t, c) => {
                    ti += c.len_utf8();
                    pi += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        // The `*` takes one more character.
                        let next = st + char_at(st).map_or(1, char::len_utf8);
                        pi = sp + 1;
                        ti = next;
                        star = Some((sp, next));
                    }
                    None => return false,
                },
            }
        }
        self.tokens[pi..].iter().all(|t| *t == Token::AnyRun)
    }
}

/// Whether some character fits both single-character tokens (a negated class is taken to leave
/// room for one).
fn tokens_share_a_char(a: &Token, b: &Token) -> bool {
    let in_class = |t: &Token, c: char| match t {
        Token::Class { negated, ranges } => {
            ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated
        }
        _ => true,
    };
    match (a, b) {
        (Token::Literal(x), Token::Literal(y)) => x == y,
        (Token::Literal(c), t) | (t, Token::Literal(c)) => in_class(t, *c),
        (
            Token::Class {
                negated: false,
                ranges: r1,
            },
            Token::Class {
                negated: false,
                ranges: r2,
            },
        ) => r1
            .iter()
            .any(|(a1, b1)| r2.iter().any(|(a2, b2)| a1 <= b2 && a2 <= b1)),
        _ => true,
    }
}

/// Whether some sequence of items is matched both by `a` and by `b`, where `any(x)` says the
/// item is a wildcard for any run of items and `fits(x, y)` whether two other items can match one
/// item alike. `reach[i][j]`: the first `i` of `a` and the first `j` of `b` can produce the same
/// run (every step moves forward, so one pass in order fills it).
fn sequences_intersect<T>(
    a: &[T],
    b: &[T],
    any: impl Fn(&T) -> bool,
    fits: impl Fn(&T, &T) -> bool,
) -> bool {
    let (la, lb) = (a.len(), b.len());
    let w = lb + 1;
    let mut reach = vec![false; (la + 1) * w];
    reach[0] = true;
    for i in 0..=la {
        for j in 0..=lb {
            if !reach[i * w + j] {
                continue;
            }
            // A run wildcard may match nothing.
            if i < la && any(&a[i]) {
                reach[(i + 1) * w + j] = true;
            }
            if j < lb && any(&b[j]) {
                reach[i * w + j + 1] = true;
            }
            if i < la && j < lb {
                match (any(&a[i]), any(&b[j])) {
                    // The wildcard of one side takes what the other's item matches, and stays.
                    (true, _) => reach[i * w + j + 1] = true,
                    (false, true) => reach[(i + 1) * w + j] = true,
                    (false, false) if fits(&a[i], &b[j]) => reach[(i + 1) * w + j + 1] = true,
                    (false, false) => {}
                }
            }
        }
    }
    reach[la * w + lb]
}

impl WordGlob {
    /// Whether some word matches both this pattern and the shell glob `shell`, whose wildcards
    /// never match a leading `.` (the shell without `dotglob`: `*` does not expand to `.env`).
    fn intersects_shell_glob(&self, shell: &WordGlob) -> bool {
        let (pattern, shell) = (self.all_tokens(), shell.all_tokens());
        let dotted = |t: Option<&Token>| t == Some(&Token::Literal('.'));
        if dotted(pattern.first()) && !dotted(shell.first()) {
            return false;
        }
        sequences_intersect(
            &pattern,
            &shell,
            |t| *t == Token::AnyRun,
            tokens_share_a_char,
        )
    }

    /// The tokens, a plain word's (kept without any) included.
    fn all_tokens(&self) -> std::borrow::Cow<'_, [Token]> {
        match &self.shape {
            Shape::Exact(l) if self.tokens.is_empty() => {
                l.chars().map(Token::Literal).collect::<Vec<_>>().into()
            }
            _ => self.tokens.as_slice().into(),
        }
    }
}

/// Several word globs; matches when any does.
#[derive(Debug, Clone)]
pub(crate) struct WordSet(Vec<WordGlob>);

impl WordSet {
    pub(crate) fn new(
        patterns: &[String],
        case_insensitive: bool,
    ) -> Result<Self, (usize, WordGlobError)> {
        patterns
            .iter()
            .enumerate()
            .map(|(i, p)| WordGlob::new(p, case_insensitive).map_err(|e| (i, e)))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub(crate) fn is_match(&self, word: &str) -> bool {
        self.0.iter().any(|g| g.is_match(word))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, w: &str) -> bool {
        WordGlob::new(p, false).unwrap().is_match(w)
    }

    #[test]
    fn wildcards_classes_and_escapes() {
        assert!(m("git", "git"));
        assert!(!m("git", "gitx"));
        assert!(m("mkfs.*", "mkfs.ext4"));
        assert!(m("*", ""));
        assert!(m("+*", "+main"));
        assert!(!m("+*", "main"));
        assert!(m("*:*", "host:/srv"));
        assert!(m("of=/dev/sd*", "of=/dev/sda"));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxbyy"));
        assert!(m("?it", "git"));
        assert!(m("[*]", "*"));
        assert!(!m("[*]", "x"));
        assert!(m("/[*]", "/*"));
        assert!(!m("/[*]", "/etc"));
        assert!(m("[a-c]x", "bx"));
        assert!(m("[!a-c]x", "dx"));
        assert!(m("\\[", "["));
        assert!(m("python3.1[0-9]", "python3.12"));
        assert!(
            WordGlob::new("API.example.*", true)
                .unwrap()
                .is_match("api.EXAMPLE.invalid")
        );
        assert!(WordGlob::new("ma[ke", false).is_err());
        assert!(WordGlob::new("x\\", false).is_err());
        assert_eq!(WordGlob::new("git", false).unwrap().exact(), Some("git"));
        assert_eq!(WordGlob::new("g*t", false).unwrap().exact(), None);
    }
}

/// A glob over paths: `/`-separated segments, each a word glob (so `*` stays inside one
/// segment), and `**` as a whole segment for zero or more segments.
#[derive(Debug, Clone)]
pub(crate) struct PathGlob {
    /// Kept for the general shape only (the others match without walking segments).
    segments: Vec<PathSegment>,
    fast: PathShape,
}

/// Path patterns that match without walking segments.
#[derive(Debug, Clone)]
enum PathShape {
    /// `**/name`: the last segment is exactly `name`.
    Basename(String),
    /// `a/b/**`: the path is `a/b` or below it.
    Under(String),
    /// No wildcard at all.
    Exact(String),
    /// `**/a/*.b`: the last segments match these (no other `**`), without walking every split.
    Tail(Vec<WordGlob>),
    /// `**/a/b/**`: some run of consecutive segments matches these (no other `**`).
    Within(Vec<WordGlob>),
    General,
}

#[derive(Debug, Clone)]
enum PathSegment {
    AnyDepth,
    Word(WordGlob),
}

impl PathGlob {
    /// The pattern's segments, as the general walk matches them.
    fn segments_of(pattern: &str) -> Result<Vec<PathSegment>, WordGlobError> {
        let mut segments = Vec::new();
        for (i, seg) in pattern.split('/').enumerate() {
            if seg.is_empty() && i > 0 {
                // `a//b` and a trailing `/` add nothing.
                continue;
            }
            if seg == "**" {
                if !matches!(segments.last(), Some(PathSegment::AnyDepth)) {
                    segments.push(PathSegment::AnyDepth);
                }
            } else {
                segments.push(PathSegment::Word(WordGlob::new(seg, false)?));
            }
        }
        Ok(segments)
    }

    /// The text of literal path segments as the general walk sees them: empty segments
    /// dropped, except a leading one (the root).
    fn literal_segments(pattern: &str) -> String {
        let kept: Vec<&str> = pattern
            .split('/')
            .enumerate()
            .filter(|(i, seg)| *i == 0 || !seg.is_empty())
            .map(|(_, seg)| seg)
            .collect();
        kept.join("/")
    }

    /// Without a wildcard, or only a trailing `/**` after literal segments, the shape is plain
    /// (`~/.aws`, `/etc/sudoers.d/**`): made without compiling each segment, as
    /// [`PathGlob::new`] would find it (compiling a policy's globs is start-up time).
    fn plain_shape(pattern: &str) -> Option<PathShape> {
        let wild = |p: &str| p.contains(['*', '?', '[', '\\']);
        if !wild(pattern) {
            return Some(PathShape::Exact(Self::literal_segments(pattern)));
        }
        let prefix = pattern.strip_suffix("/**")?;
        (!wild(prefix)).then(|| PathShape::Under(Self::literal_segments(prefix)))
    }

    pub(crate) fn new(pattern: &str) -> Result<Self, WordGlobError> {
        if let Some(fast) = Self::plain_shape(pattern) {
            return Ok(Self {
                segments: Vec::new(),
                fast,
            });
        }
        let mut segments = Self::segments_of(pattern)?;
        let all_words =
            |segs: &[PathSegment]| segs.iter().all(|s| matches!(s, PathSegment::Word(_)));
        // The segments' word globs, moved out (only the general shape walks the segments).
        let take_words = |segs: Vec<PathSegment>, range: std::ops::Range<usize>| -> Vec<WordGlob> {
            segs.into_iter()
                .skip(range.start)
                .take(range.len())
                .filter_map(|s| match s {
                    PathSegment::Word(w) => Some(w),
                    PathSegment::AnyDepth => None,
                })
                .collect()
        };
        let n = segments.len();
        let fast = match segments.as_slice() {
            [PathSegment::AnyDepth, PathSegment::Word(w)] if w.exact().is_some() => {
                PathShape::Basename(w.exact().unwrap_or_default().to_owned())
            }
            [PathSegment::AnyDepth, middle @ .., PathSegment::AnyDepth]
                if !middle.is_empty() && all_words(middle) =>
            {
                PathShape::Within(take_words(std::mem::take(&mut segments), 1..n - 1))
            }
            [PathSegment::AnyDepth, tail @ ..] if !tail.is_empty() && all_words(tail) => {
                PathShape::Tail(take_words(std::mem::take(&mut segments), 1..n))
            }
            [prefix @ .., PathSegment::AnyDepth] if !prefix.is_empty() => Self::literal(prefix)
                .map(|p| PathShape::Under(p.join("/")))
                .unwrap_or(PathShape::General),
            segs => Self::literal(segs)
                .map(|p| PathShape::Exact(p.join("/")))
                .unwrap_or(PathShape::General),
        };
        if !matches!(fast, PathShape::General) {
            segments = Vec::new();
        }
        Ok(Self { segments, fast })
    }

    /// The text of segments that are all literal words. Path globs are case-sensitive, so a
    /// literal segment has the `Exact` shape.
    fn literal(segs: &[PathSegment]) -> Option<Vec<&str>> {
        segs.iter()
            .map(|s| match s {
                PathSegment::Word(w) => w.exact(),
                PathSegment::AnyDepth => None,
            })
            .collect()
    }

    /// The segments of a path as matching sees them (empty segments dropped, a leading `/`
    /// kept as an empty first segment).
    pub(crate) fn split(path: &str) -> Vec<&str> {
        path.split('/')
            .enumerate()
            .filter(|(i, s)| !(s.is_empty() && *i > 0))
            .map(|(_, s)| s)
            .collect()
    }

    #[cfg(test)]
    pub(crate) fn is_match(&self, path: &str) -> bool {
        self.is_match_split(path, &Self::split(path))
    }

    fn is_match_split(&self, path: &str, parts: &[&str]) -> bool {
        let all_match =
            |ws: &[WordGlob], ps: &[&str]| ws.iter().zip(ps).all(|(w, p)| w.is_match(p));
        match &self.fast {
            PathShape::Tail(ws) => {
                parts.len() >= ws.len() && all_match(ws, &parts[parts.len() - ws.len()..])
            }
            PathShape::Within(ws) => parts.windows(ws.len()).any(|win| all_match(ws, win)),
            PathShape::Basename(b) => parts.last().is_some_and(|l| l == b),
            PathShape::Under(prefix) => {
                let p = path.trim_end_matches('/');
                p == prefix
                    || (p.starts_with(prefix.as_str())
                        && p.as_bytes().get(prefix.len()) == Some(&b'/'))
                    || (prefix.is_empty() && p.starts_with('/'))
            }
            PathShape::Exact(e) => path.trim_end_matches('/') == e || (e.is_empty() && path == "/"),
            PathShape::General => Self::match_from(&self.segments, parts),
        }
    }

    fn match_from(pattern: &[PathSegment], parts: &[&str]) -> bool {
        match pattern.split_first() {
            None => parts.is_empty(),
            Some((PathSegment::AnyDepth, rest)) => {
                (0..=parts.len()).any(|skip| Self::match_from(rest, &parts[skip..]))
            }
            Some((PathSegment::Word(w), rest)) => match parts.split_first() {
                Some((first, tail)) => w.is_match(first) && Self::match_from(rest, tail),
                None => false,
            },
        }
    }
}

/// Several path globs; matches when any does. Each glob carries the first byte every path it
/// matches starts with, when its pattern starts with a literal character (`/`, `~`,
/// `@workspace`; relative patterns become `**/…`): a path is tried only against the globs of
/// its own anchor and the unanchored ones. The two commonest shapes of credential and config
/// lists, `**/name` and `**/*.ext`, are looked up by the path's last segment instead of tried
/// one by one (every argument of every command is matched as a possible path).
#[derive(Debug, Clone, Default)]
pub(crate) struct PathSet {
    /// The literal leading directories of the anchored patterns (`~/.aws` of `~/.aws/**`,
    /// `/etc/ssh` of `/etc/ssh/ssh_host_*`, `~/.pgpass` of itself), for
    /// [`PathSet::may_match_below`], with whether what follows the root spans directories
    /// (`**`, `*/secret`): the pattern then may match below a directory inside its root too.
    roots: Vec<(String, bool)>,
    /// Globs not in the lookup tables below.
    globs: Vec<(Option<u8>, PathGlob)>,
    /// `**/name`: the names, sorted.
    basenames: Vec<String>,
    /// `**/*.ext` (`ext` without a dot): the extensions, sorted.
    extensions: Vec<String>,
    /// Every pattern as written, and (made when first needed) as segments with whether its first
    /// segment is a literal (`~`, `/`, `@workspace`): for [`PathSet::may_match_glob`].
    sources: Vec<String>,
    segments: std::sync::OnceLock<Vec<(bool, Vec<PathSegment>)>>,
}

/// Names of ordinary files: a shell glob that matches one of them (`*`, `*.json`, `src/*`) is a
/// read of a directory's files at large, which the unanchored patterns (`**/.env`) do not flag,
/// as they do not flag `grep -r x .`; one that matches none (`.env*`, `id_*`) picks its files.
const ORDINARY_NAMES: &[&str] = &[
    "x",
    "x.txt",
    "x.md",
    "README.md",
    "Makefile",
    "x.json",
    "x.js",
    "x.ts",
    "x.py",
    "x.rs",
    "x.go",
    "x.c",
    "x.h",
    "x.java",
    "x.rb",
    "x.yml",
    "x.yaml",
    "x.toml",
    "x.lock",
    "x.log",
    "x.html",
    "x.css",
    "x.sh",
    "x.o",
    "x.csv",
    "x.xml",
];

/// The literal leading directories of an anchored pattern (`/…` or `~/…`): up to the last `/`
/// before its first wildcard, or the whole pattern when it has none. Unanchored patterns
/// (`**/.env`) have none: they may match below any directory.
fn literal_root(p: &str) -> Option<String> {
    if !(p.starts_with('/') || p.starts_with("~/")) {
        return None;
    }
    let root = match p.find(['*', '?', '[', '{', '\\']) {
        Some(wild) => p[..wild].rsplit_once('/').map_or("", |(dir, _)| dir),
        None => p,
    };
    Some(root.trim_end_matches('/').to_owned())
}

impl PathSet {
    /// Whether an anchored pattern may match `dir` or a path below it: a directory read as a
    /// whole (`grep -r x ~`) reads what these patterns name there. `dir` is one form of the
    /// path (absolute, `~`, `~/…`).
    pub(crate) fn may_match_below(&self, dir: &str) -> bool {
        let dir = dir.trim_end_matches('/');
        let below = |inner: &str, outer: &str| {
            // `` is `/`: it holds every absolute path.
            (outer.is_empty() && inner.starts_with('/'))
                || inner
                    .strip_prefix(outer)
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        self.roots
            .iter()
            .any(|(root, wild)| root == dir || below(root, dir) || (*wild && below(dir, root)))
    }

    pub(crate) fn new(patterns: &[String]) -> Result<Self, (usize, WordGlobError)> {
        let mut set = Self {
            roots: patterns
                .iter()
                .filter_map(|p| {
                    let root = literal_root(p)?;
                    let rest = p[root.len()..].trim_start_matches('/');
                    Some((root, rest.contains("**") || rest.contains('/')))
                })
                .collect(),
            ..Self::default()
        };
        for (i, p) in patterns.iter().enumerate() {
            let anchor = p
                .bytes()
                .next()
                .filter(|b| b.is_ascii() && !matches!(b, b'*' | b'?' | b'[' | b'\\'));
            // `**/name` and `**/*.ext` with literal `name` and `ext`: straight into the tables.
            let literal = |w: &str| !w.is_empty() && !w.contains(['*', '?', '[', '\\', '/']);
            if let Some(name) = p.strip_prefix("**/").filter(|n| literal(n)) {
                set.basenames.push(name.to_owned());
                continue;
            }
            if let Some(ext) = p
                .strip_prefix("**/*.")
                .filter(|e| literal(e) && !e.contains('.'))
            {
                set.extensions.push(ext.to_owned());
                continue;
            }
            let g = PathGlob::new(p).map_err(|e| (i, e))?;
            match &g.fast {
                PathShape::Basename(b) => set.basenames.push(b.clone()),
                PathShape::Tail(ws) if ws.len() == 1 && ws[0].extension().is_some() => {
                    set.extensions
                        .push(ws[0].extension().unwrap_or_default().to_owned());
                }
                _ => set.globs.push((anchor, g)),
            }
        }
        set.sources = patterns.to_vec();
        set.basenames.sort_unstable();
        set.basenames.dedup();
        set.extensions.sort_unstable();
        set.extensions.dedup();
        Ok(set)
    }

    pub(crate) fn is_match(&self, path: &str) -> bool {
        self.is_match_split(&SplitPath::new(path))
    }

    /// Whether a path the shell glob `glob` expands to may match one of these patterns
    /// (`cat ~/.a*/credentials` reads `~/.aws/credentials`, `cat .env*` reads `.env`): `glob` is
    /// one form of a command's path argument (absolute, `~/…`), matched as a pattern rather than
    /// as a name (see [`PathSet::is_match`] for that). `tree`: everything below what it expands
    /// to is read too (`tar c ~/.s*`); as for a directory read as a whole
    /// ([`PathSet::may_match_below`]) only the anchored patterns count then, and only they count
    /// for a glob that matches ordinary names as well ([`ORDINARY_NAMES`]).
    pub(crate) fn may_match_glob(&self, glob: &str, tree: bool) -> bool {
        let Ok(mut shell) = PathGlob::segments_of(glob) else {
            // Not a valid pattern (`[` unclosed): the shell takes it as a name.
            return false;
        };
        if tree && !matches!(shell.last(), Some(PathSegment::AnyDepth)) {
            shell.push(PathSegment::AnyDepth);
        }
        let picks = !tree
            && shell.iter().rev().find_map(|s| match s {
                PathSegment::Word(w) => Some(!ORDINARY_NAMES.iter().any(|n| w.is_match(n))),
                PathSegment::AnyDepth => None,
            }) == Some(true);
        let any = |s: &PathSegment| matches!(s, PathSegment::AnyDepth);
        let fits = |a: &PathSegment, b: &PathSegment| match (a, b) {
            (PathSegment::Word(p), PathSegment::Word(g)) => p.intersects_shell_glob(g),
            _ => true,
        };
        self.segments().iter().any(|(anchored, pattern)| {
            (*anchored || picks) && sequences_intersect(pattern, &shell, any, fits)
        })
    }

    fn segments(&self) -> &[(bool, Vec<PathSegment>)] {
        self.segments.get_or_init(|| {
            self.sources
                .iter()
                .filter_map(|p| {
                    let segs = PathGlob::segments_of(p).ok()?;
                    let anchored =
                        matches!(segs.first(), Some(PathSegment::Word(w)) if w.exact().is_some());
                    Some((anchored, segs))
                })
                .collect()
        })
    }

    /// [`PathSet::is_match`] of a path already split (a candidate matched against many sets).
    pub(crate) fn is_match_split(&self, path: &SplitPath<'_>) -> bool {
        if let Some(last) = path.parts.last() {
            let found =
                |list: &[String], key: &str| list.binary_search_by(|x| x.as_str().cmp(key)).is_ok();
            if found(&self.basenames, last) {
                return true;
            }
            if let Some((_, ext)) = last.rsplit_once('.')
                && found(&self.extensions, ext)
            {
                return true;
            }
        }
        // The empty path is tried against every glob (`/` matches it).
        let first = path.path.bytes().next();
        self.globs.iter().any(|(anchor, g)| {
            (anchor.is_none() || first.is_none() || *anchor == first)
                && g.is_match_split(path.path, &path.parts)
        })
    }
}

/// A path and its segments as [`PathGlob`] matching sees them, split once for every set it is
/// matched against.
#[derive(Debug, Clone)]
pub(crate) struct SplitPath<'a> {
    path: &'a str,
    parts: Vec<&'a str>,
    /// Whether it holds a shell wildcard ([`has_wildcard`]), found once for every set it is
    /// matched against.
    glob: bool,
}

/// Whether a path written in a command holds a shell wildcard (`*`, `?`, `[`): matched as a
/// pattern too ([`PathSet::may_match_glob`]), expanded as the shell would.
pub(crate) fn has_wildcard(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

impl<'a> SplitPath<'a> {
    pub(crate) fn new(path: &'a str) -> Self {
        Self {
            path,
            parts: PathGlob::split(path),
            glob: has_wildcard(path),
        }
    }

    /// The path when it holds a shell wildcard.
    pub(crate) fn glob(&self) -> Option<&'a str> {
        self.glob.then_some(self.path)
    }

    /// Each of `paths`, split.
    pub(crate) fn all(paths: &'a [String]) -> Vec<Self> {
        paths.iter().map(|p| Self::new(p)).collect()
    }
}

#[cfg(test)]
mod path_tests {
    use super::*;

    fn m(p: &str, path: &str) -> bool {
        PathGlob::new(p).unwrap().is_match(path)
    }

    /// A directory read as a whole reaches what the anchored patterns name below it; an
    /// unanchored name (`**/.env`) is matched by the files themselves, not by every directory.
    #[test]
    fn patterns_below_a_directory() {
        let set = PathSet::new(
            &[
                "~/.aws/**",
                "~/.cargo/credentials*",
                "/etc/ssh/ssh_host_*",
                "~/.pgpass",
                "~/.x/*/secret",
                "**/.env",
            ]
            .map(String::from),
        )
        .unwrap();
        for dir in [
            "~",
            "~/",
            "~/.aws",
            "~/.cargo",
            "/",
            "/etc",
            "/etc/ssh",
            "~/.pgpass",
            "~/.x/a",
        ] {
            assert!(set.may_match_below(dir), "{dir}");
        }
        for dir in [
            "~/src",
            "~/.awsx",
            "~/.cargo/registry",
            "/etc/nginx",
            "/home",
            "@workspace",
            "src",
        ] {
            assert!(!set.may_match_below(dir), "{dir}");
        }
        assert_eq!(literal_root("~/.aws/**").as_deref(), Some("~/.aws"));
        assert_eq!(literal_root("/**").as_deref(), Some(""));
        assert_eq!(literal_root("~/.pgpass").as_deref(), Some("~/.pgpass"));
        assert_eq!(literal_root("**/.env"), None);
    }

    #[test]
    fn segments_and_any_depth() {
        assert!(m("/tmp/**", "/tmp/a/b"));
        assert!(m("/tmp/**", "/tmp"));
        assert!(!m("/tmp/**", "/tmpx/a"));
        assert!(m("~/.ssh/**", "~/.ssh/id_rsa"));
        assert!(!m("~/.ssh/*.pub", "~/.ssh/sub/x.pub"));
        assert!(m("~/.ssh/*.pub", "~/.ssh/id.pub"));
        assert!(m("**/.env", "/work/ws/.env"));
        assert!(m("**/.env", "@workspace/.env"));
        assert!(!m("**/.env", "/work/ws/.env.x"));
        assert!(m("**/.env.*", "/work/ws/config/.env.local"));
        assert!(m("**/.git/hooks/**", "/w/.git/hooks/pre-commit"));
        assert!(m("/[*]", "/*"));
        assert!(!m("/[*]", "/etc"));
        assert!(m("/*", "/etc"));
        assert!(!m("/*", "/etc/x"));
        assert!(m("/", "/"));
        assert!(!m("/", "/etc"));
        assert!(m("@workspace", "@workspace"));
        assert!(!m("@workspace", "@workspace/x"));
        assert!(m("**/schema/**.sql", "/w/db/schema/a.sql"));
        assert!(m("/dev/sd*", "/dev/sda1"));
        assert!(PathGlob::new("bad/[x").is_err());
        assert!(m("/**", "/etc/x"));
        assert!(m("/**", "/"));
        assert!(m("~/.aws", "~/.aws"));
        assert!(!m("~/.aws", "~/.aws/x"));
        assert!(m("**/.git/config", "/w/.git/config"));
    }

    /// A shell glob in a command matches the patterns of what it may expand to, with the
    /// shell's own rules (its wildcards skip a leading `.`, `*` stays in one directory).
    #[test]
    fn shell_globs_match_what_they_may_expand_to() {
        let set = PathSet::new(
            &[
                "~/.aws/**",
                "~/.git-credentials",
                "**/.env",
                "**/.env.*",
                "**/*.pem",
                "**/id_rsa",
            ]
            .map(String::from),
        )
        .unwrap();
        for glob in [
            "~/.a*/credentials",
            "~/.aw?/config",
            "~/.[a]ws/x",
            "~/.[!b]ws/x",
            "~/.git-cred*",
            "/w/.env*",
            "/w/.e*",
            "/w/.env?local",
            "/w/sub/*.pe?",
            "/w/id_*",
            "/w/.*",
        ] {
            assert!(set.may_match_glob(glob, false), "{glob}");
        }
        for glob in [
            // Leading dots are matched only by a literal dot.
            "~/*/credentials",
            "~/?aws/x",
            "~/[.]aws/x",
            "/w/*env",
            // Ordinary names too: a directory's files at large.
            "/w/*",
            "/w/*.*",
            "/w/src/*.rs",
            // Elsewhere.
            "~/.b*/credentials",
            "~/.[!a]ws/x",
            "~/.git-cred*/x",
            "/w/*.txt",
        ] {
            assert!(!set.may_match_glob(glob, false), "{glob}");
        }
        // Read as trees: the anchored patterns below what they expand to.
        assert!(set.may_match_glob("~/.a*", true));
        assert!(set.may_match_glob("~/.*", true));
        assert!(!set.may_match_glob("~/*", true));
        assert!(!set.may_match_glob("/w/.e*", true));
    }

    #[test]
    fn fast_shapes_agree_with_the_general_walk() {
        let patterns = [
            "**/.env",
            "/tmp/**",
            "~/.ssh/**",
            "~/.aws",
            "/",
            "@workspace",
            "**/id_rsa",
            "/etc/shadow",
            "/**",
            "**/*.pem",
            "**/.git/config",
            "**/.git/hooks/**",
            "**/migrations/**",
            "**/.git/modules/**/config",
            "**/schema/**.sql",
            "**/*auth*.rs",
            "**/.claude/settings*.json",
            "~/.ssh/*.pub",
            "a//b",
            "/a/",
            "/tmp//x///**",
            "~/x/",
            "//",
            "/**/",
            "**/id_rsa/",
        ];
        let paths = [
            "/tmp",
            "/tmp/a",
            "/tmpx",
            "~/.ssh",
            "~/.ssh/id",
            "~/.aws",
            "~/.aws/c",
            "/",
            "/etc/shadow",
            "@workspace",
            "@workspace/.env",
            "/w/.env",
            "/w/.envx",
            "/w/id_rsa",
            "/etc",
            "/w/k.pem",
            "k.pem",
            "@workspace/a/.git/config",
            "/.git/config",
            ".git/config",
            "/w/.git/hooks",
            "/w/.git/hooks/x/y",
            "/w/.git",
            "/migrations",
            "migrations/1.sql",
            "/w/db/migrations",
            "/w/.git/modules/m/config",
            "/w/schema/x.sql",
            "/src/oauth.rs",
            "@workspace/.claude/settings.local.json",
            "~/.ssh/id.pub",
            "",
            "a/b",
            "/a",
            "/tmp/x",
            "/tmp/x/y",
            "~/x",
            "/w/id_rsa",
        ];
        for p in patterns {
            let g = PathGlob::new(p).unwrap();
            let set = PathSet::new(&[p.to_owned()]).unwrap();
            for path in paths {
                let parts = PathGlob::split(path);
                assert_eq!(
                    g.is_match(path),
                    PathGlob::match_from(&PathGlob::segments_of(p).unwrap(), &parts),
                    "{p} vs {path}"
                );
                // A set's anchor skips only globs that could not match.
                assert_eq!(set.is_match(path), g.is_match(path), "set {p} vs {path}");
            }
        }
        // A set of them all (with its lookup tables for `**/name` and `**/*.ext`) matches
        // exactly when one of its globs does.
        let all: Vec<String> = patterns
            .iter()
            .chain(&["**/*.", "**/a.b", "**/*.tar.gz", "**/x*.pem"])
            .map(|p| p.to_string())
            .collect();
        let set = PathSet::new(&all).unwrap();
        assert!(!set.basenames.is_empty() && !set.extensions.is_empty());
        for path in paths.iter().chain(&[
            "/w/x.",
            "/w/.",
            "/w/a.b",
            "/w/c.a.b",
            "/w/k.pem.bak",
            "/w/pem",
            "/w/x.tar.gz",
            "/w/xy.pem",
            "/w/é.pem",
            "/w/x.pém",
        ]) {
            let any = all.iter().any(|p| PathGlob::new(p).unwrap().is_match(path));
            assert_eq!(set.is_match(path), any, "set of all vs {path}");
        }
    }

    #[test]
    fn general_word_globs_walk_multibyte_text() {
        let m = |p: &str, w: &str| WordGlob::new(p, false).unwrap().is_match(w);
        assert!(m("a*b?c", "aébéc"));
        assert!(m("*é*[!x]", "xxéyz"));
        assert!(!m("*é*[!x]", "xxéyx"));
        assert!(m("[é-ë]*?", "êa"));
        assert!(m("a*b*c", "aaabbbccc"));
        assert!(!m("a*b*c?", "abc"));
    }
}
