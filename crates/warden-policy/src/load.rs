//! Loading governance files: parse each layer (errors carry file, line and column), enforce the
//! organisation's locks, merge the layers, and compile the result into a ready `Policy`.

use crate::error::{PolicyError, PolicyErrors};
use crate::file::{
    Defaults, Extends, HighRiskSpec, PolicyFile, ProgramSpec, RuleIndex, RuleSpec, TestCase,
};
use crate::matcher::{CompiledRule, path_set, word_glob};
use crate::tier::Tier;
use crate::wordglob::PathSet;
use crate::wordglob::WordGlob;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::sync::{Arc, OnceLock};

/// Which layer a governance file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// The built-in default.
    Builtin,
    /// The organisation's file; may `lock` keys.
    Organisation,
    /// The repository's `.warden/policy.toml` (or a file given with `--policy`).
    Repository,
}

/// The text of one governance file and where it came from.
#[derive(Debug, Clone)]
pub struct PolicySource {
    /// Name used in messages (usually the path).
    pub name: String,
    /// The TOML text.
    pub text: String,
    /// Its layer.
    pub layer: Layer,
}

impl PolicySource {
    /// Whether this is the unmodified built-in default, which has a form prebuilt at build time.
    fn is_prebuilt_default(&self) -> bool {
        self.layer == Layer::Builtin && self.text == crate::DEFAULT_POLICY
    }

    /// The built-in default policy as a source.
    pub fn builtin() -> Self {
        Self {
            name: BUILTIN_NAME.into(),
            text: crate::DEFAULT_POLICY.into(),
            layer: Layer::Builtin,
        }
    }
}

/// The built-in default's rules as prepared at build time (`build.rs`): each rule's JSON, and
/// the [`RuleIndex`] of them as static tables.
#[derive(Debug)]
pub(crate) struct PrebuiltRules {
    json: &'static [&'static str],
    by_program: &'static [(&'static str, &'static [usize])],
    glob_programs: &'static [(&'static str, usize)],
    path: &'static [usize],
    net: &'static [usize],
    tool: &'static [usize],
    first_subcommand: &'static [&'static [&'static str]],
}

/// The name of the built-in default in messages.
const BUILTIN_NAME: &str = "<built-in default policy>";

/// The built-in default's `[programs.NAME]` entries as prepared at build time (`build.rs`):
/// each program's JSON and the aliases, sorted by name.
#[derive(Debug)]
pub(crate) struct PrebuiltPrograms {
    json: &'static [(&'static str, &'static str)],
    aliases: &'static [(&'static str, &'static str)],
}

/// The built-in default's programs.
static DEFAULT_PROGRAMS: PrebuiltPrograms =
    include!(concat!(env!("OUT_DIR"), "/default_programs.rs"));

/// Command knowledge by program name (`[programs.NAME]`). For the built-in default, a
/// program's entry is deserialised when a command of it is first classified (a `warden check`
/// process needs one or two of them).
#[derive(Debug)]
pub(crate) enum Programs {
    Parsed {
        specs: BTreeMap<String, ProgramSpec>,
        /// Alias → the program it stands for.
        aliases: BTreeMap<String, String>,
    },
    Prebuilt {
        table: &'static PrebuiltPrograms,
        specs: Vec<OnceLock<ProgramSpec>>,
    },
}

impl Programs {
    fn parsed(specs: BTreeMap<String, ProgramSpec>) -> Self {
        let mut aliases = BTreeMap::new();
        for (name, spec) in &specs {
            for a in &spec.aliases {
                aliases.insert(a.clone(), name.clone());
            }
        }
        Self::Parsed { specs, aliases }
    }

