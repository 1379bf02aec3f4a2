//! The serde shape of one governance file (a layer). Every key is optional so that layers can be
//! merged; unknown keys are rejected so that typos surface with their line and column.

use crate::sections::{ApprovalsConfig, AuditConfig, NetworkConfig, SandboxConfig};
use crate::tier::Tier;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
// Shared with the compiled rule sets, which would otherwise copy every rule at start-up.
use std::sync::Arc;

/// One governance file. Layers merge in order built-in < organisation < repository: tables merge
/// key by key, arrays extend, scalars override, rules with the same `id` replace earlier ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyFile {
    /// Format version; `1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// `"builtin"` (default): this file is layered over the built-in default policy.
    /// `"none"`: the file stands alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extends: Option<Extends>,
    /// Keys a later layer may not set (dotted paths such as `defaults.opaque` or `network.deny`),
    /// rule ids it may not replace (`rule:ID`, globs allowed: `rule:cred.*`), or `override` to
    /// forbid later layers from adding override rules at all.
    pub lock: Vec<String>,
    /// Tiers for what no rule decides.
    pub defaults: Defaults,
    /// Command knowledge: which options of a program take a value, so that subcommands are found.
    pub programs: BTreeMap<String, ProgramSpec>,
    /// Classification rules. Every matching rule applies and the strictest wins, unless an
    /// `override` rule matches, which then decides alone (floors below still apply).
    #[serde(rename = "rule")]
    pub rules: Arc<Vec<RuleSpec>>,
    /// Operations forced to at least `sync` (or the tier given) whatever else matched.
    pub never_auto: Arc<Vec<RuleSpec>>,
    /// Paths whose writes are raised to at least the tier given.
    pub high_risk: Vec<HighRiskSpec>,
    /// Approver routing per category (used by the approval server).
    pub approvals: ApprovalsConfig,
    /// The sandbox profile.
    pub sandbox: SandboxConfig,
    /// The network allowlist for the egress proxy.
    pub network: NetworkConfig,
    /// The audit log and its export.
    pub audit: AuditConfig,
    /// Expected classifications, checked by `warden policy test`.
    #[serde(rename = "test")]
    pub tests: Vec<TestCase>,
}

/// What a file is layered over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Extends {
    /// The built-in default policy.
    Builtin,
    /// Nothing.
    None,
}

/// Tiers for what no rule decides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Defaults {
    /// Tier of code that cannot be analysed (parse errors, dynamic programs, run-time built commands).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opaque: Option<Tier>,
    /// Tier of a command no rule knows, when it will run in the sandbox.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_sandboxed: Option<Tier>,
    /// Tier of a command no rule knows, when it will run outside the sandbox.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_unsandboxed: Option<Tier>,
    /// Tier of a write whose target is outside the workspace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_outside_workspace: Option<Tier>,
    /// Tier of a network action that no rule decides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_network: Option<Tier>,
    /// Tier of a tool call that no rule decides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_tool: Option<Tier>,
    /// Paths outside the workspace that writes may reach freely (globs), e.g. `/tmp/**`.
    pub scratch_paths: Vec<String>,
    /// Programs whose run-time arguments (from `xargs`, `$VAR`, `$(...)`) make them opaque.
    pub opaque_when_dynamic: Vec<String>,
}

/// Command knowledge about one program.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ProgramSpec {
    /// Options (before the subcommand) that take a separate value, e.g. `-C` for git.
    pub value_options: Vec<String>,
    /// Other program names that behave the same (e.g. `tofu` for `terraform`).
    pub aliases: Vec<String>,
    /// Options that take the next word as their value wherever they stand (find's
    /// `-name PATTERN`): the value is never read as a flag, a positional word or a path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub value_args: Vec<String>,
    /// Options followed by a command that ends at `;` or `+` (find's `-exec CMD ;`): the
    /// command's words are not the program's own flags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command_args: Vec<String>,
    /// Words that make the program print help or its version and do nothing else, wherever
    /// they stand before `--` (`--help`, `-h`); a word without a leading `-` (aws's `help`)
    /// counts only as the last argument. Such a command is `auto` unless a `deny` rule matches.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub help_flags: Vec<String>,
    /// Options whose value is free text (a message, an author): a value known only at run time
    /// given there as one word (`git commit -m "$MSG"`) does not make a program of
    /// `opaque_when_dynamic` opaque, since no value can turn it into another option.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub text_options: Vec<String>,
    /// Options whose value is a pattern or other text, never a path the command reads, wherever
    /// they stand (`find -name '.env*'`, `grep --include='*.pem'`, `rsync --exclude .env`); a
    /// one-letter one also at the end of a cluster (`grep -re PAT`) or with its value attached
    /// (`-ePAT`). Only options that mean this in every use of the program belong here.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pattern_options: Vec<String>,
    /// The program reads the content of no file its words name: it prints or compares them as
    /// text (`echo .env >> .gitignore`, `printf`) or looks only at names and metadata (`test -f
    /// .env`, `ls -la .env*`, `stat`). What it writes is judged as before.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reads_no_content: bool,
    /// The program's first operand is the pattern or script it applies, not a file (grep's
    /// PATTERN, sed's SCRIPT, awk's PROGRAM), unless one of the options listed here gave it
    /// instead (`grep -e PAT FILE`, `sed -f edit.sed FILE`): then every operand is a file.
    /// `value_args` tells which options take the next word, so that an option's value is not
    /// taken for the pattern (a missing one errs towards reading: the value is taken for the
    /// pattern and the pattern for a file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern_operand: Option<Vec<String>>,
    /// The program's first operand names what it connects to (psql's database or connection
    /// URL): one known only at run time (`psql "$DATABASE_URL" -c …`) does not make a program of
    /// `opaque_when_dynamic` opaque either; what it is asked to do still decides.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub target_operand: bool,
}

