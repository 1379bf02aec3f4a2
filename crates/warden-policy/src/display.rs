//! How a person reads an action: one line, rendered from the action itself, never from text an
//! agent supplied. Words are shell-quoted so that the line means exactly one argv, and
//! characters a reader cannot see (control characters, line breaks, bidirectional overrides,
//! zero-width and other invisible or look-alike-space characters) are written as escapes, so
//! that what is shown is what runs.

use crate::Action;
use std::collections::BTreeMap;

impl Action {
    /// The action as one unambiguous line: an exec argv as shell words (`git push origin main`,
    /// `sh -c 'echo hi; rm -rf x'`), a shell string as the `sh -c` that runs it, reads, writes,
    /// requests and tool calls with their operands quoted the same way.
    pub fn display_text(&self) -> String {
        match self {
            Action::Exec { argv, .. } => join_words(argv.iter().map(String::as_str)),
            Action::Shell { script, .. } => format!("sh -c {}", quote_word(script)),
            Action::Read {
                path,
                recursive: false,
            } => format!("read {}", quote_word(&path.to_string_lossy())),
            Action::Read {
                path,
                recursive: true,
            } => format!("search {}", quote_word(&path.to_string_lossy())),
            Action::Write { path } => format!("write {}", quote_word(&path.to_string_lossy())),
            Action::Net {
                host,
                port,
                method,
                path,
                service,
            } => {
                let mut target = host.clone();
                if let Some(p) = port {
                    target.push_str(&format!(":{p}"));
                }
                if let Some(p) = path {
                    target.push_str(p);
                }
                let mut line = format!(
                    "{} {}",
                    quote_word(method.as_deref().unwrap_or("CONNECT")),
                    quote_word(&target)
                );
                if let Some(s) = service {
                    line.push_str(&format!(" [service={}]", quote_word(s)));
                }
                line
            }
            Action::Tool { name, arguments } => {
                let args = serde_json::to_string(arguments).unwrap_or_default();
                format!("tool {} {}", quote_word(name), quote_word(&args))
            }
        }
    }
}

/// The fields each kind of [`Action`] has (checked against the type by a test).
fn known_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "exec" => &["kind", "argv", "cwd"],
        "shell" => &["kind", "script", "cwd"],
        "read" | "write" => &["kind", "path"],
        "net" => &["kind", "host", "port", "method", "path", "service"],
        "tool" => &["kind", "name", "arguments"],
        _ => &["kind"],
    }
}

/// An action filed as JSON, with any fields beyond its kind's own kept apart: a filer may bind
/// further facts into the action (e.g. the digest of a request body), which classification does
/// not read but a reader must see ([`display_with_extras`]).
pub fn split_action(
    v: &serde_json::Value,
) -> Result<(Action, BTreeMap<String, serde_json::Value>), serde_json::Error> {
    let mut known = serde_json::Map::new();
    let mut extras = BTreeMap::new();
    if let Some(o) = v.as_object() {
        let kind = o
            .get("kind")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        for (k, val) in o {
            if known_fields(kind).contains(&k.as_str()) {
                known.insert(k.clone(), val.clone());
            } else {
                extras.insert(k.clone(), val.clone());
            }
        }
    }
    let action = if v.is_object() {
        serde_json::from_value(serde_json::Value::Object(known))?
    } else {
        serde_json::from_value(v.clone())?
    };
    Ok((action, extras))
}

/// [`Action::display_text`] followed by each extra field as ` [name=JSON]`, invisible
/// characters escaped.
pub fn display_with_extras(
    action: &Action,
    extras: &BTreeMap<String, serde_json::Value>,
) -> String {
    let mut out = action.display_text();
    for (k, v) in extras {
        out.push_str(&format!(" [{}={}]", visible(k), visible(&v.to_string())));
    }
    out
}

/// Shell words joined by spaces, each quoted by [`quote_word`].
pub fn join_words<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    words
        .into_iter()
        .map(quote_word)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One shell word that a POSIX shell (bash for the `$'…'` form) reads back as exactly `w`:
/// plain words as they are, others in single quotes, and words holding a character a reader
/// cannot see in bash's `$'…'` with that character escaped.
pub fn quote_word(w: &str) -> String {
    if !w.is_empty() && w.chars().all(is_plain) {
        return w.to_owned();
    }
    if w.chars().any(is_hidden) {
        let mut out = String::from("$'");
        for c in w.chars() {
            match c {
                '\'' => out.push_str("\\'"),
                c => push_escaped(&mut out, c),
            }
        }
        out.push('\'');
        return out;
    }
    format!("'{}'", w.replace('\'', "'\\''"))
}

/// Free text (a rationale, a reason, a path) with every character a reader cannot see written
/// as an escape (`\n`, `\x1b`, `\u202e`, …; a backslash as `\\`), so that it cannot hide,
/// reorder or overwrite what is printed around it.
pub fn visible(text: &str) -> String {
    if !text.chars().any(|c| is_hidden(c) || c == '\\') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    out
}

/// Push `c`, as an escape when it is a backslash or a character a reader cannot see (the
/// escapes bash's `$'…'` reads back).
fn push_escaped(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        c if is_hidden(c) && (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if is_hidden(c) && (c as u32) <= 0xFFFF => {
            out.push_str(&format!("\\u{:04x}", c as u32));
        }
        c if is_hidden(c) => out.push_str(&format!("\\U{:08x}", c as u32)),
        c => out.push(c),
    }
}

/// Characters a shell word may hold unquoted without changing its meaning.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c)
}

