//! `warden replay`: classify a recorded stream of actions (Warden's audit log, a Claude Code
//! transcript, or a plain list of commands) against a draft governance file without running
//! anything, so a team sees what a policy change would surface before adopting it.

use crate::exit::{CliError, CmdResult};
use crate::policy_load;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use warden_policy::{Action, Context, Decision, Policy, Tier};

/// The trace formats `warden replay` reads.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TraceFormat {
    /// Warden's audit log: every `intent` record is one action.
    Audit,
    /// A Claude Code transcript (`.jsonl`): every `tool_use` block is one action.
    ClaudeCode,
    /// One shell command per line (blank lines and `#` comments skipped).
    Lines,
    /// JSON lines `{"cmd": "shell text" | ["argv", …], "cwd": "…"}`.
    Jsonl,
}

impl TraceFormat {
    fn name(self) -> &'static str {
        match self {
            Self::Audit => "audit",
            Self::ClaudeCode => "claude-code",
            Self::Lines => "lines",
            Self::Jsonl => "jsonl",
        }
    }
}

/// Arguments of `warden replay`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit status: 0 when every action was classified (whatever the tiers), 2 for bad \
input (an unreadable trace line is named; --skip-invalid counts and skips such lines instead)."
)]
pub struct ReplayArgs {
    /// The recorded actions: a file, or `-` for standard input.
    #[arg(value_name = "TRACE")]
    pub trace: String,
    /// Governance file to replay against, as the repository layer (default:
    /// <workspace>/.warden/policy.toml), layered over the organisation file and built-in default.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The current governance file to compare with: lists what the change newly surfaces, stops
    /// surfacing, or moves to another tier.
    #[arg(long, value_name = "OLD.toml")]
    pub against: Option<PathBuf>,
    /// The trace format (default: detected from the first line).
    #[arg(long, value_enum)]
    pub format: Option<TraceFormat>,
    /// Workspace root for every action (default: the nearest directory with `.git` or `.warden`
    /// above each action's recorded directory, else above the current directory).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Directory of actions that record none (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Classify as if the actions ran outside the sandbox (an audit record that says whether
    /// its action was sandboxed is classified as it says).
    #[arg(long)]
    pub unsandboxed: bool,
    /// Count and skip unreadable lines instead of stopping at the first.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Examples shown per surfaced rule.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub examples: usize,
    /// Longest difference list printed as text (`--json` always lists everything).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub max_list: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One action read from a trace.
#[derive(Debug, Clone)]
pub struct TracedAction {
    /// 1-based line of the trace it came from.
    pub line: usize,
    pub action: Action,
    /// The directory it started in, when the trace says.
    pub cwd: Option<PathBuf>,
    /// Whether it ran in the sandbox, when the trace says (audit records may).
    pub sandboxed: Option<bool>,
}

/// A trace line that could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct InvalidLine {
    pub line: usize,
    pub error: String,
}

/// Everything read from a trace.
#[derive(Debug, Default)]
pub struct Trace {
    pub actions: Vec<TracedAction>,
    pub invalid: Vec<InvalidLine>,
    /// Agent tool calls by tool name (Claude Code transcripts; audit intents that name one).
    pub tool_calls: BTreeMap<String, usize>,
}

/// A trace line Warden cannot read, named by file and line.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{source_name}:{line}: {message}")]
#[diagnostic(help(
    "fix or remove the line, force the format with --format, or pass --skip-invalid to count and skip unreadable lines"
))]
pub struct TraceLineError {
    pub source_name: String,
    pub line: usize,
    pub message: String,
}

/// The format of a trace whose first meaningful line is `first`.
pub fn detect_format(first: &str) -> Result<TraceFormat, String> {
    let t = first.trim();
    if !t.starts_with('{') {
        return Ok(TraceFormat::Lines);
    }
    let v: Value = match serde_json::from_str(t) {
        Ok(v) => v,
        // `{ make; make check; }` is a shell group, not JSON.
        Err(_) => return Ok(TraceFormat::Lines),
    };
    let has = |k: &str| v.get(k).is_some();
    if has("seq") && has("kind") && has("hash") {
        Ok(TraceFormat::Audit)
    } else if has("cmd") {
        Ok(TraceFormat::Jsonl)
    } else if v.get("type").is_some_and(Value::is_string) {
        // Every transcript line has a string `type` (`user`, `assistant`, `summary`, …).
        Ok(TraceFormat::ClaudeCode)
    } else {
        Err("cannot tell the trace format from its first line (not an audit record, a Claude Code transcript line, or a {\"cmd\": …} line); use --format".into())
    }
}

