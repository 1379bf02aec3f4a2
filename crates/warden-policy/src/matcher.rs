//! Compiled rules: globs, flag patterns and regular expressions built once per policy, and the
//! view of one command (program, positional words, flags) they are matched against.

use crate::argregex::ArgRegex;
use crate::file::RuleSpec;
use crate::tier::Tier;
use crate::wordglob::{PathSet, SplitPath, WordGlob, WordSet, has_wildcard};
use regex_lite::Regex;
use std::sync::OnceLock;

pub(crate) use crate::file::RuleKind;

/// A glob for matching words (arguments, program names): `*` crosses `/`.
pub(crate) fn word_glob(pattern: &str) -> Result<WordGlob, crate::wordglob::WordGlobError> {
    WordGlob::new(pattern, false)
}

/// Globs for paths: each pattern is compiled as written (`~/x`, `/abs`, `@workspace/x`), and a
/// relative pattern matches anywhere.
pub(crate) fn path_set(
    patterns: &[String],
) -> Result<PathSet, (usize, crate::wordglob::WordGlobError)> {
    let normalised: Vec<String> = patterns.iter().map(|p| normalise_path_pattern(p)).collect();
    PathSet::new(&normalised)
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
    LongGlob(WordGlob),
    /// `-f`, also inside clusters such as `-fu`.
    Short(char),
    /// `-exec` and other single-dash words matched whole.
    Exact(String),
    /// `-X=POST` / `--request=POST`: the option with a value (glob, case-insensitive).
    WithValue { name: String, value: WordGlob },
    /// `--` alone: the end-of-options separator is present.
    EndOfOptions,
}

