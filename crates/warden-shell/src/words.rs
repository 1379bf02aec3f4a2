//! Word-level helpers: unquoting, ANSI-C decoding and brace expansion, kept apart from the tree
//! walk so they can be reasoned about (and tested) as plain string functions.

/// Maximum number of words one brace expansion may produce before the word is left unexpanded
/// and marked dynamic.
pub(crate) const MAX_BRACE_WORDS: usize = 64;

/// One piece of a word being built: literal text, or an unquoted brace-expansion metacharacter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Lit(String),
    Open,
    Close,
    Comma,
}

/// Removes backslash escapes from unquoted word text (`\g` → `g`, `\<newline>` → nothing).
pub(crate) fn unescape_unquoted(s: &str, out: &mut String) {
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('\n') | None => {}
                Some(n) => out.push(n),
            }
        } else {
            out.push(c);
        }
    }
}

/// Removes the escapes that are special inside double quotes (`\$`, `` \` ``, `\"`, `\\`,
/// `\<newline>`); any other backslash stays.
pub(crate) fn unescape_double(s: &str, out: &mut String) {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some('$' | '`' | '"' | '\\') => {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                }
                Some('\n') => {
                    chars.next();
                }
                _ => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
}

/// Unescapes the body of a backquoted command substitution: `\\`, `` \` `` and `\$` lose their
/// backslash before the body is parsed again (POSIX 2.6.3).
pub(crate) fn unescape_backquote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && matches!(chars.peek(), Some('\\' | '`' | '$')) {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn push_code(out: &mut String, code: u32) {
    out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
}

/// Decodes the body of an ANSI-C quoted string `$'…'` (without the `$'` and `'`).
pub(crate) fn decode_ansi_c(body: &str, out: &mut String) {
    let b: Vec<char> = body.chars().collect();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        i += 1;
        if c != '\\' || i >= b.len() {
            out.push(c);
            continue;
        }
        let e = b[i];
        i += 1;
        match e {
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'e' | 'E' => out.push('\u{1b}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\u{b}'),
            '\\' | '\'' | '"' | '?' => out.push(e),
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                let mut n = 1;
                while n < 3 && i < b.len() && b[i].is_digit(8) {
                    v = v * 8 + b[i].to_digit(8).unwrap_or(0);
                    i += 1;
                    n += 1;
                }
                push_code(out, v & 0xff);
            }
            'x' | 'u' | 'U' => {
                let max = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let mut v: u32 = 0;
                let mut n = 0;
                while n < max && i < b.len() && b[i].is_ascii_hexdigit() {
                    v = v
                        .saturating_mul(16)
                        .saturating_add(b[i].to_digit(16).unwrap_or(0));
                    i += 1;
                    n += 1;
                }
                if n == 0 {
                    out.push('\\');
                    out.push(e);
                } else {
                    push_code(out, v);
                }
            }
            'c' => {
                if i < b.len() {
                    let ch = b[i];
                    i += 1;
                    push_code(out, (ch as u32) & 0x1f);
                } else {
                    out.push_str("\\c");
                }
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
}

/// Concatenates pieces without expanding braces.
pub(crate) fn flatten(pieces: &[Piece]) -> String {
    let mut s = String::new();
    for p in pieces {
        match p {
            Piece::Lit(t) => s.push_str(t),
            Piece::Open => s.push('{'),
            Piece::Close => s.push('}'),
            Piece::Comma => s.push(','),
        }
    }
    s
}

/// Splits unquoted literal text into pieces, separating `{`, `}` and `,`.
pub(crate) fn push_unquoted_pieces(text: &str, pieces: &mut Vec<Piece>) {
    let mut lit = String::new();
    for c in text.chars() {
        let p = match c {
            '{' => Piece::Open,
            '}' => Piece::Close,
            ',' => Piece::Comma,
            _ => {
                lit.push(c);
                continue;
            }
        };
        if !lit.is_empty() {
            push_lit(pieces, std::mem::take(&mut lit));
        }
        pieces.push(p);
    }
    if !lit.is_empty() {
        push_lit(pieces, lit);
    }
}

/// Appends literal (quoted or otherwise inert) text.
pub(crate) fn push_lit(pieces: &mut Vec<Piece>, text: String) {
    if let Some(Piece::Lit(last)) = pieces.last_mut() {
        last.push_str(&text);
    } else {
        pieces.push(Piece::Lit(text));
    }
}

/// Expands bash brace expressions (`a{b,c}`, `{1..3}`) in `pieces`. Returns `None` when the
/// expansion would produce more than [`MAX_BRACE_WORDS`] words.
pub(crate) fn brace_expand(pieces: &[Piece]) -> Option<Vec<String>> {
    if !pieces.contains(&Piece::Open) {
        return Some(vec![flatten(pieces)]);
    }
    let mut out = Vec::new();
    expand_into(pieces.to_vec(), &mut out, 0)?;
    Some(out)
}

fn expand_into(pieces: Vec<Piece>, out: &mut Vec<String>, depth: usize) -> Option<()> {
    if depth > 32 || out.len() > MAX_BRACE_WORDS {
        return None;
    }
    // Find the first `{` with a matching `}` that contains a top-level comma or is a sequence.
    let mut start = 0;
    while let Some(off) = pieces[start..].iter().position(|p| *p == Piece::Open) {
        let open = start + off;
        let mut level = 0usize;
        let mut close = None;
        let mut commas = Vec::new();
        for (j, p) in pieces.iter().enumerate().skip(open) {
            match p {
                Piece::Open => level += 1,
                Piece::Close => {
                    level -= 1;
                    if level == 0 {
                        close = Some(j);
                        break;
                    }
                }
                Piece::Comma if level == 1 => commas.push(j),
                _ => {}
            }
        }
        let Some(close) = close else {
            start = open + 1;
            continue;
        };
        let prefix = &pieces[..open];
        let suffix = &pieces[close + 1..];
        let alts: Vec<Vec<Piece>> = if commas.is_empty() {
            match sequence(&pieces[open + 1..close]) {
                Ok(seq) => seq.into_iter().map(|s| vec![Piece::Lit(s)]).collect(),
                Err(true) => return None,
                Err(false) => {
                    start = open + 1;
                    continue;
                }
            }
        } else {
            let mut alts = Vec::new();
            let mut from = open + 1;
            for &c in commas.iter().chain(std::iter::once(&close)) {
                alts.push(pieces[from..c].to_vec());
                from = c + 1;
            }
            alts
        };
        if alts.len() > MAX_BRACE_WORDS {
            return None;
        }
        for alt in alts {
            let mut v = prefix.to_vec();
            v.extend(alt);
            v.extend_from_slice(suffix);
            expand_into(v, out, depth + 1)?;
            if out.len() > MAX_BRACE_WORDS {
                return None;
            }
        }
        return Some(());
    }
    out.push(flatten(&pieces));
    Some(())
}

/// `{1..5}`, `{a..e}`, `{1..10..2}`. `Err(true)`: a sequence too long to expand; `Err(false)`:
/// not a sequence.
fn sequence(inner: &[Piece]) -> Result<Vec<String>, bool> {
    sequence_inner(inner).ok_or(false)?.ok_or(true)
}

fn sequence_inner(inner: &[Piece]) -> Option<Option<Vec<String>>> {
    let [Piece::Lit(t)] = inner else {
        return None;
    };
    let parts: Vec<&str> = t.split("..").collect();
    if parts.len() != 2 && parts.len() != 3 {
        return None;
    }
    let step: i64 = match parts.get(2) {
        Some(s) => s.parse::<i64>().ok()?.checked_abs()?.max(1),
        None => 1,
    };
    if let (Ok(a), Ok(b)) = (parts[0].parse::<i64>(), parts[1].parse::<i64>()) {
        let n = (a.abs_diff(b) / step.unsigned_abs()) + 1;
        if n > MAX_BRACE_WORDS as u64 {
            return Some(None);
        }
        let mut v = Vec::new();
        let mut x = a;
        for _ in 0..n {
            v.push(x.to_string());
            x = if a <= b {
                x.saturating_add(step)
            } else {
                x.saturating_sub(step)
            };
        }
        return Some(Some(v));
    }
    let (mut ca, mut cb) = (parts[0].chars(), parts[1].chars());
    let (Some(a), None, Some(b), None) = (ca.next(), ca.next(), cb.next(), cb.next()) else {
        return None;
    };
    if !a.is_ascii_alphabetic() || !b.is_ascii_alphabetic() {
        return None;
    }
    let (a, b) = (a as u8, b as u8);
    let range: Vec<u8> = if a <= b {
        (a..=b).step_by(step as usize).collect()
    } else {
        (b..=a).rev().step_by(step as usize).collect()
    };
    Some(Some(
        range.into_iter().map(|c| (c as char).to_string()).collect(),
    ))
}

/// Whether a value substituted outside double quotes stays the one word it is: not empty, no
/// whitespace to split on, no glob characters.
pub(crate) fn stays_one_word(v: &str) -> bool {
    !v.is_empty() && !v.contains(char::is_whitespace) && !v.contains(['*', '?', '['])
}

/// What a command substitution of the form `$(cat <<DELIM … DELIM)` outputs when its body
/// expands nothing (the delimiter quoted, or no `$`, backquote or backslash in the body): the
/// body less its trailing newlines, as the shell substitutes it. The form agents write commit
/// messages and pull-request bodies in (`git commit -m "$(cat <<'EOF' … EOF)"`), so that such a
/// word is the text it shows rather than a value known only at run time. `None` for anything
/// else, `<<-` (tabs stripped) included.
pub(crate) fn heredoc_cat_output(substitution: &str) -> Option<String> {
    let inner = substitution.strip_prefix("$(")?.strip_suffix(')')?;
    let rest = inner.trim_start().strip_prefix("cat")?;
    if !rest.starts_with([' ', '\t', '<']) {
        return None;
    }
    let rest = rest.trim_start_matches([' ', '\t']).strip_prefix("<<")?;
    let (strip_tabs, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let (line, after) = rest.trim_start_matches([' ', '\t']).split_once('\n')?;
    let line = line.trim_end_matches([' ', '\t']);
    let (delim, quoted) = match line.chars().next()? {
        q @ ('\'' | '"') => (line.strip_prefix(q)?.strip_suffix(q)?, true),
        _ => (line, false),
    };
    if delim.is_empty() || !delim.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let mut lines = after.split('\n');
    let mut body = Vec::new();
    loop {
        let l = lines.next()?;
        let l = if strip_tabs {
            l.trim_start_matches('\t')
        } else {
            l
        };
        if l == delim {
            break;
        }
        body.push(l);
    }
    if lines.any(|l| !l.trim().is_empty()) {
        return None;
    }
    let text = body.join("\n");
    if !quoted && text.contains(['$', '`', '\\']) {
        return None;
    }
    Some(text.trim_end_matches('\n').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(s: &str) -> Vec<Piece> {
        let mut p = Vec::new();
        push_unquoted_pieces(s, &mut p);
        p
    }

    #[test]
    fn ansi_c() {
        let mut s = String::new();
        decode_ansi_c(r"\x67it \047q\047 \u00e9\n\cA\q", &mut s);
        assert_eq!(s, "git 'q' é\n\u{1}\\q");
    }

    #[test]
    fn braces() {
        assert_eq!(
            brace_expand(&pieces("a{b,c{d,e}}f")),
            Some(vec!["abf".into(), "acdf".into(), "acef".into()])
        );
        assert_eq!(
            brace_expand(&pieces("x{1..3}")),
            Some(vec!["x1".into(), "x2".into(), "x3".into()])
        );
        assert_eq!(brace_expand(&pieces("{a}")), Some(vec!["{a}".into()]));
        assert_eq!(brace_expand(&pieces("{1..1000}")), None);
        assert_eq!(
            brace_expand(&pieces("{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}")),
            None
        );
    }

    #[test]
    fn a_cat_of_a_heredoc_that_expands_nothing_is_its_body() {
        let sub = "$(cat <<'EOF'\nFix the parser\n\nCo-Authored-By: A <a@b.invalid>\nEOF\n)";
        assert_eq!(
            heredoc_cat_output(sub).as_deref(),
            Some("Fix the parser\n\nCo-Authored-By: A <a@b.invalid>")
        );
        assert_eq!(
            heredoc_cat_output("$(cat <<EOF\nplain text\n\nEOF\n)").as_deref(),
            Some("plain text")
        );
        assert_eq!(
            heredoc_cat_output("$(cat <<-\"END\"\n\tindented $x\n\tEND\n)").as_deref(),
            Some("indented $x")
        );
        // Expansions in an unquoted body, other commands, more after the delimiter: unknown.
        for sub in [
            "$(cat <<EOF\n$(git push)\nEOF\n)",
            "$(cat <<EOF\nhome is $HOME\nEOF\n)",
            "$(cat <<'EOF' | sh\ngit push\nEOF\n)",
            "$(cat <<'EOF'\nx\nEOF\nrm -rf /\n)",
            "$(catx <<'EOF'\nx\nEOF\n)",
            "$(cat <<'EOF'\nno end\n)",
            "$(cat file)",
            "$(date)",
        ] {
            assert_eq!(heredoc_cat_output(sub), None, "{sub}");
        }
    }
}