/// Read `text` (named `name` in errors) as a trace of `format` (detected when `None`).
pub fn parse_trace(
    name: &str,
    text: &str,
    format: Option<TraceFormat>,
    skip_invalid: bool,
) -> Result<(TraceFormat, Trace), TraceLineError> {
    let meaningful = text
        .lines()
        .enumerate()
        .find(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let format = match (format, meaningful) {
        (Some(f), _) => f,
        (None, None) => TraceFormat::Lines,
        (None, Some((i, first))) => detect_format(first).map_err(|message| TraceLineError {
            source_name: name.to_owned(),
            line: i + 1,
            message,
        })?,
    };
    let mut trace = Trace::default();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let result = match format {
            TraceFormat::Audit => audit_line(raw, line, &mut trace.tool_calls),
            TraceFormat::ClaudeCode => claude_line(raw, line, &mut trace.tool_calls),
            TraceFormat::Lines => Ok(plain_line(raw, line)),
            TraceFormat::Jsonl => jsonl_line(raw, line),
        };
        match result {
            Ok(actions) => trace.actions.extend(actions),
            Err(message) if skip_invalid => trace.invalid.push(InvalidLine {
                line,
                error: message,
            }),
            Err(message) => {
                return Err(TraceLineError {
                    source_name: name.to_owned(),
                    line,
                    message,
                });
            }
        }
    }
    Ok((format, trace))
}

fn json_object(raw: &str) -> Result<Option<serde_json::Map<String, Value>>, String> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        Ok(_) => Err("expected a JSON object".into()),
        Err(e) => Err(format!("not JSON (column {}): {e}", e.column())),
    }
}

fn checked(action: Action) -> Result<Action, String> {
    super::check::validate_action(&action)?;
    Ok(action)
}

fn action_cwd(action: &Action) -> Option<PathBuf> {
    match action {
        Action::Exec { cwd, .. } | Action::Shell { cwd, .. } => cwd.clone(),
        _ => None,
    }
}

/// The agent's own tool name an intent record carries (`Bash`, `Edit`, an MCP tool), or `None`
/// when its `tool` is only the fallback Warden derives from the action kind (`shell`, `read`, …).
pub fn agent_tool(intent: &warden_audit::Intent) -> Option<String> {
    let given = !intent.tool.is_empty()
        && (matches!(intent.action, Action::Tool { .. })
            || intent.tool != warden_audit::records::tool_name(&intent.action));
    given.then(|| intent.tool.clone())
}

/// An audit-log line: `intent` records are actions, every other record kind is skipped. The
/// agent's tool names are counted into `tool_calls`.
fn audit_line(
    raw: &str,
    line: usize,
    tool_calls: &mut BTreeMap<String, usize>,
) -> Result<Vec<TracedAction>, String> {
    let Some(rec) = json_object(raw)? else {
        return Ok(Vec::new());
    };
    if rec.get("kind").and_then(Value::as_str) != Some("intent") {
        return Ok(Vec::new());
    }
    if !rec.contains_key("action") {
        return Err("intent record without an `action`".to_owned());
    }
    let entry = warden_audit::Entry::deserialize(&Value::Object(rec))
        .map_err(|e| format!("intent record with an unreadable action: {e}"))?;
    let warden_audit::Record::Intent(intent) = entry.record else {
        return Ok(Vec::new());
    };
    let action = checked(intent.action.clone())?;
    if let Some(tool) = agent_tool(&intent) {
        *tool_calls.entry(tool).or_default() += 1;
    }
    Ok(vec![TracedAction {
        line,
        cwd: action_cwd(&action),
        action,
        sandboxed: intent.sandboxed,
    }])
}

/// The action a Claude Code tool call asks for, mapped exactly as `warden hook claude-code`
/// maps it (paths as the transcript wrote them; the line's `cwd` is the context).
pub fn claude_tool_action(name: &str, input: &Value) -> Result<Action, String> {
    let action = crate::agents::claude_code::tool_action(name, input, None)
        .map_err(|e| e.transcript_message())?;
    checked(action)
}

