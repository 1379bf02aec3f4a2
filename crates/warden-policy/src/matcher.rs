//! Compiled rules: globs, flag patterns and regular expressions built once per policy, and the
//! view of one command (program, positional words, flags) they are matched against.

use crate::file::{ProgramSpec, RuleSpec};
use crate::tier::Tier;
use globset::{Glob, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};
use regex::Regex;
use std::collections::BTreeMap;

/// What a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleKind {
    Program,
    Path,
    Net,
    Tool,
}

/// A glob compiled for matching words (arguments, program names): `*` crosses `/`.
pub(crate) fn word_glob(pattern: &str) -> Result<GlobMatcher, globset::Error> {
    Ok(GlobBuilder::new(pattern)
        .literal_separator(false)
        .backslash_escape(true)
        .build()?
        .compile_matcher())
}

/// A glob compiled for matching paths: `*` stays within one component, `**` crosses.
pub(crate) fn path_glob(pattern: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
}

fn word_set(patterns: &[String], case_insensitive: bool) -> Result<GlobSet, globset::Error> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(
            GlobBuilder::new(p)
                .literal_separator(false)
                .backslash_escape(true)
                .case_insensitive(case_insensitive)
                .build()?,
        );
    }
    b.build()
}

/// Globs for paths: each pattern is compiled as written (`~/x`, `/abs`, `**/rel`).
pub(crate) fn path_set(patterns: &[String]) -> Result<GlobSet, globset::Error> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(path_glob(&normalise_path_pattern(p))?);
    }
    b.build()
}

/// A relative path pattern matches anywhere; `~/` and absolute patterns stay anchored.
pub(crate) fn normalise_path_pattern(p: &str) -> String {
    if p.starts_with(['/', '~', '@']) || p.starts_with("**") {
        p.to_owned()
    } else {
        format!("**/{p}")
    }
}

/// One way of naming a flag in a rule.
#[derive(Debug, Clone)]
pub(crate) enum FlagPattern {
    /// `--name`, also matching `--name=value`.
    Long(String),
    /// `--data*`: a glob over long option names.
    LongGlob(GlobMatcher),
    /// `-f`, also inside clusters such as `-fu`.
    Short(char),
    /// `-exec` and other single-dash words matched whole.
    Exact(String),
    /// `-X=POST` / `--request=POST`: the option with a value (glob, case-insensitive).
    WithValue { name: String, value: GlobMatcher },
    /// `--` alone: the end-of-options separator is present.
    EndOfOptions,
}

impl FlagPattern {
    pub(crate) fn parse(p: &str) -> Result<Self, String> {
        if p == "--" {
            return Ok(Self::EndOfOptions);
        }
        if !p.starts_with('-') || p == "-" {
            return Err(format!("flag pattern `{p}` must start with `-` and name a flag"));
        }
        if let Some((name, value)) = p.split_once('=') {
            let value = GlobBuilder::new(value)
                .literal_separator(false)
                .case_insensitive(true)
                .build()
                .map_err(|e| e.to_string())?
                .compile_matcher();
            return Ok(Self::WithValue { name: name.to_owned(), value });
        }
        if p.starts_with("--") {
            if p.contains(['*', '?', '[']) {
                return Ok(Self::LongGlob(word_glob(p).map_err(|e| e.to_string())?));
            }
            return Ok(Self::Long(p.to_owned()));
        }
        let rest = &p[1..];
        let mut chars = rest.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Ok(Self::Short(c)),
            _ => Ok(Self::Exact(p.to_owned())),
        }
    }

    /// Whether this pattern is present among `args` (the arguments after the program).
    pub(crate) fn present(&self, args: &[String]) -> bool {
        if let Self::EndOfOptions = self {
            return args.iter().any(|a| a == "--");
        }
        let mut iter = args.iter().enumerate();
        while let Some((i, arg)) = iter.next() {
            if arg == "--" {
                return false;
            }
            if !arg.starts_with('-') || arg == "-" {
                continue;
            }
            let hit = match self {
                Self::Long(name) => {
                    arg == name || arg.strip_prefix(name.as_str()).is_some_and(|r| r.starts_with('='))
                }
                Self::LongGlob(g) => {
                    arg.starts_with("--") && g.is_match(arg.split('=').next().unwrap_or(arg))
                }
                Self::Short(c) => {
                    !arg.starts_with("--") && arg.len() > 1 && {
                        // A cluster of single-letter flags: `-fu`. Stop at a value-like tail.
                        let letters = &arg[1..];
                        letters.chars().all(|ch| ch.is_ascii_alphanumeric())
                            && (letters.len() == 1 || letters.len() <= 6)
                            && letters.contains(*c)
                    }
                }
                Self::Exact(word) => arg == word,
                Self::EndOfOptions => false,
                Self::WithValue { name, value } => {
                    if let Some(rest) = arg.strip_prefix(name.as_str()) {
                        if let Some(v) = rest.strip_prefix('=') {
                            value.is_match(v)
                        } else if rest.is_empty() {
                            args.get(i + 1).is_some_and(|v| value.is_match(v))
                        } else {
                            // `-XPOST`: short option glued to its value.
                            !name.starts_with("--") && name.len() == 2 && value.is_match(rest)
                        }
                    } else {
                        false
                    }
                }
            };
            if hit {
                return true;
            }
        }
        false
    }
}

