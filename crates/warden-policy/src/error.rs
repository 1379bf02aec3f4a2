//! Load errors that point at the file, line and column of the offending text.

use miette::{Diagnostic, NamedSource, SourceSpan};
use std::ops::Range;

/// One problem in one governance file.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{file}:{line}:{column}: {message}")]
pub struct PolicyError {
    /// File name as given by the caller.
    pub file: String,
    /// 1-based line of the problem (1 when unknown).
    pub line: usize,
    /// 1-based column of the problem (1 when unknown).
    pub column: usize,
    /// What is wrong.
    pub message: String,
    #[source_code]
    src: NamedSource<String>,
    #[label("{label}")]
    span: Option<SourceSpan>,
    label: String,
    #[help]
    help: Option<String>,
}

impl PolicyError {
    /// An error at `span` (byte range) of `text`.
    pub(crate) fn at(
        file: &str,
        text: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Self {
        let message = message.into();
        let (line, column) = span
            .as_ref()
            .map(|r| line_col(text, r.start))
            .unwrap_or((1, 1));
        let label = first_line(&message).to_owned();
        Self {
            file: file.to_owned(),
            line,
            column,
            message,
            src: NamedSource::new(file, text.to_owned()),
            span: span.map(|r| SourceSpan::from(r.start..r.end.max(r.start))),
            label,
            help,
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// 1-based line and column (in characters) of byte offset `at`.
pub(crate) fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Every problem found while loading a set of governance files.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("invalid governance file ({} problem{})", errors.len(), if errors.len() == 1 { "" } else { "s" })]
pub struct PolicyErrors {
    /// The problems, in file order.
    #[related]
    pub errors: Vec<PolicyError>,
}