/// A Claude Code transcript line: every `tool_use` block of its message is an action.
fn claude_line(
    raw: &str,
    line: usize,
    tool_calls: &mut BTreeMap<String, usize>,
) -> Result<Vec<TracedAction>, String> {
    let Some(rec) = json_object(raw)? else {
        return Ok(Vec::new());
    };
    let cwd = rec.get("cwd").and_then(Value::as_str).map(PathBuf::from);
    let Some(Value::Array(blocks)) = rec.get("message").and_then(|m| m.get("content")) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for block in blocks {
        if block.get("type").and_then(Value::as_str) != Some("tool_use") {
            continue;
        }
        let name = block
            .get("name")
            .and_then(Value::as_str)
            .ok_or("tool_use block without a `name`")?;
        let input = block.get("input").unwrap_or(&Value::Null);
        *tool_calls.entry(name.to_owned()).or_default() += 1;
        out.push(TracedAction {
            line,
            action: claude_tool_action(name, input)?,
            cwd: cwd.clone(),
            sandboxed: None,
        });
    }
    Ok(out)
}

fn plain_line(raw: &str, line: usize) -> Vec<TracedAction> {
    let t = raw.trim();
    if t.is_empty() || t.starts_with('#') {
        return Vec::new();
    }
    vec![TracedAction {
        line,
        action: Action::Shell {
            script: t.to_owned(),
            cwd: None,
        },
        cwd: None,
        sandboxed: None,
    }]
}

fn jsonl_line(raw: &str, line: usize) -> Result<Vec<TracedAction>, String> {
    if raw.trim_start().starts_with('#') {
        return Ok(Vec::new());
    }
    let Some(rec) = json_object(raw)? else {
        return Ok(Vec::new());
    };
    let cwd = match rec.get("cwd") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(PathBuf::from(s)),
        Some(_) => return Err("`cwd` must be a string".into()),
    };
    let action = match rec.get("cmd") {
        Some(Value::String(s)) => Action::Shell {
            script: s.clone(),
            cwd: None,
        },
        Some(Value::Array(a)) => Action::Exec {
            argv: a
                .iter()
                .map(|x| x.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or("`cmd` as an array must hold only strings")?,
            cwd: None,
        },
        Some(_) => {
            return Err("`cmd` must be a string (shell) or an array of strings (argv)".into());
        }
        None => return Err("missing `cmd`".into()),
    };
    Ok(vec![TracedAction {
        line,
        action: checked(action)?,
        cwd,
        sandboxed: None,
    }])
}

/// How a person reads an action in one line (the governed path's wording).
pub use warden_govern::action_text;

/// Builds the classification context of each action, finding each recorded directory's
/// workspace once.
struct Contexts {
    workspace: Option<PathBuf>,
    default: Context,
    found: HashMap<PathBuf, PathBuf>,
}

impl Contexts {
    fn for_action(&mut self, cwd: Option<&Path>, sandboxed: Option<bool>) -> Context {
        let sandboxed = sandboxed.unwrap_or(self.default.sandboxed);
        let Some(cwd) = cwd else {
            return Context {
                sandboxed,
                ..self.default.clone()
            };
        };
        let cwd = if cwd.is_absolute() {
            warden_policy::normalise_path(cwd)
        } else {
            warden_policy::normalise_path(&self.default.cwd.join(cwd))
        };
        let workspace = match &self.workspace {
            Some(w) => w.clone(),
            None => self
                .found
                .entry(cwd.clone())
                .or_insert_with(|| {
                    warden_policy::normalise_path(&policy_load::find_workspace(&cwd))
                })
                .clone(),
        };
        Context {
            workspace,
            cwd,
            home: self.default.home.clone(),
            sandboxed,
        }
    }
}

/// One action and how each policy classifies it.
struct Replayed {
    line: usize,
    text: String,
    new: Decision,
    old: Option<Decision>,
}

#[derive(Serialize, Default, Clone, Copy)]
struct TierCount {
    count: usize,
    rate: f64,
}

fn rate(n: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        n as f64 / total as f64
    }
}

#[derive(Serialize)]
struct TierCounts {
    auto: TierCount,
    #[serde(rename = "async")]
    async_: TierCount,
    sync: TierCount,
    deny: TierCount,
    /// Everything not `auto`: what a person sees (async, sync) or is blocked (deny).
    surfaced: TierCount,
}

fn tier_counts(tiers: impl Iterator<Item = Tier>, total: usize) -> TierCounts {
    let mut n = [0usize; 4];
    for t in tiers {
        n[t as usize] += 1;
    }
    let c = |k: usize| TierCount {
        count: k,
        rate: rate(k, total),
    };
    TierCounts {
        auto: c(n[0]),
        async_: c(n[1]),
        sync: c(n[2]),
        deny: c(n[3]),
        surfaced: c(n[1] + n[2] + n[3]),
    }
}

