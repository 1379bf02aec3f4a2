//! Files that lookahead does not read ahead: padded past the size it reads, so the early decision
//! is the command's own tier and the layer a test is about (the sandbox, the runtime exec layer)
//! is what meets the file's commands — as it must for a script generated or fetched at run time.

/// `text` padded with a comment past lookahead's per-file limit (`#` comments: shell scripts,
/// Makefiles, Python, Ruby, Perl).
pub fn script(text: &str) -> String {
    format!(
        "{text}\n# {}\n",
        "x".repeat(warden_policy::LOOKAHEAD_MAX_FILE + 1)
    )
}

/// A JSON object (`package.json`) padded past the limit with an unused first field.
#[allow(dead_code, reason = "each test binary uses what it needs")]
pub fn json(text: &str) -> String {
    let pad = "x".repeat(warden_policy::LOOKAHEAD_MAX_FILE + 1);
    text.replacen('{', &format!("{{\"_unread\": \"{pad}\","), 1)
}

/// JavaScript padded past the limit with a `//` comment.
#[allow(dead_code, reason = "each test binary uses what it needs")]
pub fn js(text: &str) -> String {
    format!(
        "{text}\n// {}\n",
        "x".repeat(warden_policy::LOOKAHEAD_MAX_FILE + 1)
    )
}