/// Alternatives for one subcommand word: `apply|destroy`, each a glob.
#[derive(Debug, Clone)]
pub(crate) struct WordPattern(Vec<GlobMatcher>);

impl WordPattern {
    fn parse(p: &str) -> Result<Self, globset::Error> {
        p.split('|').map(word_glob).collect::<Result<Vec<_>, _>>().map(Self)
    }

    fn is_match(&self, word: &str) -> bool {
        self.0.iter().any(|g| g.is_match(word))
    }
}

/// A rule ready for matching.
#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub id: String,
    pub tier: Tier,
    pub category: String,
    pub reason: String,
    pub override_: bool,
    pub kind: RuleKind,
    pub program: Vec<String>,
    subcommand: Vec<WordPattern>,
    any_flag: Vec<FlagPattern>,
    no_flag: Vec<FlagPattern>,
    any_arg: Option<GlobSet>,
    any_path: Option<GlobSet>,
    arg_regex: Option<Regex>,
    elevated: Option<bool>,
    paths: Option<GlobSet>,
    writes: Option<GlobSet>,
    except: Option<GlobSet>,
    host: Option<GlobSet>,
    method: Vec<String>,
    port: Vec<u16>,
    tool: Option<GlobSet>,
}

/// Where a compile error sits inside a rule: the key and the index in its array.
#[derive(Debug)]
pub(crate) struct RuleCompileError {
    pub key: &'static str,
    pub index: Option<usize>,
    pub message: String,
}

fn opt_set(
    key: &'static str,
    patterns: &[String],
    build: impl Fn(&[String]) -> Result<GlobSet, globset::Error>,
) -> Result<Option<GlobSet>, RuleCompileError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    // Compile one by one first so that the error names the offending entry.
    for (i, p) in patterns.iter().enumerate() {
        build(std::slice::from_ref(p)).map_err(|e| RuleCompileError {
            key,
            index: Some(i),
            message: format!("bad glob `{p}`: {}", glob_error_text(&e)),
        })?;
    }
    build(patterns).map(Some).map_err(|e| RuleCompileError {
        key,
        index: None,
        message: e.to_string(),
    })
}

fn glob_error_text(e: &globset::Error) -> String {
    e.kind().to_string()
}