#[derive(Serialize)]
struct Example {
    line: usize,
    action: String,
}

#[derive(Serialize)]
struct RuleGroup {
    rule: String,
    count: usize,
    tiers: BTreeMap<&'static str, usize>,
    examples: Vec<Example>,
}

#[derive(Serialize)]
struct CategoryGroup {
    category: String,
    count: usize,
    rules: Vec<RuleGroup>,
}

#[derive(Serialize)]
struct Change {
    line: usize,
    action: String,
    old_tier: Tier,
    new_tier: Tier,
    old_rule: String,
    new_rule: String,
    category: String,
}

#[derive(Serialize)]
struct Against {
    policy: PolicyInfo,
    tiers: TierCounts,
    newly_surfaced: Vec<Change>,
    no_longer_surfaced: Vec<Change>,
    tier_changed: Vec<Change>,
}

#[derive(Serialize)]
struct PolicyInfo {
    sources: Vec<String>,
    digest: String,
}

impl PolicyInfo {
    fn of(p: &Policy) -> Self {
        Self {
            sources: p.sources().to_vec(),
            digest: p.digest().to_owned(),
        }
    }
}

#[derive(Serialize)]
struct Summary {
    source: String,
    format: TraceFormat,
    policy: PolicyInfo,
    sandboxed: bool,
    actions: usize,
    tiers: TierCounts,
    surfaced: Vec<CategoryGroup>,
    /// Agent tool calls by tool name (Claude Code transcripts; audit intents that name one).
    tool_calls: BTreeMap<String, usize>,
    invalid_lines: Vec<InvalidLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    against: Option<Against>,
}

fn group_surfaced(replayed: &[Replayed], examples: usize) -> Vec<CategoryGroup> {
    let mut cats: BTreeMap<&str, BTreeMap<&str, RuleGroup>> = BTreeMap::new();
    for r in replayed.iter().filter(|r| r.new.tier != Tier::Auto) {
        let g = cats
            .entry(&r.new.category)
            .or_default()
            .entry(&r.new.rule)
            .or_insert_with(|| RuleGroup {
                rule: r.new.rule.clone(),
                count: 0,
                tiers: BTreeMap::new(),
                examples: Vec::new(),
            });
        g.count += 1;
        *g.tiers.entry(r.new.tier.as_str()).or_default() += 1;
        if g.examples.len() < examples && !g.examples.iter().any(|e| e.action == r.text) {
            g.examples.push(Example {
                line: r.line,
                action: r.text.clone(),
            });
        }
    }
    let mut out: Vec<CategoryGroup> = cats
        .into_iter()
        .map(|(category, rules)| {
            let mut rules: Vec<RuleGroup> = rules.into_values().collect();
            rules.sort_by(|a, b| b.count.cmp(&a.count).then(a.rule.cmp(&b.rule)));
            CategoryGroup {
                category: category.to_owned(),
                count: rules.iter().map(|r| r.count).sum(),
                rules,
            }
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.category.cmp(&b.category)));
    out
}

fn diff(replayed: &[Replayed], old_policy: &Policy) -> Against {
    let mut against = Against {
        policy: PolicyInfo::of(old_policy),
        tiers: tier_counts(
            replayed
                .iter()
                .filter_map(|r| r.old.as_ref().map(|d| d.tier)),
            replayed.len(),
        ),
        newly_surfaced: Vec::new(),
        no_longer_surfaced: Vec::new(),
        tier_changed: Vec::new(),
    };
    for r in replayed {
        let Some(old) = &r.old else { continue };
        if old.tier == r.new.tier {
            continue;
        }
        let change = Change {
            line: r.line,
            action: r.text.clone(),
            old_tier: old.tier,
            new_tier: r.new.tier,
            old_rule: old.rule.clone(),
            new_rule: r.new.rule.clone(),
            category: r.new.category.clone(),
        };
        match (old.tier, r.new.tier) {
            (Tier::Auto, _) => against.newly_surfaced.push(change),
            (_, Tier::Auto) => against.no_longer_surfaced.push(change),
            _ => against.tier_changed.push(change),
        }
    }
    against
}