/// A classification rule. Exactly one kind of matcher is used: a program (`program` with
/// optional `subcommand`, flags and argument conditions), paths (`paths`/`writes`), network
/// (`host`/`method`/`port`) or tools (`tool`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RuleSpec {
    /// Stable identifier, reported as the deciding rule.
    pub id: String,
    /// Tier when the rule matches (required on `rule`, `sync` by default on `never_auto`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    /// Category, used for approver routing (e.g. `credential-access`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Why the rule exists, shown to people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When true and the rule matches, it decides alone over ordinary rules (to relax a tier).
    #[serde(rename = "override")]
    pub override_: bool,
    /// Program names (globs over the basename of argv[0]).
    pub program: Vec<String>,
    /// Leading positional words after the program's own options; each word may hold
    /// alternatives (`apply|destroy`) and globs.
    pub subcommand: Vec<String>,
    /// The rule matches only if one of these flags is present (`--force`, `-f` also inside
    /// `-fu`, `--data*` globs, `-X=POST` for an option with a given value).
    pub any_flag: Vec<String>,
    /// The rule matches only if none of these flags is present.
    pub no_flag: Vec<String>,
    /// The rule matches only if some argument after the subcommand matches one of these globs.
    pub any_arg: Vec<String>,
    /// The rule matches only if some argument, resolved as a path, matches one of these path
    /// globs. Paths are tried as absolute, as `~/…` under the home directory, and as
    /// `@workspace/…` (or `@workspace` for the root itself) under the workspace.
    pub any_path: Vec<String>,
    /// The rule matches only if some argument matches this regular expression.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arg_regex: Option<String>,
    /// The rule matches only if the command line assigns a variable for the command matching
    /// one of these globs over `NAME=VALUE` (`HUSKY=0 git commit`, `env SKIP=lint git commit`,
    /// and assignments made for a wrapper that runs it): `HUSKY=0`, `SKIP=*`.
    pub any_env: Vec<String>,
    /// Assignments that do not count for `any_env` (globs over `NAME=VALUE` as well), judged
    /// assignment by assignment: with `any_env = ["GIT_CONFIG_GLOBAL=*"]` and `except_env =
    /// ["*=/dev/null"]`, `GIT_CONFIG_GLOBAL=/dev/null` does not match, but `GIT_CONFIG_GLOBAL=
    /// /dev/null GIT_CONFIG_SYSTEM=./x` does (by the second).
    pub except_env: Vec<String>,
    /// The rule matches only if the command runs elevated (`sudo`) or not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elevated: Option<bool>,
    /// The rule matches only if the action is classified as sandboxed (`true`) or not
    /// (`false`): for what the sandbox already answers (its environment holds no secrets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandboxed: Option<bool>,
    /// The rule matches only if the command has no arguments at all (`true`, e.g. `printenv`
    /// printing every variable) or has some (`false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bare: Option<bool>,
    /// The rule matches only if the URLs among the arguments all name this machine's loopback
    /// (`true`: `http://localhost:3000/x`, `127.0.0.1:8080`, `[::1]`, httpie's `:3000`; in the
    /// sandbox, the sandbox's own) or not (`false`: some argument names, or may name, another
    /// host, or none names a host, or an option sends the request elsewhere: a proxy,
    /// `--connect-to`, `--resolve`, `--unix-socket`, a config file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loopback: Option<bool>,
    /// Path globs matched against any path the action reads or writes.
    pub paths: Vec<String>,
    /// Path globs matched against paths the action writes.
    pub writes: Vec<String>,
    /// Path globs exempted from `paths`/`writes`.
    pub except: Vec<String>,
    /// Host globs of a network action.
    pub host: Vec<String>,
    /// HTTP methods of a network action.
    pub method: Vec<String>,
    /// Ports of a network action.
    pub port: Vec<u16>,
    /// URL path globs of a network action (query excluded; `*` stays within a segment, `**`
    /// crosses segments), e.g. `/api/v1/crates/new`, `/**/git-receive-pack`.
    pub url_path: Vec<String>,
    /// Git smart-HTTP services of a network action (`git-upload-pack`, `git-receive-pack`).
    pub service: Vec<String>,
    /// Tool-name globs of a tool action.
    pub tool: Vec<String>,
}