impl CompiledRule {
    /// Compile one rule. `default_tier` applies when the rule names none (never-auto entries).
    pub(crate) fn compile(
        spec: &RuleSpec,
        default_tier: Option<Tier>,
        default_category: &str,
    ) -> Result<Self, RuleCompileError> {
        let err = |key, message: String| RuleCompileError { key, index: None, message };
        if spec.id.trim().is_empty() {
            return Err(err("id", "a rule needs a non-empty `id`".into()));
        }
        let tier = spec
            .tier
            .or(default_tier)
            .ok_or_else(|| err("id", format!("rule `{}` has no `tier`", spec.id)))?;
        let kinds = [
            (!spec.program.is_empty(), RuleKind::Program),
            (!spec.paths.is_empty() || !spec.writes.is_empty(), RuleKind::Path),
            (!spec.host.is_empty() || !spec.method.is_empty() || !spec.port.is_empty(), RuleKind::Net),
            (!spec.tool.is_empty(), RuleKind::Tool),
        ];
        let present: Vec<RuleKind> = kinds.iter().filter(|(p, _)| *p).map(|(_, k)| *k).collect();
        let kind = match present.as_slice() {
            [k] => *k,
            [] => {
                return Err(err(
                    "id",
                    format!(
                        "rule `{}` matches nothing: give `program`, `paths`/`writes`, `host`/`method`, or `tool`",
                        spec.id
                    ),
                ));
            }
            _ => {
                return Err(err(
                    "id",
                    format!(
                        "rule `{}` mixes matcher kinds (program, paths, network, tool); split it into separate rules",
                        spec.id
                    ),
                ));
            }
        };
        let program_only = |key: &'static str, used: bool| -> Result<(), RuleCompileError> {
            if used && kind != RuleKind::Program {
                Err(err(key, format!("`{key}` only applies to rules with a `program`")))
            } else {
                Ok(())
            }
        };
        program_only("subcommand", !spec.subcommand.is_empty())?;
        program_only("any_flag", !spec.any_flag.is_empty())?;
        program_only("no_flag", !spec.no_flag.is_empty())?;
        program_only("any_arg", !spec.any_arg.is_empty())?;
        program_only("any_path", !spec.any_path.is_empty())?;
        program_only("arg_regex", spec.arg_regex.is_some())?;
        program_only("elevated", spec.elevated.is_some())?;
        if !spec.except.is_empty() && kind != RuleKind::Path {
            return Err(err("except", "`except` only applies to path rules".into()));
        }
        for (i, p) in spec.program.iter().enumerate() {
            word_glob(p).map_err(|e| RuleCompileError {
                key: "program",
                index: Some(i),
                message: format!("bad glob `{p}`: {}", glob_error_text(&e)),
            })?;
        }
        let subcommand = spec
            .subcommand
            .iter()
            .enumerate()
            .map(|(i, p)| {
                WordPattern::parse(p).map_err(|e| RuleCompileError {
                    key: "subcommand",
                    index: Some(i),
                    message: format!("bad pattern `{p}`: {}", glob_error_text(&e)),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let flags = |key: &'static str, list: &[String]| {
            list.iter()
                .enumerate()
                .map(|(i, p)| {
                    FlagPattern::parse(p).map_err(|message| RuleCompileError {
                        key,
                        index: Some(i),
                        message,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let any_flag = flags("any_flag", &spec.any_flag)?;
        let no_flag = flags("no_flag", &spec.no_flag)?;
        let arg_regex = spec
            .arg_regex
            .as_deref()
            .map(Regex::new)
            .transpose()
            .map_err(|e| err("arg_regex", format!("bad regular expression: {e}")))?;
        let method: Vec<String> = spec.method.iter().map(|m| m.to_ascii_uppercase()).collect();
        Ok(Self {
            id: spec.id.clone(),
            tier,
            category: spec.category.clone().unwrap_or_else(|| default_category.to_owned()),
            reason: spec.reason.clone().unwrap_or_else(|| format!("matched rule `{}`", spec.id)),
            override_: spec.override_,
            kind,
            program: spec.program.clone(),
            subcommand,
            any_flag,
            no_flag,
            any_arg: opt_set("any_arg", &spec.any_arg, |p| word_set(p, false))?,
            any_path: opt_set("any_path", &spec.any_path, path_set)?,
            arg_regex,
            elevated: spec.elevated,
            paths: opt_set("paths", &spec.paths, path_set)?,
            writes: opt_set("writes", &spec.writes, path_set)?,
            except: opt_set("except", &spec.except, path_set)?,
            host: opt_set("host", &spec.host, |p| word_set(p, true))?,
            method,
            port: spec.port.clone(),
            tool: opt_set("tool", &spec.tool, |p| word_set(p, false))?,
        })
    }

    /// Match a program rule against a command view (program already checked by the index).
    pub(crate) fn matches_command(&self, cmd: &CommandView<'_>) -> bool {
        if self.subcommand.len() > cmd.positionals.len() {
            return false;
        }
        if !self
            .subcommand
            .iter()
            .zip(&cmd.positionals)
            .all(|(p, w)| p.is_match(w))
        {
            return false;
        }
        if let Some(e) = self.elevated {
            if e != cmd.elevated {
                return false;
            }
        }
        let args = &cmd.argv[1..];
        if !self.any_flag.is_empty() && !self.any_flag.iter().any(|f| f.present(args)) {
            return false;
        }
        if self.no_flag.iter().any(|f| f.present(args)) {
            return false;
        }
        if let Some(set) = &self.any_arg {
            let rest = &cmd.positionals[self.subcommand.len()..];
            if !rest.iter().any(|a| set.is_match(a)) {
                return false;
            }
        }
        if let Some(set) = &self.any_path {
            let rest = cmd.positionals.len().min(self.subcommand.len());
            let paths = cmd.path_candidates();
            if !paths
                .iter()
                .filter(|(i, _)| *i >= rest)
                .any(|(_, forms)| forms.iter().any(|f| set.is_match(f)))
            {
                return false;
            }
        }
        if let Some(re) = &self.arg_regex {
            if !args.iter().any(|a| re.is_match(a)) {
                return false;
            }
        }
        true
    }

    /// Match a path rule against one path access. `candidates` are the forms of the path to try
    /// (absolute, and `~/…` when under the home directory).
    pub(crate) fn matches_path(&self, candidates: &[String], is_write: bool) -> bool {
        let hit = |set: &Option<GlobSet>| {
            set.as_ref()
                .is_some_and(|s| candidates.iter().any(|c| s.is_match(c)))
        };
        let matched = hit(&self.paths) || (is_write && hit(&self.writes));
        matched && !hit(&self.except)
    }

    /// Match a network rule.
    pub(crate) fn matches_net(&self, host: &str, port: Option<u16>, method: Option<&str>) -> bool {
        if let Some(set) = &self.host {
            if !set.is_match(host.to_ascii_lowercase()) {
                return false;
            }
        }
        if !self.method.is_empty() {
            match method {
                Some(m) if self.method.iter().any(|x| x.eq_ignore_ascii_case(m)) => {}
                _ => return false,
            }
        }
        if !self.port.is_empty() {
            match port {
                Some(p) if self.port.contains(&p) => {}
                _ => return false,
            }
        }
        true
    }

    /// Match a tool rule.
    pub(crate) fn matches_tool(&self, name: &str) -> bool {
        self.tool.as_ref().is_some_and(|s| s.is_match(name))
    }
}

/// One command as rules see it.
#[derive(Debug)]
pub(crate) struct CommandView<'a> {
    /// Canonical program name (basename, aliases resolved).
    pub program: String,
    /// The basename as written, before aliases.
    pub raw_program: &'a str,
    pub argv: &'a [String],
    /// Non-option words after the program, options and their values skipped.
    pub positionals: Vec<&'a str>,
    pub elevated: bool,
    /// How to resolve positional words as paths (set by the classifier).
    pub resolver: Option<&'a crate::paths::PathForms<'a>>,
    path_cache: std::cell::OnceCell<Vec<(usize, Vec<String>)>>,
}

impl<'a> CommandView<'a> {
    pub(crate) fn new(
        argv: &'a [String],
        elevated: bool,
        programs: &BTreeMap<String, ProgramSpec>,
        aliases: &BTreeMap<String, String>,
    ) -> Self {
        let base = program_basename(argv.first().map(String::as_str).unwrap_or(""));
        let program = aliases.get(base).cloned().unwrap_or_else(|| base.to_owned());
        let spec = programs.get(&program);
        let mut positionals = Vec::new();
        let mut i = 1;
        let mut options_done = false;
        while i < argv.len() {
            let a = argv[i].as_str();
            if options_done || !a.starts_with('-') || a == "-" {
                positionals.push(a);
            } else if a == "--" {
                options_done = true;
            } else if !a.contains('=')
                && spec.is_some_and(|s| s.value_options.iter().any(|o| o == a))
                && positionals.is_empty()
            {
                // An option of the program itself that takes the next word as its value.
                i += 1;
            }
            i += 1;
        }
        Self {
            program,
            raw_program: base,
            argv,
            positionals,
            elevated,
            resolver: None,
            path_cache: std::cell::OnceCell::new(),
        }
    }

    /// Each positional word (by index) in the forms path globs are matched against.
    pub(crate) fn path_candidates(&self) -> &[(usize, Vec<String>)] {
        self.path_cache.get_or_init(|| match self.resolver {
            Some(r) => self
                .positionals
                .iter()
                .enumerate()
                .map(|(i, w)| (i, r.forms(w)))
                .collect(),
            None => Vec::new(),
        })
    }
}

/// `/usr/bin/git` → `git`, `\git` → `git`.
pub(crate) fn program_basename(argv0: &str) -> &str {
    let trimmed = argv0.trim_start_matches('\\');
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}