/// Classify every action under both policies, on all cores for long traces (classification is
/// pure; the shell parser keeps one instance per thread). Order is kept.
fn classify_all(
    actions: &[TracedAction],
    contexts: &[Context],
    policy: &Policy,
    old: Option<&Policy>,
) -> Vec<Replayed> {
    let one = |(t, ctx): (&TracedAction, &Context)| Replayed {
        line: t.line,
        text: action_text(&t.action),
        new: policy.classify(&t.action, ctx),
        old: old.map(|p| p.classify(&t.action, ctx)),
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get().min(8))
        .unwrap_or(1);
    // Below a few hundred actions a thread costs more than it saves.
    if threads < 2 || actions.len() < 512 {
        return actions.iter().zip(contexts).map(one).collect();
    }
    let chunk = actions.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = actions
            .chunks(chunk)
            .zip(contexts.chunks(chunk))
            .map(|(a, c)| scope.spawn(move || a.iter().zip(c).map(one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

fn read_trace(src: &str) -> Result<(String, String), CliError> {
    if src == "-" {
        let mut t = String::new();
        std::io::stdin().read_to_string(&mut t).map_err(|e| {
            CliError::bad_input(miette::miette!(
                "cannot read the trace from standard input: {e}"
            ))
        })?;
        Ok(("<stdin>".to_owned(), t))
    } else {
        let t = std::fs::read_to_string(src)
            .map_err(|e| CliError::bad_input(miette::miette!("cannot read trace {src}: {e}")))?;
        Ok((src.to_owned(), t))
    }
}

/// Run `warden replay`.
pub fn run(args: ReplayArgs) -> CmdResult {
    let (name, text) = read_trace(&args.trace)?;
    let (format, trace) =
        parse_trace(&name, &text, args.format, args.skip_invalid).map_err(CliError::bad_input)?;
    let default = policy_load::context(
        args.workspace.as_deref(),
        args.cwd.as_deref(),
        !args.unsandboxed,
    )?;
    let workspace = args.workspace.as_deref().map(|_| default.workspace.clone());
    // Both policies are compiled once and kept for the process's life (freeing them piece by
    // piece would cost more than it saves in a command that ends here).
    let policy = std::mem::ManuallyDrop::new(policy_load::load(
        args.policy.as_deref(),
        &default.workspace,
    )?);
    let old_policy = match &args.against {
        Some(p) => Some(std::mem::ManuallyDrop::new(policy_load::load(
            Some(p),
            &default.workspace,
        )?)),
        None => None,
    };
    let mut contexts = Contexts {
        workspace,
        default,
        found: HashMap::new(),
    };
    let contexts_of: Vec<Context> = trace
        .actions
        .iter()
        .map(|t| contexts.for_action(t.cwd.as_deref(), t.sandboxed))
        .collect();
    let old_ref: Option<&Policy> = old_policy.as_deref();
    let replayed = classify_all(&trace.actions, &contexts_of, &policy, old_ref);
    let summary = Summary {
        source: name,
        format,
        policy: PolicyInfo::of(&policy),
        sandboxed: contexts.default.sandboxed,
        actions: replayed.len(),
        tiers: tier_counts(replayed.iter().map(|r| r.new.tier), replayed.len()),
        surfaced: group_surfaced(&replayed, args.examples),
        tool_calls: trace.tool_calls,
        invalid_lines: trace.invalid,
        against: old_policy.as_ref().map(|p| diff(&replayed, p)),
    };
    if args.json {
        emit(&format!(
            "{}\n",
            serde_json::to_string(&summary).unwrap_or_else(|_| "{}".into())
        ));
    } else {
        emit(&render_text(&summary, args.max_list));
    }
    Ok(ExitCode::SUCCESS)
}

/// Write `text` to standard output; a reader that went away (`| head`) is not an error.
pub fn emit(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

fn pct(r: f64) -> String {
    format!("{:.1}%", r * 100.0)
}

fn shorten(s: &str, max: usize) -> String {
    let one_line: String = s.chars().map(|c| if c == '\n' { ' ' } else { c }).collect();
    if one_line.chars().count() <= max {
        one_line
    } else {
        let cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

fn tiers_text(out: &mut String, t: &TierCounts) {
    for (name, c) in [
        ("auto", t.auto),
        ("async", t.async_),
        ("sync", t.sync),
        ("deny", t.deny),
    ] {
        out.push_str(&format!("  {name:<6} {:>7}  {:>6}\n", c.count, pct(c.rate)));
    }
}

fn changes_text(out: &mut String, title: &str, list: &[Change], max: usize) {
    if list.is_empty() {
        return;
    }
    out.push_str(&format!("{title} ({}):\n", list.len()));
    for c in list.iter().take(max) {
        out.push_str(&format!(
            "  line {:<5} {} → {}  [{} → {}]  {}\n",
            c.line,
            c.old_tier,
            c.new_tier,
            c.old_rule,
            c.new_rule,
            shorten(&c.action, 80)
        ));
    }
    if list.len() > max {
        out.push_str(&format!(
            "  … and {} more (--json lists all)\n",
            list.len() - max
        ));
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn render_text(s: &Summary, max_list: usize) -> String {
    let mut out = format!(
        "replayed {} from {} ({}) against {}\n",
        plural(s.actions, "action", "actions"),
        s.source,
        s.format.name(),
        s.policy.sources.join(" < ")
    );
    if !s.invalid_lines.is_empty() {
        out.push_str(&format!(
            "skipped {} (first: line {}: {})\n",
            plural(s.invalid_lines.len(), "invalid line", "invalid lines"),
            s.invalid_lines[0].line,
            s.invalid_lines[0].error
        ));
    }
    if !s.tool_calls.is_empty() {
        let list: Vec<String> = s
            .tool_calls
            .iter()
            .map(|(k, v)| format!("{k} ×{v}"))
            .collect();
        out.push_str(&format!("tool calls: {}\n", list.join(", ")));
    }
    out.push_str("\ntiers:\n");
    tiers_text(&mut out, &s.tiers);
    out.push_str(&format!(
        "  automatic {} / surfaced {}\n",
        pct(s.tiers.auto.rate),
        pct(s.tiers.surfaced.rate)
    ));
    if !s.surfaced.is_empty() {
        out.push_str(&format!(
            "\nsurfaced ({}), by category and rule:\n",
            s.tiers.surfaced.count
        ));
        for c in &s.surfaced {
            out.push_str(&format!("  {}  ({})\n", c.category, c.count));
            for r in &c.rules {
                let tiers: Vec<String> = r.tiers.iter().map(|(t, n)| format!("{t} {n}")).collect();
                out.push_str(&format!(
                    "    {}  ×{}  [{}]\n",
                    r.rule,
                    r.count,
                    tiers.join(", ")
                ));
                for e in &r.examples {
                    out.push_str(&format!(
                        "      line {:<5} {}\n",
                        e.line,
                        shorten(&e.action, 90)
                    ));
                }
            }
        }
    }
    if let Some(a) = &s.against {
        out.push_str(&format!(
            "\nagainst {}:\n",
            a.policy.sources.last().cloned().unwrap_or_default()
        ));
        out.push_str(&format!(
            "this change would newly surface {}, stop surfacing {}, and change the tier of {} surfaced\n",
            plural(a.newly_surfaced.len(), "action", "actions"),
            a.no_longer_surfaced.len(),
            a.tier_changed.len()
        ));
        out.push_str(&format!(
            "  surfaced {} → {} ({} → {})\n",
            a.tiers.surfaced.count,
            s.tiers.surfaced.count,
            pct(a.tiers.surfaced.rate),
            pct(s.tiers.surfaced.rate)
        ));
        changes_text(&mut out, "newly surfaced", &a.newly_surfaced, max_list);
        changes_text(
            &mut out,
            "no longer surfaced",
            &a.no_longer_surfaced,
            max_list,
        );
        changes_text(&mut out, "tier changed", &a.tier_changed, max_list);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_detected_from_the_first_line() {
        assert_eq!(detect_format("git status"), Ok(TraceFormat::Lines));
        assert_eq!(
            detect_format("{ make; make check; }"),
            Ok(TraceFormat::Lines)
        );
        assert_eq!(detect_format(r#"{"cmd":"ls"}"#), Ok(TraceFormat::Jsonl));
        assert_eq!(
            detect_format(r#"{"seq":1,"kind":"intent","hash":"x"}"#),
            Ok(TraceFormat::Audit)
        );
        assert_eq!(
            detect_format(r#"{"type":"user","message":{},"sessionId":"s"}"#),
            Ok(TraceFormat::ClaudeCode)
        );
        assert_eq!(
            detect_format(r#"{"type":"file-history-snapshot","snapshot":{}}"#),
            Ok(TraceFormat::ClaudeCode)
        );
        assert!(detect_format(r#"{"x":1}"#).is_err());
    }
}