    fn prebuilt(table: &'static PrebuiltPrograms) -> Self {
        Self::Prebuilt {
            table,
            specs: (0..table.json.len()).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The entry of program `name`. The built-in default's entries are checked by this crate's
    /// tests (`the_prebuilt_default_compiles_like_the_parsed_one`), so deserialising one cannot
    /// fail; if it ever did, the program would be known by no entry.
    pub(crate) fn get(&self, name: &str) -> Option<&ProgramSpec> {
        match self {
            Self::Parsed { specs, .. } => specs.get(name),
            Self::Prebuilt { table, specs } => {
                let i = table.json.binary_search_by(|(n, _)| (*n).cmp(name)).ok()?;
                let spec = specs[i]
                    .get_or_init(|| serde_json::from_str(table.json[i].1).unwrap_or_default());
                Some(spec)
            }
        }
    }

    /// The program an alias stands for (`tofu` → `terraform`).
    pub(crate) fn alias(&self, name: &str) -> Option<&str> {
        match self {
            Self::Parsed { aliases, .. } => aliases.get(name).map(String::as_str),
            Self::Prebuilt { table, .. } => table
                .aliases
                .binary_search_by(|(a, _)| (*a).cmp(name))
                .ok()
                .map(|i| table.aliases[i].1),
        }
    }

    /// Every entry, and every alias (for tests comparing the two forms).
    #[cfg(test)]
    fn all(&self) -> (BTreeMap<String, ProgramSpec>, BTreeMap<String, String>) {
        match self {
            Self::Parsed { specs, aliases } => (specs.clone(), aliases.clone()),
            Self::Prebuilt { table, .. } => (
                table
                    .json
                    .iter()
                    .filter_map(|(n, _)| Some(((*n).to_owned(), self.get(n)?.clone())))
                    .collect(),
                table
                    .aliases
                    .iter()
                    .map(|(a, n)| ((*a).to_owned(), (*n).to_owned()))
                    .collect(),
            ),
        }
    }
}

/// The built-in default's `[[rule]]` entries.
static DEFAULT_RULES: PrebuiltRules = include!(concat!(env!("OUT_DIR"), "/default_rules.rs"));
/// The built-in default's `[[never_auto]]` entries.
static DEFAULT_NEVER_AUTO: PrebuiltRules =
    include!(concat!(env!("OUT_DIR"), "/default_never_auto.rs"));

/// Where a rule set's specs come from.
#[derive(Debug)]
enum Specs {
    /// A loaded (and merged) file.
    Parsed(Arc<Vec<RuleSpec>>),
    /// The built-in default: a rule is deserialised from its JSON when it is first compiled.
    Prebuilt(&'static [&'static str]),
}

/// Program rules by literal program name, sorted by name.
#[derive(Debug)]
enum ProgramIndex {
    Parsed(Vec<(String, Vec<usize>)>),
    Prebuilt(&'static [(&'static str, &'static [usize])]),
}

impl ProgramIndex {
    fn get(&self, name: &str) -> &[usize] {
        match self {
            Self::Parsed(v) => v
                .binary_search_by(|(p, _)| p.as_str().cmp(name))
                .map_or(&[][..], |i| &v[i].1),
            Self::Prebuilt(v) => v
                .binary_search_by(|(p, _)| (*p).cmp(name))
                .map_or(&[][..], |i| v[i].1),
        }
    }
}

/// Rules indexed for fast lookup. Each rule is compiled on first use: a `warden check` process
/// classifies one action, so compiling every glob and regular expression of the policy up front
/// would dominate its run time (and for the built-in default, so would deserialising them).
#[derive(Debug)]
pub(crate) struct RuleSet {
    specs: Specs,
    default_tier: Option<Tier>,
    default_category: &'static str,
    /// Boxed: a slot per rule is touched at load, a compiled rule only when used.
    compiled: Vec<OnceLock<Box<CompiledRule>>>,
    by_program: ProgramIndex,
    glob_programs: Vec<(WordGlob, usize)>,
    pub path: Cow<'static, [usize]>,
    pub net: Cow<'static, [usize]>,
    pub tool: Cow<'static, [usize]>,
    first_subcommand: FirstSubcommand,
}

/// [`RuleIndex::first_subcommand`], as loaded or as prebuilt.
#[derive(Debug)]
enum FirstSubcommand {
    Parsed(Vec<Vec<String>>),
    Prebuilt(&'static [&'static [&'static str]]),
}

impl RuleSet {
    fn new(
        specs: &Arc<Vec<RuleSpec>>,
        default_tier: Option<Tier>,
        default_category: &'static str,
    ) -> Self {
        let index = RuleIndex::of(specs);
        Self {
            specs: Specs::Parsed(Arc::clone(specs)),
            default_tier,
            default_category,
            compiled: (0..specs.len()).map(|_| OnceLock::new()).collect(),
            by_program: ProgramIndex::Parsed(index.by_program.into_iter().collect()),
            glob_programs: index
                .glob_programs
                .iter()
                .filter_map(|(p, i)| word_glob(p).ok().map(|g| (g, *i)))
                .collect(),
            path: index.path.into(),
            net: index.net.into(),
            tool: index.tool.into(),
            first_subcommand: FirstSubcommand::Parsed(index.first_subcommand),
        }
    }

    fn prebuilt(
        rules: &'static PrebuiltRules,
        default_tier: Option<Tier>,
        default_category: &'static str,
    ) -> Self {
        Self {
            specs: Specs::Prebuilt(rules.json),
            default_tier,
            default_category,
            compiled: (0..rules.json.len()).map(|_| OnceLock::new()).collect(),
            by_program: ProgramIndex::Prebuilt(rules.by_program),
            glob_programs: rules
                .glob_programs
                .iter()
                .filter_map(|(p, i)| word_glob(p).ok().map(|g| (g, *i)))
                .collect(),
            path: Cow::Borrowed(rules.path),
            net: Cow::Borrowed(rules.net),
            tool: Cow::Borrowed(rules.tool),
            first_subcommand: FirstSubcommand::Prebuilt(rules.first_subcommand),
        }
    }

    /// Whether program rule `i` can match a command whose first positional word is `first`
    /// (see [`RuleIndex::first_subcommand`]); asked before the rule is compiled.
    pub(crate) fn may_match_subcommand(&self, i: usize, first: Option<&str>) -> bool {
        let allowed = |words: &mut dyn Iterator<Item = &str>| {
            let mut words = words.peekable();
            words.peek().is_none() || first.is_some_and(|f| words.any(|w| w == f))
        };
        match &self.first_subcommand {
            FirstSubcommand::Parsed(v) => v
                .get(i)
                .is_none_or(|w| allowed(&mut w.iter().map(String::as_str))),
            FirstSubcommand::Prebuilt(v) => {
                v.get(i).is_none_or(|w| allowed(&mut w.iter().copied()))
            }
        }
    }

    /// The compiled rule at `i`. Every layer was validated when it was loaded (the built-in
    /// default by this crate's tests), so compilation cannot fail here; if it ever did, the rule
    /// fails closed: it matches everything it is asked about, at `sync` or stricter.
    pub(crate) fn get(&self, i: usize) -> &CompiledRule {
        self.compiled[i].get_or_init(|| {
            let compile = |spec: &RuleSpec| {
                CompiledRule::compile_deferred(spec, self.default_tier, self.default_category)
                    .unwrap_or_else(|e| CompiledRule::fail_closed(spec, &e.message))
            };
            Box::new(match &self.specs {
                Specs::Parsed(specs) => compile(&specs[i]),
                Specs::Prebuilt(json) => match serde_json::from_str::<RuleSpec>(json[i]) {
                    Ok(spec) => compile(&spec),
                    Err(e) => CompiledRule::fail_closed(
                        &RuleSpec {
                            id: format!("builtin-rule-{i}"),
                            ..RuleSpec::default()
                        },
                        &format!("built-in policy: {e}"),
                    ),
                },
            })
        })
    }

    /// Indices of program rules that may apply to a program known by its canonical name or
    /// the name it was invoked as, in file order.
    pub(crate) fn for_programs(&self, canonical: &str, raw: &str) -> Vec<usize> {
        let names: &[&str] = if canonical == raw {
            &[canonical]
        } else {
            &[canonical, raw]
        };
        let mut out: Vec<usize> = Vec::new();
        for name in names {
            out.extend(self.by_program.get(name));
            for (g, i) in &self.glob_programs {
                if g.is_match(name) {
                    out.push(*i);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Every rule, compiled (for lint checks).
    pub(crate) fn all(&self) -> impl Iterator<Item = &CompiledRule> {
        (0..self.compiled.len()).map(|i| self.get(i))
    }
}

/// A high-risk path entry, compiled.
#[derive(Debug)]
pub(crate) struct HighRisk {
    pub id: String,
    pub globs: PathSet,
    pub tier: Tier,
    pub category: String,
    pub reason: String,
}

/// The high-risk entries, compiled when a write is first judged: most actions write nothing,
/// and compiling the globs is a measurable share of a `warden check` process. Every layer's
/// globs were checked when it was loaded (the built-in default's by this crate's tests); if
/// one ever failed to compile here, its entry would match every path (fail closed).
#[derive(Debug)]
pub(crate) struct HighRiskPaths {
    specs: HighRiskSpecs,
    compiled: OnceLock<Vec<HighRisk>>,
}

/// Where the high-risk entries come from.
#[derive(Debug)]
enum HighRiskSpecs {
    Parsed(Vec<HighRiskSpec>),
    /// The built-in default's, as JSON (`build.rs`).
    Prebuilt(&'static str),
}

impl HighRiskPaths {
    pub(crate) fn get(&self) -> &[HighRisk] {
        self.compiled.get_or_init(|| {
            let specs = match &self.specs {
                HighRiskSpecs::Parsed(specs) => Cow::Borrowed(specs.as_slice()),
                // Checked by `the_prebuilt_rules_and_index_are_the_default_files`; if it ever
                // failed, one entry would stand for every path (fail closed).
                HighRiskSpecs::Prebuilt(json) => {
                    Cow::Owned(serde_json::from_str(json).unwrap_or_else(|_| {
                        vec![HighRiskSpec {
                            id: "builtin.high-risk-unreadable".into(),
                            paths: vec!["/**".into()],
                            ..HighRiskSpec::default()
                        }]
                    }))
                }
            };
            specs
                .iter()
                .map(|h| HighRisk {
                    id: h.id.clone(),
                    globs: path_set(&h.paths)
                        .or_else(|_| path_set(&["/**".to_owned(), "**".to_owned()]))
                        .unwrap_or_default(),
                    tier: h.tier.unwrap_or(Tier::Sync),
                    category: h
                        .category
                        .clone()
                        .unwrap_or_else(|| "high-risk-path".into()),
                    reason: h
                        .reason
                        .clone()
                        .unwrap_or_else(|| format!("writes to a high-risk path (`{}`)", h.id)),
                })
                .collect()
        })
    }
}

/// Path globs compiled when first matched (see [`HighRiskPaths`]); patterns that ever failed
/// to compile here would match nothing (for scratch paths, the strict side).
#[derive(Debug)]
pub(crate) struct LazyPathSet {
    patterns: Vec<String>,
    compiled: OnceLock<PathSet>,
}

impl LazyPathSet {
    fn new(patterns: Vec<String>) -> Self {
        Self {
            patterns,
            compiled: OnceLock::new(),
        }
    }

    pub(crate) fn is_match(&self, path: &str) -> bool {
        self.compiled
            .get_or_init(|| path_set(&self.patterns).unwrap_or_default())
            .is_match(path)
    }
}

/// Defaults with every value resolved.
#[derive(Debug)]
pub(crate) struct ResolvedDefaults {
    pub opaque: Tier,
    pub unknown_sandboxed: Tier,
    pub unknown_unsandboxed: Tier,
    pub write_outside_workspace: Tier,
    pub unknown_network: Tier,
    pub unknown_tool: Tier,
    pub scratch: LazyPathSet,
    pub opaque_when_dynamic: HashSet<String>,
}

/// A loaded, merged and compiled governance policy.
#[derive(Debug)]
pub struct Policy {
    /// The merged file; for the built-in default alone, deserialised when first asked for
    /// (classification needs only the parts below).
    merged: OnceLock<PolicyFile>,
    pub(crate) programs: Programs,
    pub(crate) rules: RuleSet,
    pub(crate) floors: RuleSet,
    pub(crate) high_risk: HighRiskPaths,
    pub(crate) defaults: ResolvedDefaults,
    digest: String,
    sources: Vec<String>,
    /// The file each `[[test]]` case came from; empty for the built-in default alone.
    test_origins: Vec<String>,
}

/// The sections of the built-in default that classification reads (`build.rs`).
#[derive(serde::Deserialize)]
#[serde(default)]
#[derive(Default)]
struct PrebuiltCore {
    defaults: Defaults,
}

/// The built-in default's `[[high_risk]]` entries, as JSON (`build.rs`).
const DEFAULT_HIGH_RISK_JSON: &str =
    include_str!(concat!(env!("OUT_DIR"), "/default_high_risk.json"));

/// What [`Policy::assemble`] compiles.
struct Parts<'a> {
    merged: OnceLock<PolicyFile>,
    defaults: &'a Defaults,
    programs: Programs,
    high_risk: HighRiskSpecs,
    rules: RuleSet,
    floors: RuleSet,
}

/// [`PrebuiltCore`] of the built-in default, as JSON.
const DEFAULT_CORE_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/default_core.json"));

/// A `[[test]]` case whose classification differs from what it expects.
#[derive(Debug, Clone)]
pub struct TestFailure {
    /// The file the case came from.
    pub source: String,
    /// A short description of the action.
    pub action: String,
    /// What was expected.
    pub expected: String,
    /// What classification gave.
    pub actual: String,
}

impl Policy {
    /// The built-in default policy. It is checked by this crate's tests, so it always loads.
    pub fn builtin() -> Self {
        match Self::load(&[]) {
            Ok(p) => p,
            Err(e) => panic!("the built-in default policy is invalid: {e}"),
        }
    }

    /// Load layers in order (organisation, then repository). The built-in default is put first
    /// unless some layer says `extends = "none"`.
    pub fn load(sources: &[PolicySource]) -> Result<Self, PolicyErrors> {
        match sources {
            [] => return Self::prebuilt(),
            [only] if only.is_prebuilt_default() => return Self::prebuilt(),
            _ => {}
        }
        let mut errors = Vec::new();
        let mut parsed: Vec<(PolicySource, PolicyFile, Option<toml::Table>)> = Vec::new();
        let mut locks: Vec<(String, String)> = Vec::new(); // (lock entry, file that set it)
        for source in sources {
            match parse_layer(source, &locks) {
                Ok((file, table)) => {
                    for l in &file.lock {
                        locks.push((l.clone(), source.name.clone()));
                    }
                    parsed.push((source.clone(), file, table));
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        let standalone = parsed
            .iter()
            .any(|(_, f, _)| f.extends == Some(Extends::None));
        if !standalone && !sources.iter().any(|s| s.layer == Layer::Builtin) {
            match parse_layer(&PolicySource::builtin(), &[]) {
                Ok((file, table)) => parsed.insert(0, (PolicySource::builtin(), file, table)),
                Err(mut e) => errors.append(&mut e),
            }
        }
        if !errors.is_empty() {
            return Err(PolicyErrors { errors });
        }

        let mut test_origins = Vec::new();
        let mut names = Vec::new();
        for (source, file, _) in &parsed {
            test_origins.extend(file.tests.iter().map(|_| source.name.clone()));
            names.push(source.name.clone());
        }
        if parsed.len() == 1 {
            // One layer (usually the built-in default alone): nothing to merge.
            let merged = std::mem::take(&mut parsed[0].1);
            let texts: Vec<&PolicySource> = parsed.iter().map(|(s, _, _)| s).collect();
            return Self::compile(merged, names, &texts, test_origins);
        }
        let mut merged_table = toml::Table::new();
        for (source, _, table) in &parsed {
            let table = match table {
                Some(t) => t.clone(),
                None if source.is_prebuilt_default() => {
                    prebuilt_default(source).map_err(|errors| PolicyErrors { errors })?
                }
                None => source
                    .text
                    .parse()
                    .map_err(|e: toml::de::Error| PolicyErrors {
                        errors: vec![PolicyError::at(
                            &source.name,
                            &source.text,
                            e.span(),
                            e.message().trim().to_owned(),
                            None,
                        )],
                    })?,
            };
            merge_tables(&mut merged_table, table);
        }
        dedupe_rules(&mut merged_table, "rule");
        dedupe_rules(&mut merged_table, "never_auto");
        dedupe_rules(&mut merged_table, "high_risk");
        let merged: PolicyFile = match merged_table.try_into() {
            Ok(m) => m,
            Err(e) => {
                let name = names.join(" + ");
                return Err(PolicyErrors {
                    errors: vec![PolicyError::at(
                        &name,
                        "",
                        None,
                        format!("the merged governance files are inconsistent: {e}"),
                        None,
                    )],
                });
            }
        };
        let texts: Vec<&PolicySource> = parsed.iter().map(|(s, _, _)| s).collect();
        Self::compile(merged, names, &texts, test_origins)
    }

    /// The built-in default alone, from its build-time form: only the sections classification
    /// reads are deserialised now, each rule when a command can first match it, and the whole
    /// file when [`Policy::config`] is first called.
    /// Needs no [`PolicySource`] of the default: making one copies the whole text.
    fn prebuilt() -> Result<Self, PolicyErrors> {
        let core: PrebuiltCore =
            serde_json::from_str(DEFAULT_CORE_JSON).map_err(|e| PolicyErrors {
                errors: vec![PolicyError::at(
                    BUILTIN_NAME,
                    "",
                    None,
                    format!("built-in policy: {e}"),
                    None,
                )],
            })?;
        Self::assemble(
            Parts {
                merged: OnceLock::new(),
                defaults: &core.defaults,
                programs: Programs::prebuilt(&DEFAULT_PROGRAMS),
                high_risk: HighRiskSpecs::Prebuilt(DEFAULT_HIGH_RISK_JSON),
                rules: RuleSet::prebuilt(&DEFAULT_RULES, None, "general"),
                floors: RuleSet::prebuilt(&DEFAULT_NEVER_AUTO, Some(Tier::Sync), "never-auto"),
            },
            vec![BUILTIN_NAME.to_owned()],
            DEFAULT_POLICY_DIGEST.to_owned(),
            Vec::new(),
        )
    }

    fn compile(
        merged: PolicyFile,
        sources: Vec<String>,
        layers: &[&PolicySource],
        test_origins: Vec<String>,
    ) -> Result<Self, PolicyErrors> {
        let rules = RuleSet::new(&merged.rules, None, "general");
        let floors = RuleSet::new(&merged.never_auto, Some(Tier::Sync), "never-auto");
        let programs = Programs::parsed(merged.programs.clone());
        let defaults = merged.defaults.clone();
        let high_risk = HighRiskSpecs::Parsed(merged.high_risk.clone());
        Self::assemble(
            Parts {
                merged: OnceLock::from(merged),
                defaults: &defaults,
                programs,
                high_risk,
                rules,
                floors,
            },
            sources,
            digest_sources(layers),
            test_origins,
        )
    }

    /// The compiled policy from its parts (one path for a loaded file and the prebuilt default).
    fn assemble(
        parts: Parts<'_>,
        sources: Vec<String>,
        digest: String,
        test_origins: Vec<String>,
    ) -> Result<Self, PolicyErrors> {
        let high_risk = HighRiskPaths {
            specs: parts.high_risk,
            compiled: OnceLock::new(),
        };
        let d = parts.defaults;
        let defaults = ResolvedDefaults {
            opaque: d.opaque.unwrap_or(Tier::Sync),
            unknown_sandboxed: d.unknown_sandboxed.unwrap_or(Tier::Sync),
            unknown_unsandboxed: d.unknown_unsandboxed.unwrap_or(Tier::Sync),
            write_outside_workspace: d.write_outside_workspace.unwrap_or(Tier::Async),
            unknown_network: d.unknown_network.unwrap_or(Tier::Sync),
            unknown_tool: d.unknown_tool.unwrap_or(Tier::Sync),
            scratch: LazyPathSet::new(d.scratch_paths.clone()),
            opaque_when_dynamic: d.opaque_when_dynamic.iter().cloned().collect(),
        };
        Ok(Self {
            merged: parts.merged,
            programs: parts.programs,
            rules: parts.rules,
            floors: parts.floors,
            high_risk,
            defaults,
            digest,
            sources,
            test_origins,
        })
    }

    /// The merged governance file (sections for sandbox, network, audit, approvals).
    pub fn config(&self) -> &PolicyFile {
        self.merged.get_or_init(|| {
            // Only the built-in default alone is left unset, and its JSON is checked by this
            // crate's tests (`the_prebuilt_default_equals_the_toml`).
            prebuilt_default(&PolicySource::builtin()).unwrap_or_else(|e| {
                panic!("the built-in default policy is invalid: {}", e[0].message)
            })
        })
    }

    /// `sha256:<hex>` over the canonical encoding of the merged policy.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Names of the files this policy was built from, in layer order.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// Findings that do not stop the policy from loading but deserve a look.
    pub fn lint_warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let d = &self.defaults;
        if d.opaque == Tier::Auto {
            out.push(
                "`defaults.opaque` is `auto`: code that cannot be analysed runs unreviewed".into(),
            );
        }
        if d.unknown_unsandboxed == Tier::Auto {
            out.push("`defaults.unknown_unsandboxed` is `auto`: unknown commands run unreviewed outside the sandbox".into());
        }
        for r in self.rules.all().filter(|r| r.override_) {
            for f in self.floors.all() {
                if f.kind == r.kind
                    && f.program.iter().any(|p| r.program.contains(p))
                    && f.tier > r.tier
                {
                    out.push(format!(
                        "override rule `{}` ({}) cannot lower what never-auto `{}` raises to {} for the same program",
                        r.id, r.tier, f.id, f.tier
                    ));
                }
            }
        }
        for r in self
            .config()
            .rules
            .iter()
            .chain(self.config().never_auto.iter())
        {
            if looks_like_alternatives(&r.subcommand) {
                let words: Vec<String> = r.subcommand.iter().map(|w| format!("{w:?}")).collect();
                out.push(format!(
                    "rule `{}`: subcommand = [{}] matches only the word sequence `{}`; to match any one of them write subcommand = [\"{}\"]",
                    r.id,
                    words.join(", "),
                    r.subcommand.join(" "),
                    r.subcommand.join("|")
                ));
            }
        }
        if self.config().audit.nested == Some(crate::sections::audit::NestedRecords::Buffered) {
            out.push(
                "`audit.nested` is `buffered`: records of nested operations that proceed are made \
                 durable within 50 ms, not before they run (a power failure can lose the last \
                 ones; held and refused ones stay durable first)"
                    .into(),
            );
        }
        let groups = &self.config().approvals.groups;
        for (i, route) in self.config().approvals.route.iter().enumerate() {
            for g in &route.groups {
                if !groups.contains_key(g) {
                    out.push(format!(
                        "approvals route {} names undefined group `{g}`",
                        i + 1
                    ));
                }
            }
            if route.groups.is_empty() {
                out.push(format!("approvals route {} names no group", i + 1));
            }
        }
        out
    }

    /// The `[[test]]` cases with the file each came from.
    pub fn tests(&self) -> impl Iterator<Item = (&str, &TestCase)> {
        let prebuilt = self.test_origins.is_empty();
        self.config().tests.iter().enumerate().map(move |(i, t)| {
            let origin = if prebuilt {
                self.sources.first().map_or("", String::as_str)
            } else {
                self.test_origins.get(i).map_or("", String::as_str)
            };
            (origin, t)
        })
    }
}

/// Verbs that are whole subcommands of package managers and VCS tools, never followed by a
/// second verb: a `subcommand` list starting with one and holding another (`["install", "add"]`)
/// was almost certainly meant as alternatives (`["install|add"]`), since each list entry is the
/// next word of the command line.
const STANDALONE_VERBS: &[&str] = &[
    "add",
    "apply",
    "ci",
    "clone",
    "commit",
    "delete",
    "deploy",
    "destroy",
    "i",
    "install",
    "publish",
    "pull",
    "push",
    "remove",
    "rm",
    "uninstall",
    "unpublish",
    "update",
    "upgrade",
];

/// Whether a `subcommand` sequence reads like a list of alternatives (see [`STANDALONE_VERBS`]).
fn looks_like_alternatives(subcommand: &[String]) -> bool {
    let verb = |w: &String| STANDALONE_VERBS.contains(&w.as_str());
    match subcommand.split_first() {
        Some((first, rest)) => verb(first) && rest.iter().any(verb),
        None => false,
    }
}

/// SHA-256 of the built-in default policy, computed at build time.
const DEFAULT_POLICY_SHA256: [u8; 32] = include!(concat!(env!("OUT_DIR"), "/default_digest.rs"));
/// [`Policy::digest`] of the built-in default alone (`build.rs`; checked by
/// `the_prebuilt_default_has_the_digest_of_its_text`).
const DEFAULT_POLICY_DIGEST: &str = include!(concat!(env!("OUT_DIR"), "/default_policy_digest.rs"));

/// The policy's digest: SHA-256 over each layer's SHA-256, in layer order (the built-in layer's
/// own digest comes from the build).
fn digest_sources(sources: &[&PolicySource]) -> String {
    let mut h = Sha256::new();
    for s in sources {
        if s.layer == Layer::Builtin && s.text == crate::DEFAULT_POLICY {
            h.update(DEFAULT_POLICY_SHA256);
        } else {
            h.update(Sha256::digest(s.text.as_bytes()));
        }
    }
    format!("sha256:{:x}", h.finalize())
}

/// The built-in default as parsed at build time (a `PolicyFile`, or a `toml::Table` for merging);
/// this crate's tests check that it equals the TOML.
fn prebuilt_default<T: serde::de::DeserializeOwned>(
    source: &PolicySource,
) -> Result<T, Vec<PolicyError>> {
    serde_json::from_str(crate::DEFAULT_POLICY_JSON).map_err(|e| {
        vec![PolicyError::at(
            &source.name,
            "",
            None,
            format!("built-in policy: {e}"),
            None,
        )]
    })
}

/// Parse and check one layer; errors point into its text.
fn parse_layer(
    source: &PolicySource,
    locks: &[(String, String)],
) -> Result<(PolicyFile, Option<toml::Table>), Vec<PolicyError>> {
    let name = &source.name;
    let text = &source.text;
    if source.is_prebuilt_default() {
        return Ok((prebuilt_default(source)?, None));
    }
    if source.layer == Layer::Builtin {
        // Checked in full by this crate's tests; parse once and skip the semantic checks, which
        // would otherwise cost every process its start-up.
        let file: PolicyFile = toml::from_str(text).map_err(|e| {
            vec![PolicyError::at(
                name,
                text,
                e.span(),
                e.message().trim().to_owned(),
                None,
            )]
        })?;
        // The table is only needed when other layers merge over this one.
        return Ok((file, None));
    }
    let file: PolicyFile = toml::from_str(text).map_err(|e| {
        vec![PolicyError::at(
            name,
            text,
            e.span(),
            e.message().trim().to_owned(),
            Some("see `warden policy schema` for every key the file may hold".into()),
        )]
    })?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        vec![PolicyError::at(
            name,
            text,
            e.span(),
            e.message().trim().to_owned(),
            None,
        )]
    })?;
    let spans = SpanFinder::new(text);
    let mut errors = Vec::new();
    let mut err = |path: &[Seg<'_>], message: String, help: Option<String>| {
        errors.push(PolicyError::at(name, text, spans.find(path), message, help));
    };

    if let Some(v) = file.version
        && v != 1
    {
        err(
            &[Seg::Key("version")],
            format!("unsupported version {v}; this Warden reads version 1"),
            None,
        );
    }
    for (array, default) in [("rule", None), ("never_auto", Some(Tier::Sync))] {
        let specs = if array == "rule" {
            &file.rules
        } else {
            &file.never_auto
        };
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, spec) in specs.iter().enumerate() {
            if let Err(e) = CompiledRule::compile(spec, default, "general")
                .and_then(|_| crate::matcher::validate_regex(spec))
            {
                let mut path = vec![Seg::Key(array), Seg::Index(i), Seg::Key(e.key)];
                if let Some(j) = e.index {
                    path.push(Seg::Index(j));
                }
                err(&path, e.message, None);
            }
            if let Some(first) = seen.insert(spec.id.as_str(), i) {
                err(
                    &[Seg::Key(array), Seg::Index(i), Seg::Key("id")],
                    format!("duplicate rule id `{}` (first defined in entry {})", spec.id, first + 1),
                    Some("rule ids must be unique within a file; a later layer may replace a rule by reusing its id".into()),
                );
            }
            if array == "never_auto" && spec.tier.is_some_and(|t| t < Tier::Sync) {
                err(
                    &[Seg::Key(array), Seg::Index(i), Seg::Key("tier")],
                    format!("never-auto entry `{}` must be at least `sync`", spec.id),
                    None,
                );
            }
            if spec.override_ && spec.tier == Some(Tier::Deny) {
                err(
                    &[Seg::Key(array), Seg::Index(i), Seg::Key("override")],
                    "an override rule with tier `deny` is pointless: deny already wins".into(),
                    None,
                );
            }
            if array == "rule"
                && spec.override_
                && let Some((_, by)) = locks.iter().find(|(l, _)| l == "override")
            {
                err(
                    &[Seg::Key(array), Seg::Index(i), Seg::Key("override")],
                    format!("override rules are locked by {by}"),
                    None,
                );
            }
            for (lock, by) in locks {
                if let Some(pattern) = lock.strip_prefix("rule:")
                    && word_glob(pattern).is_ok_and(|g| g.is_match(&spec.id))
                {
                    err(
                        &[Seg::Key(array), Seg::Index(i), Seg::Key("id")],
                        format!(
                            "rule `{}` is locked by {by} and cannot be replaced here",
                            spec.id
                        ),
                        None,
                    );
                }
            }
        }
    }
    // Contradictions: the same matcher given two different tiers in one file.
    let matcher_of = |r: &RuleSpec| RuleSpec {
        id: String::new(),
        tier: None,
        category: None,
        reason: None,
        override_: false,
        ..r.clone()
    };
    for (i, a) in file.rules.iter().enumerate() {
        for b in &file.rules[..i] {
            if a.tier != b.tier && a.override_ == b.override_ && matcher_of(a) == matcher_of(b) {
                err(
                    &[Seg::Key("rule"), Seg::Index(i), Seg::Key("tier")],
                    format!(
                        "rule `{}` contradicts rule `{}`: same match, tier {} vs {}",
                        a.id,
                        b.id,
                        a.tier.map(|t| t.as_str()).unwrap_or("?"),
                        b.tier.map(|t| t.as_str()).unwrap_or("?")
                    ),
                    Some("keep one of them, or make the later one `override = true` to relax the earlier".into()),
                );
            }
        }
    }
    for (name, group) in &file.approvals.groups {
        if let Some(url) = &group.webhook
            && let Err(why) = crate::sections::approvals::check_webhook_url(url)
        {
            err(
                &[
                    Seg::Key("approvals"),
                    Seg::Key("groups"),
                    Seg::Key(name),
                    Seg::Key("webhook"),
                ],
                why,
                Some(
                    "a Slack incoming webhook looks like `https://<slack host>/services/…`".into(),
                ),
            );
        }
    }
    if let Some(o) = &file.approvals.oidc
        && !crate::sections::approvals::is_duration(&o.session_lifetime)
    {
        err(
            &[
                Seg::Key("approvals"),
                Seg::Key("oidc"),
                Seg::Key("session_lifetime"),
            ],
            format!(
                "invalid duration `{}` (use e.g. `8h`, `30m`)",
                o.session_lifetime
            ),
            None,
        );
    }
    if let Some(r) = &file.approvals.reviewer {
        let at = |k| [Seg::Key("approvals"), Seg::Key("reviewer"), Seg::Key(k)];
        if r.command.first().is_none_or(|p| p.trim().is_empty()) {
            err(
                &at("command"),
                "the reviewer needs a `command` (program and arguments)".into(),
                None,
            );
        }
        if r.max_tier == Tier::Deny {
            err(
                &at("max_tier"),
                "a reviewer may never decide `deny`-tier actions".into(),
                Some("use `async` or `sync`".into()),
            );
        }
        if !crate::sections::approvals::is_duration(&r.timeout) {
            err(
                &at("timeout"),
                format!("invalid duration `{}` (use e.g. `30s`, `2m`)", r.timeout),
                None,
            );
        }
        if r.name.trim().is_empty() || r.name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            err(
                &at("name"),
                "the reviewer's name must be a non-empty word".into(),
                None,
            );
        }
    }
    for (name, group) in &file.approvals.groups {
        let Some(d) = &group.slack else { continue };
        let at = |k| {
            [
                Seg::Key("approvals"),
                Seg::Key("groups"),
                Seg::Key(name),
                Seg::Key("slack"),
                Seg::Key(k),
            ]
        };
        let env_ok = |v: &Option<String>| {
            v.as_deref()
                .is_none_or(crate::sections::approvals::is_env_name)
        };
        match (&d.webhook_env, &d.bot_token_env, &d.channel) {
            (Some(_), None, None) | (None, Some(_), Some(_)) => {}
            _ => err(
                &at("webhook_env"),
                format!(
                    "group `{name}`: a Slack destination is either `webhook_env` or `bot_token_env` with `channel`"
                ),
                None,
            ),
        }
        for (k, v) in [
            ("webhook_env", &d.webhook_env),
            ("bot_token_env", &d.bot_token_env),
        ] {
            if !env_ok(v) {
                err(
                    &at(k),
                    format!(
                        "`{k}` names an environment variable (e.g. `SLACK_WEBHOOK`), not a secret"
                    ),
                    Some("secrets are never written in the governance file".into()),
                );
            }
        }
        if file.approvals.slack.is_none() {
            err(
                &at("webhook_env"),
                "Slack buttons need `[approvals.slack]` with `signing_secret_env`".into(),
                None,
            );
        }
    }
    if let Some(app) = &file.approvals.slack {
        let at = |k| [Seg::Key("approvals"), Seg::Key("slack"), Seg::Key(k)];
        if !crate::sections::approvals::is_env_name(&app.signing_secret_env) {
            err(
                &at("signing_secret_env"),
                "`signing_secret_env` names an environment variable, not a secret".into(),
                None,
            );
        }
        if let Err(why) = crate::sections::approvals::check_webhook_url(&app.api_url) {
            err(&at("api_url"), why, None);
        }
    }
    if let Some(o) = &file.approvals.oidc {
        let at = |k| [Seg::Key("approvals"), Seg::Key("oidc"), Seg::Key(k)];
        for (k, url) in [("issuer", &o.issuer), ("redirect_url", &o.redirect_url)] {
            if let Err(why) = crate::sections::approvals::check_webhook_url(url) {
                err(&at(k), format!("`{k}`: {why}"), None);
            }
        }
        if let Some(v) = &o.client_secret_env
            && !crate::sections::approvals::is_env_name(v)
        {
            err(
                &at("client_secret_env"),
                "`client_secret_env` names an environment variable, not a secret".into(),
                None,
            );
        }
    }
    for (i, h) in file.high_risk.iter().enumerate() {
        if h.id.trim().is_empty() {
            err(
                &[Seg::Key("high_risk"), Seg::Index(i)],
                "a high_risk entry needs an `id`".into(),
                None,
            );
        }
        if h.paths.is_empty() {
            err(
                &[Seg::Key("high_risk"), Seg::Index(i)],
                format!("high_risk entry `{}` has no `paths`", h.id),
                None,
            );
        }
        for (j, p) in h.paths.iter().enumerate() {
            if let Err(e) = path_set(std::slice::from_ref(p)) {
                err(
                    &[
                        Seg::Key("high_risk"),
                        Seg::Index(i),
                        Seg::Key("paths"),
                        Seg::Index(j),
                    ],
                    format!("bad glob `{p}`: {}", e.1),
                    None,
                );
            }
        }
    }
    for (j, p) in file.defaults.scratch_paths.iter().enumerate() {
        if let Err(e) = path_set(std::slice::from_ref(p)) {
            err(
                &[
                    Seg::Key("defaults"),
                    Seg::Key("scratch_paths"),
                    Seg::Index(j),
                ],
                format!("bad glob `{p}`: {}", e.1),
                None,
            );
        }
    }
    for (i, t) in file.tests.iter().enumerate() {
        let kinds = [
            t.shell.is_some(),
            t.argv.is_some(),
            t.read.is_some(),
            t.write.is_some(),
            t.net.is_some(),
            t.tool.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if kinds != 1 {
            err(
                &[Seg::Key("test"), Seg::Index(i)],
                "a test names exactly one of `shell`, `argv`, `read`, `write`, `net`, `tool`"
                    .into(),
                None,
            );
        }
        if t.tier.is_none() && t.rule.is_none() {
            err(
                &[Seg::Key("test"), Seg::Index(i)],
                "a test needs an expected `tier` (or `rule`)".into(),
                None,
            );
        }
    }
    for (lock, by) in locks {
        if lock.starts_with("rule:") || lock == "override" {
            continue;
        }
        let path: Vec<&str> = lock.split('.').collect();
        if table_has(&table, &path) {
            let segs: Vec<Seg<'_>> = path.iter().map(|k| Seg::Key(k)).collect();
            err(
                &segs,
                format!("`{lock}` is locked by {by} and cannot be set here"),
                None,
            );
        }
    }
    for (i, l) in file.lock.iter().enumerate() {
        if l.is_empty() {
            err(
                &[Seg::Key("lock"), Seg::Index(i)],
                "empty lock entry".into(),
                None,
            );
        }
    }
    if errors.is_empty() {
        Ok((file, Some(table)))
    } else {
        Err(errors)
    }
}

fn table_has(table: &toml::Table, path: &[&str]) -> bool {
    let mut cur = table;
    for (i, k) in path.iter().enumerate() {
        match cur.get(*k) {
            Some(toml::Value::Table(t)) if i + 1 < path.len() => cur = t,
            Some(_) if i + 1 == path.len() => return true,
            _ => return false,
        }
    }
    false
}

/// Deep merge: tables merge key by key, arrays extend, anything else is replaced.
fn merge_tables(into: &mut toml::Table, from: toml::Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge_tables(a, b),
            (Some(toml::Value::Array(a)), toml::Value::Array(b)) => a.extend(b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// A later entry with the same `id` replaces an earlier one, in the later one's position.
fn dedupe_rules(table: &mut toml::Table, key: &str) {
    let Some(toml::Value::Array(items)) = table.get_mut(key) else {
        return;
    };
    let mut last: HashMap<String, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(id) = item.get("id").and_then(|v| v.as_str()) {
            last.insert(id.to_owned(), i);
        }
    }
    let mut i = 0;
    items.retain(|item| {
        let keep = match item.get("id").and_then(|v| v.as_str()) {
            Some(id) => last.get(id) == Some(&i),
            None => true,
        };
        i += 1;
        keep
    });
}

/// A step in a key path inside a TOML document.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// Finds the byte span of a key path, for error messages.
pub(crate) struct SpanFinder<'a> {
    text: &'a str,
}

impl<'a> SpanFinder<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self { text }
    }

    /// The span of the deepest part of `path` that exists.
    pub(crate) fn find(&self, path: &[Seg<'_>]) -> Option<Range<usize>> {
        let root = toml::de::DeTable::parse(self.text).ok()?;
        let mut best = None;
        let mut table = Some(root.get_ref());
        let mut value: Option<&toml::Spanned<toml::de::DeValue<'_>>> = None;
        for seg in path {
            let next = match (seg, table, value) {
                (Seg::Key(k), Some(t), _) => t
                    .iter()
                    .find(|(key, _)| key.get_ref().as_ref() == *k)
                    .map(|(key, v)| {
                        best = Some(key.span());
                        v
                    }),
                (Seg::Index(i), _, Some(v)) => v.get_ref().as_array().and_then(|a| a.get(*i)),
                _ => None,
            };
            let Some(v) = next else { break };
            best = Some(v.span());
            value = Some(v);
            table = v.get_ref().as_table();
        }
        best
    }
}

#[cfg(test)]
mod prebuilt_tests {
    use super::*;
    use crate::matcher::CommandView;
    use std::collections::BTreeSet;

    #[test]
    fn the_prebuilt_rules_and_index_are_the_default_files() {
        let file: PolicyFile = toml::from_str(crate::DEFAULT_POLICY).expect("default parses");
        let mut constrained = 0;
        for (prebuilt, specs) in [
            (&DEFAULT_RULES, &file.rules),
            (&DEFAULT_NEVER_AUTO, &file.never_auto),
        ] {
            let parsed: Vec<RuleSpec> = prebuilt
                .json
                .iter()
                .map(|j| serde_json::from_str(j).expect("rule JSON"))
                .collect();
            assert_eq!(&parsed, specs.as_ref());
            let index = RuleIndex::of(specs);
            let by_program: Vec<(String, Vec<usize>)> = prebuilt
                .by_program
                .iter()
                .map(|(p, v)| ((*p).to_owned(), v.to_vec()))
                .collect();
            assert_eq!(by_program, index.by_program.into_iter().collect::<Vec<_>>());
            let globs: Vec<(String, usize)> = prebuilt
                .glob_programs
                .iter()
                .map(|(p, i)| ((*p).to_owned(), *i))
                .collect();
            assert_eq!(globs, index.glob_programs);
            assert_eq!(prebuilt.path, index.path);
            assert_eq!(prebuilt.net, index.net);
            assert_eq!(prebuilt.tool, index.tool);
            let first: Vec<Vec<String>> = prebuilt
                .first_subcommand
                .iter()
                .map(|w| w.iter().map(|s| (*s).to_owned()).collect())
                .collect();
            assert_eq!(first, index.first_subcommand);
            constrained += first.iter().filter(|w| !w.is_empty()).count();
        }
        // Most program rules name their subcommand literally.
        assert!(constrained > 20, "{constrained}");
        let core: PrebuiltCore = serde_json::from_str(DEFAULT_CORE_JSON).expect("core JSON");
        assert_eq!(core.defaults, file.defaults);
        assert_eq!(Policy::builtin().programs.all().0, file.programs);
        let high_risk: Vec<HighRiskSpec> =
            serde_json::from_str(DEFAULT_HIGH_RISK_JSON).expect("high-risk JSON");
        assert_eq!(high_risk, file.high_risk);
    }

    #[test]
    fn a_rule_skipped_by_its_first_subcommand_would_not_have_matched() {
        // Every program rule, tried on its program with every first word any rule names (and
        // none): whenever the index says the rule cannot match, matching agrees.
        let policy = Policy::builtin();
        let file: PolicyFile = toml::from_str(crate::DEFAULT_POLICY).expect("default parses");
        let words: BTreeSet<&str> = file
            .rules
            .iter()
            .chain(file.never_auto.iter())
            .flat_map(|r| r.subcommand.iter().flat_map(|s| s.split('|')))
            .collect();
        let mut skipped = 0;
        for set in [&policy.rules, &policy.floors] {
            for i in 0..set.compiled.len() {
                let rule = set.get(i);
                for program in &rule.program {
                    for first in words.iter().map(|w| Some(*w)).chain([None]) {
                        let mut argv = vec![program.clone()];
                        argv.extend(first.map(str::to_owned));
                        argv.extend(["--force".to_owned(), "x".to_owned()]);
                        let view = CommandView::new(&argv, false, &policy.programs);
                        let positional = view.positionals.first().copied();
                        if !set.may_match_subcommand(i, positional) {
                            skipped += 1;
                            assert!(!rule.matches_command(&view), "{} on {argv:?}", rule.id);
                        }
                    }
                }
            }
        }
        assert!(skipped > 1000, "{skipped}");
    }

    #[test]
    fn the_prebuilt_default_has_the_digest_of_its_text() {
        // The digest is the SHA-256 over each layer's SHA-256; the built-in default's is taken
        // from build time, without a copy of its text.
        let layer: [u8; 32] = Sha256::digest(crate::DEFAULT_POLICY.as_bytes()).into();
        let expected = format!("sha256:{:x}", Sha256::digest(layer));
        assert_eq!(Policy::builtin().digest(), expected);
        let explicit = Policy::load(&[PolicySource::builtin()]).expect("loads");
        assert_eq!(explicit.digest(), expected);
    }

    #[test]
    fn the_prebuilt_default_compiles_like_the_parsed_one() {
        // The same file through the parsing path (a builtin layer whose text differs by a
        // trailing comment) and through the prebuilt one: every rule compiles the same, and
        // every program finds the same rules.
        let parsed = Policy::load(&[PolicySource {
            name: "copy".into(),
            text: format!("{}\n# copy\n", crate::DEFAULT_POLICY),
            layer: Layer::Builtin,
        }])
        .expect("loads");
        let prebuilt = Policy::builtin();
        assert_eq!(parsed.config(), prebuilt.config());
        assert_eq!(parsed.programs.all(), prebuilt.programs.all());
        // High-risk paths and scratch paths, compiled when first used.
        assert_eq!(
            format!("{:?}", parsed.high_risk.get()),
            format!("{:?}", prebuilt.high_risk.get())
        );
        assert!(!prebuilt.high_risk.get().is_empty());
        for p in ["/tmp/x", "/dev/null", "/work/x"] {
            assert_eq!(
                parsed.defaults.scratch.is_match(p),
                prebuilt.defaults.scratch.is_match(p)
            );
        }
        assert!(prebuilt.defaults.scratch.is_match("/tmp/x"));
        assert!(!prebuilt.programs.all().1.is_empty());
        for (a, b) in [
            (&parsed.rules, &prebuilt.rules),
            (&parsed.floors, &prebuilt.floors),
        ] {
            let ids = |s: &RuleSet| s.all().map(|r| format!("{r:?}")).collect::<Vec<_>>();
            assert_eq!(ids(a), ids(b));
            for spec in a.all() {
                for p in &spec.program {
                    assert_eq!(a.for_programs(p, p), b.for_programs(p, p), "{p}");
                }
            }
            assert_eq!(a.path, b.path);
            assert_eq!(a.net, b.net);
            assert_eq!(a.tool, b.tool);
        }
    }
}