/// Characters a reader cannot see or tell apart from others on screen: control characters
/// (line breaks, carriage returns, escapes), spaces other than U+0020, and the invisible
/// format characters — bidirectional embeddings, overrides and isolates, zero-width spaces and
/// joiners, word joiners, the byte-order mark, variation selectors, tag characters — plus
/// private-use characters, which have no agreed look.
fn is_hidden(c: char) -> bool {
    if c == ' ' {
        return false;
    }
    c.is_control()
        || c.is_whitespace()
        || matches!(
            c as u32,
            0x00AD
                | 0x034F
                | 0x061C
                | 0x115F..=0x1160
                | 0x17B4..=0x17B5
                | 0x180B..=0x180F
                | 0x200B..=0x200F
                | 0x202A..=0x202E
                | 0x2060..=0x206F
                | 0x3164
                | 0xE000..=0xF8FF
                | 0xFE00..=0xFE0F
                | 0xFEFF
                | 0xFFA0
                | 0xFFF0..=0xFFFB
                | 0x1BCA0..=0x1BCA3
                | 0x1D173..=0x1D17A
                | 0xE0000..=0xE0FFF
                | 0xF0000..=0x10FFFF
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(argv: &[&str]) -> String {
        Action::Exec {
            argv: argv.iter().map(|s| (*s).to_owned()).collect(),
            cwd: None,
        }
        .display_text()
    }

    #[test]
    fn plain_words_stay_as_they_are() {
        assert_eq!(
            exec(&["git", "push", "origin", "main"]),
            "git push origin main"
        );
        assert_eq!(exec(&["cargo", "test", "--", "-q"]), "cargo test -- -q");
    }

    #[test]
    fn words_with_spaces_and_quotes_are_one_word_each() {
        // Joined with spaces, these two argvs used to read the same.
        assert_eq!(
            exec(&["git", "push origin", "main"]),
            "git 'push origin' main"
        );
        assert_eq!(
            exec(&["git", "push", "origin", "main"]),
            "git push origin main"
        );
        assert_eq!(exec(&["echo", "it's"]), "echo 'it'\\''s'");
        assert_eq!(exec(&["echo", ""]), "echo ''");
        assert_eq!(
            exec(&["sh", "-c", "echo HIDDEN; rm -rf x"]),
            "sh -c 'echo HIDDEN; rm -rf x'"
        );
    }

    #[test]
    fn invisible_characters_are_escaped() {
        // A line break or carriage return could push the real command out of sight.
        assert_eq!(
            exec(&["sh", "-c", "git push origin main\necho HIDDEN"]),
            "sh -c $'git push origin main\\necho HIDDEN'"
        );
        assert_eq!(exec(&["echo", "safe\rrm"]), "echo $'safe\\rrm'");
        // A right-to-left override reorders what follows on screen.
        assert_eq!(exec(&["cat", "a\u{202e}txt.sh"]), "cat $'a\\u202etxt.sh'");
        // Zero-width and look-alike spaces.
        assert_eq!(exec(&["rm", "a\u{200b}b"]), "rm $'a\\u200bb'");
        assert_eq!(exec(&["rm", "a\u{a0}b"]), "rm $'a\\u00a0b'");
        assert_eq!(exec(&["echo", "\u{1b}[2K"]), "echo $'\\x1b[2K'");
        assert_eq!(exec(&["echo", "tag\u{e0041}"]), "echo $'tag\\U000e0041'");
        // Visible non-ASCII text is kept readable.
        assert_eq!(exec(&["echo", "café"]), "echo 'café'");
    }

    #[test]
    fn free_text_shows_its_invisible_characters() {
        assert_eq!(visible("fix the build"), "fix the build");
        assert_eq!(visible("ok\x1b[2K\rapprove me"), "ok\\x1b[2K\\rapprove me");
        assert_eq!(visible("a\u{202e}b\\n"), "a\\u202eb\\\\n");
    }

    #[test]
    fn every_kind_accepts_exactly_its_known_fields() {
        let full = [
            serde_json::json!({"kind": "exec", "argv": ["a"], "cwd": "/"}),
            serde_json::json!({"kind": "shell", "script": "a", "cwd": "/"}),
            serde_json::json!({"kind": "read", "path": "/a"}),
            serde_json::json!({"kind": "write", "path": "/a"}),
            serde_json::json!({"kind": "net", "host": "h", "port": 1, "method": "GET", "path": "/",
                "service": "git-upload-pack"}),
            serde_json::json!({"kind": "tool", "name": "t", "arguments": {}}),
        ];
        for v in full {
            let kind = v["kind"].as_str().unwrap();
            let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys.len(), known_fields(kind).len(), "{kind}");
            assert!(
                keys.iter().all(|k| known_fields(kind).contains(k)),
                "{kind}"
            );
            let (_, extras) = split_action(&v).unwrap();
            assert!(extras.is_empty(), "{kind}");
        }
    }

    #[test]
    fn extra_fields_are_kept_apart_and_shown() {
        let v =
            serde_json::json!({"kind": "net", "host": "h", "method": "POST", "body_sha256": "ab"});
        let (a, extras) = split_action(&v).unwrap();
        assert_eq!(
            display_with_extras(&a, &extras),
            "POST h [body_sha256=\"ab\"]"
        );
        assert!(split_action(&serde_json::json!({"kind": "exec"})).is_err());
        assert!(split_action(&serde_json::json!({})).is_err());
    }

    #[test]
    fn shell_strings_show_the_shell_that_runs_them() {
        let a = Action::Shell {
            script: "make && make check".into(),
            cwd: None,
        };
        assert_eq!(a.display_text(), "sh -c 'make && make check'");
    }
}