impl FlagPattern {
    pub(crate) fn parse(p: &str) -> Result<Self, String> {
        if p == "--" {
            return Ok(Self::EndOfOptions);
        }
        if !p.starts_with('-') || p == "-" {
            return Err(format!(
                "flag pattern `{p}` must start with `-` and name a flag"
            ));
        }
        if let Some((name, value)) = p.split_once('=') {
            let value =
                WordGlob::new(value, true).map_err(|e| format!("bad flag value `{value}`: {e}"))?;
            return Ok(Self::WithValue {
                name: name.to_owned(),
                value,
            });
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

    /// Whether this pattern is present among `args` (the arguments after the program);
    /// `skip[i]` marks words that are not the program's own options (values of `value_args`,
    /// commands of `command_args`). With `affirmative`, `--flag=false` (or `0`/`no`/`off`)
    /// does not count as the flag: a rule that a flag *excludes* must not be escaped by
    /// spelling the flag off.
    pub(crate) fn present(&self, args: &[String], skip: &[bool], affirmative: bool) -> bool {
        if let Self::EndOfOptions = self {
            return args.iter().any(|a| a == "--");
        }
        let iter = args.iter().enumerate();
        for (i, arg) in iter {
            if arg == "--" {
                return false;
            }
            if !arg.starts_with('-') || arg == "-" || skip.get(i).copied().unwrap_or(false) {
                continue;
            }
            if affirmative
                && let Self::Long(name) = self
                && let Some(v) = arg
                    .strip_prefix(name.as_str())
                    .and_then(|r| r.strip_prefix('='))
                && matches!(
                    v.to_ascii_lowercase().as_str(),
                    "false" | "0" | "no" | "off" | "none"
                )
            {
                continue;
            }
            let hit = match self {
                Self::Long(name) => {
                    arg == name
                        || arg
                            .strip_prefix(name.as_str())
                            .is_some_and(|r| r.starts_with('='))
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
pub(crate) struct WordPattern(Vec<WordGlob>);

impl WordPattern {
    fn parse(p: &str) -> Result<Self, crate::wordglob::WordGlobError> {
        p.split('|')
            .map(word_glob)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
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
    any_arg: Option<WordSet>,
    any_env: Option<WordSet>,
    except_env: Option<WordSet>,
    any_path: Option<PathSet>,
    /// Compiled when the rest of the rule has matched: most rules never get that far.
    arg_regex: Option<ArgRegex>,
    elevated: Option<bool>,
    sandboxed: Option<bool>,
    bare: Option<bool>,
    loopback: Option<bool>,
    paths: Option<PathSet>,
    writes: Option<DeferredPaths>,
    except: Option<DeferredPaths>,
    host: Option<WordSet>,
    method: Vec<String>,
    port: Vec<u16>,
    url_path: Option<PathSet>,
    service: Vec<String>,
    tool: Option<WordSet>,
}

/// Check a rule's regular expression (done when a layer loads; matching compiles it lazily).
pub(crate) fn validate_regex(spec: &RuleSpec) -> Result<(), RuleCompileError> {
    match &spec.arg_regex {
        Some(r) => Regex::new(r).map(|_| ()).map_err(|e| RuleCompileError {
            key: "arg_regex",
            index: None,
            message: format!("bad regular expression: {e}"),
        }),
        None => Ok(()),
    }
}

/// What kind of matcher a rule uses; exactly one kind is allowed.
pub(crate) fn rule_kind(spec: &RuleSpec) -> Result<RuleKind, String> {
    spec.kind()
}

/// Path globs of a rule that only some accesses need (`writes` for a write, `except` once the
/// rule has matched), compiled when first needed: a `warden check` of a command that writes
/// nothing then compiles neither. Deferred only for layers validated when they loaded; should
/// a glob fail to compile here anyway, the set stands for every path when it widens the rule
/// (`writes`) and for none when it narrows it (`except`): the strict side both times.
#[derive(Debug, Clone)]
struct DeferredPaths {
    patterns: Vec<String>,
    widens: bool,
    set: OnceLock<PathSet>,
}

impl DeferredPaths {
    fn new(
        key: &'static str,
        patterns: &[String],
        defer: bool,
        widens: bool,
    ) -> Result<Option<Self>, RuleCompileError> {
        if patterns.is_empty() {
            return Ok(None);
        }
        let set = OnceLock::new();
        if !defer {
            let compiled = opt_paths(key, patterns)?.unwrap_or_default();
            let _ = set.set(compiled);
        }
        Ok(Some(Self {
            patterns: patterns.to_vec(),
            widens,
            set,
        }))
    }

    fn get(&self) -> &PathSet {
        self.set.get_or_init(|| {
            path_set(&self.patterns).unwrap_or_else(|_| {
                if self.widens {
                    path_set(&["/**".to_owned(), "**".to_owned()]).unwrap_or_default()
                } else {
                    PathSet::default()
                }
            })
        })
    }
}

/// Where a compile error sits inside a rule: the key and the index in its array.
#[derive(Debug)]
pub(crate) struct RuleCompileError {
    pub key: &'static str,
    pub index: Option<usize>,
    pub message: String,
}

fn opt_paths(key: &'static str, patterns: &[String]) -> Result<Option<PathSet>, RuleCompileError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    path_set(patterns)
        .map(Some)
        .map_err(|(i, e)| RuleCompileError {
            key,
            index: Some(i),
            message: format!("bad glob `{}`: {e}", patterns[i]),
        })
}

fn opt_words(
    key: &'static str,
    patterns: &[String],
    case_insensitive: bool,
) -> Result<Option<WordSet>, RuleCompileError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    WordSet::new(patterns, case_insensitive)
        .map(Some)
        .map_err(|(i, e)| RuleCompileError {
            key,
            index: Some(i),
            message: format!("bad glob `{}`: {e}", patterns[i]),
        })
}

impl CompiledRule {
    /// Compile one rule. `default_tier` applies when the rule names none (never-auto entries).
    pub(crate) fn compile(
        spec: &RuleSpec,
        default_tier: Option<Tier>,
        default_category: &str,
    ) -> Result<Self, RuleCompileError> {
        Self::build(spec, default_tier, default_category, false)
    }

    /// [`CompiledRule::compile`] for matching: the `writes` and `except` globs are compiled
    /// when a write is judged or the rule has matched (see [`DeferredPaths`]). For rules of a
    /// layer that was validated when it loaded.
    pub(crate) fn compile_deferred(
        spec: &RuleSpec,
        default_tier: Option<Tier>,
        default_category: &str,
    ) -> Result<Self, RuleCompileError> {
        Self::build(spec, default_tier, default_category, true)
    }

    fn build(
        spec: &RuleSpec,
        default_tier: Option<Tier>,
        default_category: &str,
        defer: bool,
    ) -> Result<Self, RuleCompileError> {
        let err = |key, message: String| RuleCompileError {
            key,
            index: None,
            message,
        };
        if spec.id.trim().is_empty() {
            return Err(err("id", "a rule needs a non-empty `id`".into()));
        }
        let tier = spec
            .tier
            .or(default_tier)
            .ok_or_else(|| err("id", format!("rule `{}` has no `tier`", spec.id)))?;
        let kind = rule_kind(spec).map_err(|m| err("id", m))?;
        let program_only = |key: &'static str, used: bool| -> Result<(), RuleCompileError> {
            if used && kind != RuleKind::Program {
                Err(err(
                    key,
                    format!("`{key}` only applies to rules with a `program`"),
                ))
            } else {
                Ok(())
            }
        };
        program_only("subcommand", !spec.subcommand.is_empty())?;
        program_only("any_flag", !spec.any_flag.is_empty())?;
        program_only("no_flag", !spec.no_flag.is_empty())?;
        program_only("any_arg", !spec.any_arg.is_empty())?;
        program_only("any_env", !spec.any_env.is_empty())?;
        program_only("except_env", !spec.except_env.is_empty())?;
        program_only("any_path", !spec.any_path.is_empty())?;
        program_only("arg_regex", spec.arg_regex.is_some())?;
        program_only("elevated", spec.elevated.is_some())?;
        program_only("sandboxed", spec.sandboxed.is_some())?;
        program_only("bare", spec.bare.is_some())?;
        program_only("loopback", spec.loopback.is_some())?;
        if !spec.except.is_empty() && kind != RuleKind::Path {
            return Err(err("except", "`except` only applies to path rules".into()));
        }
        for (i, p) in spec.program.iter().enumerate() {
            word_glob(p).map_err(|e| RuleCompileError {
                key: "program",
                index: Some(i),
                message: format!("bad glob `{p}`: {e}"),
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
                    message: format!("bad pattern `{p}`: {e}"),
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
        let arg_regex = spec.arg_regex.as_deref().map(ArgRegex::new);
        let method: Vec<String> = spec.method.iter().map(|m| m.to_ascii_uppercase()).collect();
        Ok(Self {
            id: spec.id.clone(),
            tier,
            category: spec
                .category
                .clone()
                .unwrap_or_else(|| default_category.to_owned()),
            reason: spec
                .reason
                .clone()
                .unwrap_or_else(|| format!("matched rule `{}`", spec.id)),
            override_: spec.override_,
            kind,
            program: spec.program.clone(),
            subcommand,
            any_flag,
            no_flag,
            any_arg: opt_words("any_arg", &spec.any_arg, false)?,
            any_env: opt_words("any_env", &spec.any_env, false)?,
            except_env: opt_words("except_env", &spec.except_env, false)?,
            any_path: opt_paths("any_path", &spec.any_path)?,
            arg_regex,
            elevated: spec.elevated,
            sandboxed: spec.sandboxed,
            bare: spec.bare,
            loopback: spec.loopback,
            paths: opt_paths("paths", &spec.paths)?,
            writes: DeferredPaths::new("writes", &spec.writes, defer, true)?,
            except: DeferredPaths::new("except", &spec.except, defer, false)?,
            host: opt_words("host", &spec.host, true)?,
            method,
            port: spec.port.clone(),
            url_path: match spec.url_path.as_slice() {
                [] => None,
                list => Some(PathSet::new(list).map_err(|(i, e)| RuleCompileError {
                    key: "url_path",
                    index: Some(i),
                    message: e.to_string(),
                })?),
            },
            service: spec.service.clone(),
            tool: opt_words("tool", &spec.tool, false)?,
        })
    }

    /// A rule that could not be compiled: it matches everything of its kind, at `sync` or
    /// stricter, so that a broken rule never weakens classification.
    pub(crate) fn fail_closed(spec: &RuleSpec, message: &str) -> Self {
        let kind = rule_kind(spec).unwrap_or(RuleKind::Program);
        Self {
            id: spec.id.clone(),
            tier: spec.tier.unwrap_or(Tier::Sync).max(Tier::Sync),
            category: spec
                .category
                .clone()
                .unwrap_or_else(|| "invalid-rule".into()),
            reason: format!(
                "rule `{}` could not be compiled ({message}); failing closed",
                spec.id
            ),
            override_: false,
            kind,
            program: spec.program.clone(),
            subcommand: Vec::new(),
            any_flag: Vec::new(),
            no_flag: Vec::new(),
            any_arg: None,
            any_env: None,
            except_env: None,
            any_path: None,
            arg_regex: None,
            elevated: None,
            sandboxed: None,
            bare: None,
            loopback: None,
            paths: path_set(&["/**".to_owned()]).ok(),
            writes: None,
            except: None,
            host: None,
            method: Vec::new(),
            port: Vec::new(),
            url_path: None,
            service: Vec::new(),
            tool: WordSet::new(&["*".to_owned()], false).ok(),
        }
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
        if let Some(e) = self.elevated
            && e != cmd.elevated
        {
            return false;
        }
        if let Some(s) = self.sandboxed
            && s != cmd.sandboxed
        {
            return false;
        }
        if let Some(b) = self.bare
            && b != (cmd.argv.len() <= 1)
        {
            return false;
        }
        let args = &cmd.argv[1..];
        if let Some(l) = self.loopback
            && l != loopback_only(args)
        {
            return false;
        }
        let skip = &cmd.not_options;
        if !self.any_flag.is_empty() && !self.any_flag.iter().any(|f| f.present(args, skip, false))
        {
            return false;
        }
        if self.no_flag.iter().any(|f| f.present(args, skip, true)) {
            return false;
        }
        if let Some(set) = &self.any_env
            && !cmd.env.iter().any(|a| {
                set.is_match(a) && !self.except_env.as_ref().is_some_and(|e| e.is_match(a))
            })
        {
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
            let values = &cmd.option_values;
            let mut words = args
                .iter()
                .enumerate()
                .filter(|(i, _)| !values.get(*i).copied().unwrap_or(false))
                .map(|(_, a)| a);
            // Most commands have no word that could match: decided without building it.
            if !words.clone().any(|a| re.may_match(a)) {
                return false;
            }
            // A regex that still fails to build matches everything, so the rule fails closed.
            match re.regex() {
                Some(built) => {
                    if !words.any(|a| built.is_match(a)) {
                        return false;
                    }
                }
                None => return true,
            }
        }
        true
    }

    /// Whether a path rule's `paths` name something below (or at) a directory read as a whole
    /// (`grep -r x ~` for `~/.aws/**`), by the forms of the directory (see
    /// [`PathSet::may_match_below`]). Exceptions are not applied: the read reaches the rest
    /// below the directory too.
    pub(crate) fn matches_below(&self, forms: &[String]) -> bool {
        self.paths.as_ref().is_some_and(|s| {
            forms
                .iter()
                .any(|f| s.may_match_below(f) || (has_wildcard(f) && s.may_match_glob(f, true)))
        })
    }

    /// Match a path rule against one path access. `candidates` are the forms of the path to try
    /// (absolute, and `~/…` when under the home directory).
    pub(crate) fn matches_path(&self, candidates: &[SplitPath<'_>], is_write: bool) -> bool {
        let hit = |set: Option<&PathSet>| {
            set.is_some_and(|s| candidates.iter().any(|c| s.is_match_split(c)))
        };
        // A shell glob matches what it may expand to; an exception applies to it as to a name
        // (`~/.ssh/*.pub` is excepted by `~/.ssh/*.pub`).
        let glob_hit = |set: Option<&PathSet>| {
            set.is_some_and(|s| {
                candidates
                    .iter()
                    .filter_map(SplitPath::glob)
                    .any(|g| s.may_match_glob(g, false))
            })
        };
        let writes = || self.writes.as_ref().map(DeferredPaths::get);
        let matched = hit(self.paths.as_ref())
            || (is_write && hit(writes()))
            || glob_hit(self.paths.as_ref())
            || (is_write && glob_hit(writes()));
        matched && !hit(self.except.as_ref().map(DeferredPaths::get))
    }

    /// Match a network rule.
    pub(crate) fn matches_net(&self, req: &NetFacts<'_>) -> bool {
        let NetFacts {
            host,
            port,
            method,
            path,
            service,
        } = *req;
        if let Some(set) = &self.host
            && !set.is_match(host)
        {
            return false;
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
        if let Some(set) = &self.url_path {
            match path {
                Some(p) if set.is_match(p) => {}
                _ => return false,
            }
        }
        if !self.service.is_empty() {
            match service {
                Some(s) if self.service.iter().any(|x| x == s) => {}
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

/// What a network rule is matched against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NetFacts<'a> {
    pub host: &'a str,
    pub port: Option<u16>,
    pub method: Option<&'a str>,
    pub path: Option<&'a str>,
    pub service: Option<&'a str>,
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
    /// The action is classified as sandboxed (set by the classifier; `true` until then).
    pub sandboxed: bool,
    /// `NAME=VALUE` assignments made for the command (set by the classifier; none until then).
    pub env: &'a [String],
    /// Per word of `argv[1..]`: not one of the program's own options (a `value_args` value or
    /// a `command_args` command).
    pub not_options: Vec<bool>,
    /// Per word of `argv[1..]`: the value of a `value_args` option.
    pub option_values: Vec<bool>,
    /// How to resolve positional words as paths (set by the classifier).
    pub resolver: Option<&'a crate::paths::PathForms<'a>>,
    path_cache: std::cell::OnceCell<Vec<(usize, Vec<String>)>>,
}

impl<'a> CommandView<'a> {
    pub(crate) fn new(
        argv: &'a [String],
        elevated: bool,
        programs: &crate::load::Programs,
    ) -> Self {
        let base = program_basename(argv.first().map(String::as_str).unwrap_or(""));
        let program = programs.alias(base).unwrap_or(base).to_owned();
        let spec = programs.get(&program);
        let n = argv.len().saturating_sub(1);
        let mut not_options = Vec::new();
        let mut option_values = Vec::new();
        if let Some(s) = spec.filter(|s| !s.value_args.is_empty() || !s.command_args.is_empty()) {
            not_options = vec![false; n];
            option_values = vec![false; n];
            let mut k = 1;
            while k < argv.len() {
                let a = argv[k].as_str();
                if s.value_args.iter().any(|o| o == a) && k + 1 < argv.len() {
                    not_options[k] = true;
                    option_values[k] = true;
                    k += 2;
                } else if s.command_args.iter().any(|o| o == a) {
                    k += 1;
                    while k < argv.len() && argv[k] != ";" && argv[k] != "+" {
                        not_options[k - 1] = true;
                        k += 1;
                    }
                    k += 1;
                } else {
                    k += 1;
                }
            }
        }
        let mut positionals = Vec::new();
        let mut i = 1;
        let mut options_done = false;
        while i < argv.len() {
            let a = argv[i].as_str();
            if option_values.get(i - 1).copied().unwrap_or(false) {
                // The value of a `value_args` option: not a positional word.
            } else if options_done || !a.starts_with('-') || a == "-" {
                positionals.push(a);
            } else if a == "--" {
                options_done = true;
            } else if !a.contains('=')
                && spec.is_some_and(|s| {
                    s.value_options.iter().any(|o| o == a)
                        || cluster_ends_in_value_option(a, &s.value_options)
                })
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
            sandboxed: true,
            env: &[],
            not_options,
            option_values,
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

/// Is `word` a cluster of one-letter options (`-eo`, `-fNL`) whose first value-taking letter is
/// its last, so that the option's value is the next word (`ps -eo pid,args`, `ssh -fNL
/// 8080:db:5432 host`)? A value-taking letter before the end takes the rest of the word as its
/// value (`-nfoo`), as getopt reads it.
fn cluster_ends_in_value_option(word: &str, value_options: &[String]) -> bool {
    let Some(letters) = word.strip_prefix('-') else {
        return false;
    };
    if letters.len() < 2 || !letters.bytes().all(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    let takes_value = |c: char| {
        value_options
            .iter()
            .any(|o| o.len() == 2 && o.starts_with('-') && o.ends_with(c))
    };
    letters.chars().position(takes_value) == Some(letters.len() - 1)
}

/// `/usr/bin/git` → `git`, `\git` → `git`.
pub(crate) fn program_basename(argv0: &str) -> &str {
    let trimmed = argv0.trim_start_matches('\\');
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// Whether the URLs among `args` all name this machine's loopback, and one does (see
/// [`crate::file::RuleSpec::loopback`]), with no option that sends the request elsewhere. A word with a scheme names its host; one without
/// (`localhost:3000/x`, `api.example.invalid/v1`) counts when it looks like a host, and a word
/// that looks like a host but is something else (`out.json`) counts as another host: the rule
/// errs towards "not only loopback".
fn loopback_only(args: &[String]) -> bool {
    // Options that send the request elsewhere than its URL says, or over a local socket (a
    // daemon's: `--unix-socket /var/run/docker.sock`), or read more options from a file.
    const ELSEWHERE: &[&str] = &[
        "--unix-socket",
        "--abstract-unix-socket",
        "--connect-to",
        "--resolve",
        "--proxy",
        "--preproxy",
        "--socks",
        "-x",
        "-K",
        "--config",
        "-e",
        "--execute",
    ];
    if args
        .iter()
        .any(|a| ELSEWHERE.iter().any(|o| a.starts_with(o)))
    {
        return false;
    }
    let mut local = false;
    // (`@file` is a body read from a file, not a host.)
    for a in args.iter().filter(|a| !a.starts_with(['-', '@'])) {
        match url_host(a) {
            Some(h) if is_loopback(h) => local = true,
            Some(_) => return false,
            None => {}
        }
    }
    local
}

/// The host a URL-like word names (`None`: the word is not one, e.g. `name=x`, `@body.json`).
fn url_host(word: &str) -> Option<&str> {
    let (rest, scheme) = match word.split_once("://") {
        Some((_, r)) => (r, true),
        // httpie's `:3000/path` is localhost.
        None if word.starts_with(':') => return Some("localhost"),
        None => (word, false),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    if scheme {
        return Some(host);
    }
    let host_like = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == ':')
        && (host.contains('.') || host == "localhost" || authority.starts_with('['))
        && !word.contains(char::is_whitespace);
    host_like.then_some(host)
}

/// `localhost` (and `*.localhost`), 127.0.0.0/8, `::1`, and the unspecified addresses, which
/// connect to this machine.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host == "::1"
        || host == "::"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only_needs_every_url_on_this_machine_and_one_at_least() {
        let only = |args: &[&str]| {
            loopback_only(&args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>())
        };
        for local in [
            &["-X", "POST", "http://localhost:3000/x"][..],
            &["https://127.1.2.3/x", "-d", "name=x"],
            &["[::1]:8080/x"],
            &["http://[::1]/"],
            &["http://api.localhost/v1"],
            &["0.0.0.0:9000"],
            &[":3000/users", "name=x", "@body.json"],
            &["-H", "Content-Type: application/json", "localhost:3000"],
        ] {
            assert!(only(local), "{local:?}");
        }
        for elsewhere in [
            &["http://localhost/", "https://api.example.invalid/"][..],
            &["api.example.invalid/v1"],
            &["http://localhost.example.invalid/"],
            &["http://127.0.0.1.example.invalid/"],
            &["http://localhost@evil.invalid/"],
            &["-o", "out.json", "http://localhost/"],
            &["--unix-socket", "/var/run/docker.sock", "http://localhost/"],
            &["--proxy=http://p.invalid", "http://localhost/"],
            &["-xhttp://p.invalid", "http://localhost/"],
            &["-d", "x"],
            &[],
        ] {
            assert!(!only(elsewhere), "{elsewhere:?}");
        }
    }

    #[test]
    fn deferred_path_globs_fail_closed() {
        let bad = ["bad/[x".to_owned()];
        // Compiled at once (a layer being validated), a bad glob is an error.
        assert!(DeferredPaths::new("writes", &bad, false, true).is_err());
        let path = crate::wordglob::SplitPath::new("/etc/passwd");
        // Deferred, it widens the rule to every path (`writes`) or narrows it by none (`except`).
        let writes = DeferredPaths::new("writes", &bad, true, true)
            .unwrap()
            .unwrap();
        assert!(writes.get().is_match_split(&path));
        let except = DeferredPaths::new("except", &bad, true, false)
            .unwrap()
            .unwrap();
        assert!(!except.get().is_match_split(&path));
        // Good globs match the same either way.
        let good = ["/etc/**".to_owned()];
        for defer in [false, true] {
            let set = DeferredPaths::new("writes", &good, defer, true)
                .unwrap()
                .unwrap();
            assert!(set.get().is_match_split(&path));
        }
    }

    /// getopt's reading of a cluster of one-letter options: the first letter that takes a value
    /// takes the rest of the word, or the next word when it is the last letter.
    #[test]
    fn a_cluster_whose_last_letter_takes_a_value_takes_the_next_word() {
        let opts: Vec<String> = ["-o", "-n", "--output"].map(String::from).to_vec();
        assert!(cluster_ends_in_value_option("-eo", &opts));
        assert!(cluster_ends_in_value_option("-axo", &opts));
        // The value is attached (`-n foo` written `-nfoo`) …
        assert!(!cluster_ends_in_value_option("-nfoo", &opts));
        // … or there is no value-taking letter, or it is not a cluster at all.
        assert!(!cluster_ends_in_value_option("-ef", &opts));
        assert!(!cluster_ends_in_value_option("-o", &opts));
        assert!(!cluster_ends_in_value_option("--output", &opts));
        assert!(!cluster_ends_in_value_option("-j4", &opts));
        assert!(!cluster_ends_in_value_option("ax", &opts));
    }
}