/// High-risk paths: writes to them are raised to at least `tier`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HighRiskSpec {
    /// Stable identifier.
    pub id: String,
    /// Path globs (relative globs match anywhere in the workspace).
    pub paths: Vec<String>,
    /// Minimum tier of a write to these paths.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    /// Category for approver routing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Why these paths are high risk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An expected classification, checked like a unit test.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TestCase {
    /// A shell string to classify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// An argv to classify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub argv: Option<Vec<String>>,
    /// A path read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read: Option<String>,
    /// A path written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write: Option<String>,
    /// A network request `METHOD host[:port][/path[?query]]` or just `host`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net: Option<String>,
    /// A tool name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// Expected tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    /// Expected deciding rule, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Classify as sandboxed (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandboxed: Option<bool>,
    /// Working directory relative to the workspace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
}

/// What a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleKind {
    Program,
    Path,
    Net,
    Tool,
}

impl RuleSpec {
    /// The one kind of matcher this rule uses, or why it has none or several.
    pub(crate) fn kind(&self) -> Result<RuleKind, String> {
        let kinds = [
            (!self.program.is_empty(), RuleKind::Program),
            (
                !self.paths.is_empty() || !self.writes.is_empty(),
                RuleKind::Path,
            ),
            (
                !self.host.is_empty()
                    || !self.method.is_empty()
                    || !self.port.is_empty()
                    || !self.url_path.is_empty()
                    || !self.service.is_empty(),
                RuleKind::Net,
            ),
            (!self.tool.is_empty(), RuleKind::Tool),
        ];
        let mut present = kinds.iter().filter(|(p, _)| *p).map(|(_, k)| *k);
        match (present.next(), present.next()) {
            (Some(k), None) => Ok(k),
            (None, _) => Err(format!(
                "rule `{}` matches nothing: give `program`, `paths`/`writes`, `host`/`method`, or `tool`",
                self.id
            )),
            (Some(_), Some(_)) => Err(format!(
                "rule `{}` mixes matcher kinds (program, paths, network, tool); split it into separate rules",
                self.id
            )),
        }
    }
}

/// Which rules may apply to what: program rules by literal program name (and the few named by
/// a glob), then path, network and tool rules, each list in file order. Built at run time for
/// a loaded file and at build time for the built-in default (`build.rs`), by this one function.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct RuleIndex {
    pub by_program: BTreeMap<String, Vec<usize>>,
    pub glob_programs: Vec<(String, usize)>,
    pub path: Vec<usize>,
    pub net: Vec<usize>,
    pub tool: Vec<usize>,
    /// Per rule: the words its first `subcommand` pattern allows when they are all literal
    /// (`apply|destroy`), else empty. A command whose first positional word is none of them
    /// cannot match the rule, which then need not even be compiled.
    pub first_subcommand: Vec<Vec<String>>,
}

impl RuleIndex {
    pub(crate) fn of(specs: &[RuleSpec]) -> Self {
        let mut index = Self {
            first_subcommand: vec![Vec::new(); specs.len()],
            ..Self::default()
        };
        for (i, r) in specs.iter().enumerate() {
            match r.kind() {
                Ok(RuleKind::Program) => {
                    let words: Vec<&str> = r
                        .subcommand
                        .first()
                        .map(|p| p.split('|').collect())
                        .unwrap_or_default();
                    if words.iter().all(|w| !w.contains(['*', '?', '[', '\\'])) {
                        index.first_subcommand[i] = words.iter().map(|w| w.to_string()).collect();
                    }
                    for p in &r.program {
                        if p.contains(['*', '?', '[', '\\']) {
                            index.glob_programs.push((p.clone(), i));
                        } else {
                            index.by_program.entry(p.clone()).or_default().push(i);
                        }
                    }
                }
                Ok(RuleKind::Path) => index.path.push(i),
                Ok(RuleKind::Net) => index.net.push(i),
                Ok(RuleKind::Tool) => index.tool.push(i),
                // Validated at load; an invalid rule is never indexed.
                Err(_) => {}
            }
        }
        index
    }
}
