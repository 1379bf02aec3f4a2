//! Classification: every analysed part of an action is matched against the rules, and the
//! strictest tier wins, with the deciding rule, its category and the reasons a person reads.

use crate::action::{Action, Context};
#[cfg(doc)]
use crate::file::ProgramSpec;
use crate::load::Policy;
use crate::lookahead::{self, NoFiles, WorkspaceReader};
use crate::matcher::{CommandView, program_basename};
use crate::paths::{PathForms, is_within, resolve};
use crate::tier::Tier;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use warden_shell::{Analysis, Command};

/// The classification of one action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The strictest tier over every part of the action.
    pub tier: Tier,
    /// Category of the deciding rule (used for approver routing).
    pub category: String,
    /// Id of the deciding rule.
    pub rule: String,
    /// Human-readable reasons, deciding part first.
    pub reasons: Vec<String>,
    /// Each analysed command (or opaque part) with its own tier.
    pub commands: Vec<CommandDecision>,
    /// The paths the action names, resolved: what clearing it grants its sandbox (DESIGN.md,
    /// "An approval grants what it names"). Derived again by every classification, so not part
    /// of the serialized decision.
    #[serde(skip)]
    pub named: NamedPaths,
}

/// The paths an action names, as classification resolved them (absolute, not canonical).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamedPaths {
    /// Paths it writes outside the workspace (not scratch paths, not on another machine).
    pub writes_outside: Vec<PathBuf>,
    /// Paths it writes inside the workspace (the sandbox keeps some of them read-only unless
    /// granted: the configuration that programs on the host run code from).
    pub writes_inside: Vec<PathBuf>,
    /// Paths it may read (every argument that could name one).
    pub reads: Vec<PathBuf>,
}

impl NamedPaths {
    /// Adds `p` to `list` once; `seen` holds what `list` holds (a script read ahead names
    /// hundreds of paths, and a scan of the list per path would be quadratic).
    fn add(list: &mut Vec<PathBuf>, seen: &mut HashSet<PathBuf>, p: &Path) {
        if !seen.contains(p) {
            seen.insert(p.to_path_buf());
            list.push(p.to_path_buf());
        }
    }
}

/// The classification of one analysed command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandDecision {
    /// The command's argv (for an opaque part: its source text).
    pub argv: Vec<String>,
    pub tier: Tier,
    pub rule: String,
    pub category: String,
    pub reason: String,
    /// Wrappers peeled to reach it (`sudo`, `bash -c`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wrappers: Vec<String>,
    /// Byte range in the original shell text, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<[usize; 2]>,
    /// Whether this part could not be analysed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub opaque: bool,
    /// For a command found by lookahead: the file and line it comes from (`deploy.sh:3`,
    /// `package.json scripts.test:5`, `Makefile:12`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// One candidate verdict; the strictest wins, the first among equals.
#[derive(Debug, Clone)]
struct Verdict {
    tier: Tier,
    rule: String,
    category: String,
    reason: String,
}

impl Verdict {
    fn new(tier: Tier, rule: &str, category: &str, reason: impl Into<String>) -> Self {
        Self {
            tier,
            rule: rule.to_owned(),
            category: category.to_owned(),
            reason: reason.into(),
        }
    }

    fn from_rule(r: &crate::matcher::CompiledRule) -> Self {
        Self::new(r.tier, &r.id, &r.category, r.reason.clone())
    }
}

fn strictest(a: Option<Verdict>, b: Verdict) -> Verdict {
    match a {
        Some(a) if a.tier >= b.tier => a,
        _ => b,
    }
}

/// The verdict from ordinary candidates (each flagged whether it comes from an override rule)
/// and a floor: when an override rule matched, override rules alone decide; otherwise the
/// strictest candidate wins (`fallback` when there is none); a stricter floor then raises it.
fn combine(
    ordinary: Vec<(Verdict, bool)>,
    floor: Option<Verdict>,
    trace: &mut Trace<'_>,
    fallback: impl FnOnce() -> Verdict,
) -> Verdict {
    let any_override = ordinary.iter().any(|(_, o)| *o);
    if any_override {
        trace.note(|| "an override rule matched: it decides over ordinary rules".into());
    }
    let mut result: Option<Verdict> = None;
    for (v, is_override) in ordinary {
        if !any_override || is_override {
            result = Some(strictest(result, v));
        }
    }
    let mut result = result.unwrap_or_else(fallback);
    if let Some(f) = floor
        && f.tier > result.tier
    {
        trace.note(|| format!("raised to {} by `{}`", f.tier, f.rule));
        result = f;
    }
    result
}

/// The state of one classification: the match trace for `warden policy explain` (when asked
/// for), and lookahead's file reader, byte budget and the files being read (cycle guard).
pub(crate) struct Trace<'r> {
    notes: Option<Vec<String>>,
    files: &'r dyn WorkspaceReader,
    budget: lookahead::Budget,
    reading: Vec<String>,
    named: NamedPaths,
    /// The paths in `named.reads`, and in `named.writes_outside` and `named.writes_inside`.
    named_reads: HashSet<PathBuf>,
    named_writes: HashSet<PathBuf>,
    /// Files the text itself wrote before this point, with what it wrote (`cat <<'EOF' >
    /// deploy.sh … bash deploy.sh`): lookahead reads them as written, not as on disk.
    written: HashMap<PathBuf, String>,
    /// What each path argument of a file read ahead came to, by working directory and
    /// workspace: a script names the same paths over and over (`dist/`, `build/`,
    /// `deploy.yaml`), and a path's verdicts depend on nothing else. Not used while notes are
    /// taken.
    path_memo: Vec<PathMemo>,
}

/// The workspace as lookahead sees it part way through a text: the files the text wrote before
/// (see [`Trace::written`]) as it wrote them, everything else from `files`.
struct Written<'a> {
    files: &'a dyn WorkspaceReader,
    written: &'a HashMap<PathBuf, String>,
}

impl WorkspaceReader for Written<'_> {
    fn read(&self, path: &Path, limit: usize) -> Result<String, String> {
        // (Most texts write no file: no path is normalised for them.)
        if self.written.is_empty() {
            return self.files.read(path, limit);
        }
        match self.written.get(&crate::paths::normalise(path)) {
            Some(text) if text.len() > limit => Err(format!("larger than {limit} bytes")),
            Some(text) => Ok(text.clone()),
            None => self.files.read(path, limit),
        }
    }

    fn subdirectories(&self, dir: &Path) -> Result<Vec<String>, String> {
        self.files.subdirectories(dir)
    }

    fn files(&self, dir: &Path) -> Result<Vec<String>, String> {
        let mut names = self.files.files(dir).unwrap_or_default();
        for path in self.written.keys() {
            if path.parent() == Some(dir)
                && let Some(name) = path.file_name().and_then(|n| n.to_str())
                && !names.iter().any(|n| n == name)
            {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }
}

/// [`Trace::path_memo`] for one working directory and workspace.
struct PathMemo {
    cwd: PathBuf,
    workspace: PathBuf,
    /// By the argument as written: its outcome as a read, and as a write.
    reads: HashMap<String, PathOutcome>,
    writes: HashMap<String, PathOutcome>,
}

/// What one path access came to: the resolved path, its verdicts and floor, and which list of
/// [`NamedPaths`] it belongs to.
#[derive(Clone)]
struct PathOutcome {
    path: PathBuf,
    ordinary: Vec<(Verdict, bool)>,
    floor: Option<Verdict>,
    named: Named,
}

/// The list of [`NamedPaths`] a path access adds its path to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Named {
    None,
    Read,
    WriteOutside,
    WriteInside,
}

impl<'r> Trace<'r> {
    fn new(notes: bool, files: &'r dyn WorkspaceReader) -> Self {
        Self {
            notes: notes.then(Vec::new),
            files,
            budget: lookahead::Budget::default(),
            reading: Vec::new(),
            named: NamedPaths::default(),
            named_reads: HashSet::new(),
            named_writes: HashSet::new(),
            written: HashMap::new(),
            path_memo: Vec::new(),
        }
    }

    /// Adds `path` to the list of [`NamedPaths`] that `named` says.
    fn add_named(&mut self, path: &Path, named: Named) {
        match named {
            Named::None => {}
            Named::Read => NamedPaths::add(&mut self.named.reads, &mut self.named_reads, path),
            Named::WriteOutside => {
                NamedPaths::add(&mut self.named.writes_outside, &mut self.named_writes, path)
            }
            Named::WriteInside => {
                NamedPaths::add(&mut self.named.writes_inside, &mut self.named_writes, path)
            }
        }
    }

    /// The index of the path memo for `cwd` in `workspace` (made when there is none).
    fn path_memo_index(&mut self, cwd: &Path, workspace: &Path) -> usize {
        if let Some(i) = self
            .path_memo
            .iter()
            .position(|m| m.cwd == cwd && m.workspace == workspace)
        {
            return i;
        }
        self.path_memo.push(PathMemo {
            cwd: cwd.to_path_buf(),
            workspace: workspace.to_path_buf(),
            reads: HashMap::new(),
            writes: HashMap::new(),
        });
        self.path_memo.len() - 1
    }

    fn note(&mut self, f: impl FnOnce() -> String) {
        if let Some(t) = &mut self.notes {
            t.push(f());
        }
    }
}

/// Whether the command reads the content of every file below the directories it names, so that
/// a read rule for a path below one of them applies (`grep -r AKIA ~` reads `~/.aws/credentials`;
/// unsandboxed, it prints it):
///
/// | program | reads trees |
/// |---|---|
/// | `rg`, `ag`, `ack`, `ack-grep`, `pt`, `sift` | always |
/// | `grep`, `egrep`, `fgrep`, `zgrep`, `ugrep` | with `-r`, `-R`, `--recursive`, `--dereference-recursive`, `--directories=recurse` |
/// | `cp` | with `-r`, `-R`, `-a`, `--recursive`, `--archive` |
/// | `rsync` | with `-r`, `-a`, `--recursive`, `--archive` |
/// | `scp` | with `-r` |
/// | `zip` | with `-r`, `--recurse-paths` |
/// | `tar`, `gtar`, `bsdtar` | creating or adding: `-c`, `-r`, `-u`, `--create`, `--append`, `--update`, or an old-style first word holding `c`, `r` or `u` (`tar czf x.tgz ~`) |
/// | `7z`, `7za`, `7zz` | `a` (add) |
fn reads_trees(view: &CommandView<'_>) -> bool {
    let args = view.argv.get(1..).unwrap_or_default();
    let options = || args.iter().take_while(|a| *a != "--");
    let short = |letters: &str| {
        options().any(|a| {
            a.strip_prefix('-')
                .filter(|c| !c.starts_with('-'))
                .is_some_and(|c| c.chars().any(|l| letters.contains(l)))
        })
    };
    let long = |names: &[&str]| options().any(|a| names.contains(&a.as_str()));
    match view.program.as_str() {
        "rg" | "ag" | "ack" | "ack-grep" | "pt" | "sift" => true,
        "grep" | "egrep" | "fgrep" | "zgrep" | "ugrep" => {
            short("rR")
                || long(&[
                    "--recursive",
                    "--dereference-recursive",
                    "--directories=recurse",
                ])
        }
        "cp" => short("rRa") || long(&["--recursive", "--archive"]),
        "rsync" => short("ra") || long(&["--recursive", "--archive"]),
        "scp" => short("r"),
        "zip" => short("r") || long(&["--recurse-paths"]),
        "tar" | "gtar" | "bsdtar" => crate::outputs::tar_adds(args),
        "7z" | "7za" | "7zz" => args.first().is_some_and(|a| a == "a"),
        _ => false,
    }
}

/// Commands that write to the paths they are given, and how to find those paths.
fn implied_writes(view: &CommandView<'_>, spec: Option<&crate::file::ProgramSpec>) -> Vec<String> {
    let args = &view.argv[1..];
    // Every non-option argument (after `--`, everything).
    let pos = || crate::outputs::operands(args, &[]);
    let option_value = |names: &[&str]| {
        crate::outputs::option_values(args, names)
            .into_iter()
            .next()
    };
    let local =
        |p: &String| !p.contains("://") && !p.split('/').next().is_some_and(|h| h.contains(':'));
    match view.program.as_str() {
        "rm" | "rmdir" | "unlink" | "shred" | "touch" | "mkdir" | "truncate" | "mkfifo"
        | "mknod" => pos(),
        "chmod" | "chown" | "chgrp" | "chattr" | "setfacl" => pos().into_iter().skip(1).collect(),
        "cp" | "mv" | "ln" | "install" | "rsync" | "scp" | "link" => {
            if let Some(dir) = option_value(&["-t", "--target-directory"]) {
                vec![dir]
            } else {
                let p = pos();
                let dest = if p.len() >= 2 || view.program == "ln" {
                    p.last().cloned()
                } else {
                    None
                };
                let mut out: Vec<String> = dest.into_iter().filter(local).collect();
                if view.program == "mv" {
                    // A move also removes its sources.
                    out.extend(
                        p.iter()
                            .take(p.len().saturating_sub(1))
                            .filter(|s| local(s))
                            .cloned(),
                    );
                }
                out
            }
        }
        "tee" => pos(),
        "dd" => args
            .iter()
            .filter_map(|a| a.strip_prefix("of="))
            .map(str::to_owned)
            .collect(),
        "sed" | "perl" => {
            if args
                .iter()
                .any(|a| a == "-i" || a.starts_with("-i") || a.starts_with("--in-place"))
            {
                let explicit_script = args.iter().any(|a| a == "-e" || a == "-f");
                pos()
                    .into_iter()
                    .skip(usize::from(!explicit_script))
                    .collect()
            } else {
                Vec::new()
            }
        }
        "curl" => option_value(&["-o", "--output"]).into_iter().collect(),
        // Programs that write a file named by an option or a later operand.
        "sort" | "base64" | "base32" | "basenc" => {
            option_value(&["-o", "--output"]).into_iter().collect()
        }
        "git" => option_value(&["--output", "-o", "--output-directory"])
            .into_iter()
            .chain(git_operand_writes(view))
            .collect(),
        // `uniq [IN [OUT]]`, `split [FILE [PREFIX]]`: the last of two or more operands (an
        // option's value read as an operand only makes the input count as written too).
        "uniq" | "split" => {
            let p = pos();
            if p.len() >= 2 {
                p.last().cloned().into_iter().collect()
            } else {
                Vec::new()
            }
        }
        "csplit" => option_value(&["-f", "--prefix"]).into_iter().collect(),
        "tar" | "gtar" | "bsdtar" | "unzip" => option_value(&["-C", "--directory", "-d"])
            .into_iter()
            .chain(crate::outputs::output_writes(view, spec))
            .collect(),
        "wget" => option_value(&["-O", "--output-document"])
            .into_iter()
            .collect(),
        _ => crate::outputs::output_writes(view, spec),
    }
}

/// Options of `git clone` whose value is the next word.
const GIT_CLONE_VALUED: &str = "-b --branch -o --origin --depth -c --config --reference \
    --reference-if-able --separate-git-dir -u --upload-pack --template -j --jobs --filter \
    --shallow-since --shallow-exclude --bundle-uri --server-option --ref-format";

/// Options of `git init` whose value is the next word.
const GIT_INIT_VALUED: &str =
    "--template --separate-git-dir -b --initial-branch --object-format --ref-format";

/// The words of a space-separated list.
fn words(list: &str) -> Vec<&str> {
    list.split_whitespace().collect()
}

/// What git subcommands create (or remove) at a path given as an operand: `clone URL DIR`,
/// `init DIR` (and `--separate-git-dir DIR` of both), `worktree add|remove PATH`, `worktree move
/// FROM TO`, `bundle create FILE`.
fn git_operand_writes(view: &CommandView<'_>) -> Vec<String> {
    let argv = &view.argv;
    let at = git_subcommand_at(argv);
    let Some(sub) = argv.get(at).map(String::as_str) else {
        return Vec::new();
    };
    // Operands after `at`, the values of the options in `valued` skipped (and kept apart when
    // the option names a directory it creates).
    let operands = |from: usize, valued: &str, creates: &str| {
        let (valued, creates) = (words(valued), words(creates));
        let (mut out, mut made) = (Vec::new(), Vec::new());
        let mut i = from;
        while i < argv.len() {
            let a = &argv[i];
            if a == "--" {
                out.extend(argv[i + 1..].iter().cloned());
                break;
            }
            if let Some((name, value)) = a.split_once('=')
                && creates.contains(&name)
            {
                made.push(value.to_owned());
            } else if valued.contains(&a.as_str()) {
                if creates.contains(&a.as_str())
                    && let Some(v) = argv.get(i + 1)
                {
                    made.push(v.clone());
                }
                i += 1;
            } else if !a.starts_with('-') || a == "-" {
                out.push(a.clone());
            }
            i += 1;
        }
        (out, made)
    };
    match sub {
        "clone" | "init" => {
            let (ops, mut made) = operands(
                at + 1,
                if sub == "clone" {
                    GIT_CLONE_VALUED
                } else {
                    GIT_INIT_VALUED
                },
                "--separate-git-dir",
            );
            // `clone URL DIR`, `init DIR`.
            made.extend(ops.get(usize::from(sub == "clone")).cloned());
            made
        }
        "worktree" | "bundle" => {
            let (ops, _) = operands(at + 1, "-b -B --reason --version", "");
            match (sub, ops.as_slice()) {
                ("worktree", [v, path, ..]) if v == "add" || v == "remove" => vec![path.clone()],
                ("worktree", [v, from, to, ..]) if v == "move" => vec![from.clone(), to.clone()],
                ("bundle", [v, file, ..]) if v == "create" => vec![file.clone()],
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

/// Every argument that might name a path the command reads: not the words its program's entry
/// says are text (`text`, see [`crate::operands`]).
fn possible_reads(argv: &[String], text: Vec<bool>) -> impl Iterator<Item = &str> {
    argv[1..]
        .iter()
        .enumerate()
        .filter(move |(i, _)| !text.get(i + 1).copied().unwrap_or(false))
        .flat_map(|(_, a)| {
            let whole = if !a.starts_with('-') {
                (!a.is_empty() && !a.contains('\n')).then_some(a.as_str())
            } else {
                a.split_once('=')
                    .map(|(_, v)| v)
                    .filter(|v| v.contains('/') || v.starts_with('~') || v.starts_with('.'))
            };
            // A file named by reference, whose content is sent: `@FILE` (`curl -d @FILE`, `gh api
            // -F x=@FILE`, httpie) and `NAME=@FILE` or `NAME=<FILE` (`curl -F`).
            let referenced = a
                .strip_prefix('@')
                .or_else(|| a.split_once("=@").map(|(_, f)| f))
                .or_else(|| a.split_once("=<").map(|(_, f)| f))
                .filter(|f| !f.is_empty() && !f.contains('\n') && *f != "-");
            whole.into_iter().chain(referenced)
        })
}

/// Whether a `git` command looks only at the names of the paths it is given, never at their
/// content, so that they are not reads (`git rm --cached .env` and `git check-ignore .env`, what
/// an agent runs to untrack a committed secret, were `sync` as reads of it):
///
/// | subcommand | when |
/// |---|---|
/// | `check-ignore`, `check-attr`, `ls-files`, `status` | always |
/// | `rm` | with `--cached` (the index only) |
/// | `restore` | with `--staged` and not `--worktree`/`-W` (the index only) |
/// | `log` | without an option that shows or searches content (`-p`, `-u`, `-L`, `-S`, `-G`, `-U`, `-W`, `--patch*`, `--word-diff*`, `--color-words*`, `--unified*`, `--cc`, `-c`, `--full-diff`, `--ext-diff`, `--textconv`, `--function-context`) |
fn git_names_only(argv: &[String]) -> bool {
    let at = git_subcommand_at(argv);
    let rest = argv.get(at + 1..).unwrap_or_default();
    let has = |flags: &[&str]| {
        rest.iter()
            .take_while(|a| *a != "--")
            .any(|a| flags.contains(&a.as_str()))
    };
    match argv.get(at).map(String::as_str) {
        Some("check-ignore" | "check-attr" | "ls-files" | "status") => true,
        Some("rm") => has(&["--cached"]),
        Some("restore") => has(&["--staged", "-S"]) && !has(&["--worktree", "-W"]),
        Some("log") => !rest.iter().take_while(|a| *a != "--").any(|a| {
            [
                "-p",
                "-u",
                "-L",
                "-S",
                "-G",
                "-U",
                "-W",
                "--patch",
                "--word-diff",
                "--color-words",
                "--unified",
            ]
            .iter()
            .any(|o| a.starts_with(o))
                || matches!(
                    a.as_str(),
                    "--cc"
                        | "-c"
                        | "--full-diff"
                        | "--ext-diff"
                        | "--textconv"
                        | "--function-context"
                )
        }),
        _ => false,
    }
}

/// Files a command reads that are named inside a word rather than by it:
///
/// | program | word | file |
/// |---|---|---|
/// | `git` | `REV:PATH`, `:PATH`, `:N:PATH` (`git show HEAD:.env`, `git cat-file -p main:x.pem`) | `PATH`: git prints its committed content, a read of the file as much as `cat .env` is |
/// | `dd` | `if=PATH` | `PATH` |
///
/// git's `PATH` is relative to the repository's root, which classification takes the working
/// directory for (what credential globs match is the file's name); a URL or `user@host:path` is
/// not one.
fn implied_reads<'a>(view: &CommandView<'a>) -> impl Iterator<Item = &'a str> {
    let args = &view.argv[1..];
    let git = view.program == "git";
    let dd = view.program == "dd";
    args.iter().filter_map(move |a| {
        if dd {
            return a.strip_prefix("if=").filter(|p| !p.is_empty());
        }
        if !git {
            return None;
        }
        if a.starts_with('-') || a.contains("://") || a.contains('\n') {
            return None;
        }
        let (rev, path) = a.split_once(':')?;
        if rev.contains('@') && !rev.contains("@{") {
            return None;
        }
        // `:N:path`: the index's stage N.
        let path = match path.split_once(':') {
            Some((stage, p)) if rev.is_empty() && matches!(stage, "0" | "1" | "2" | "3") => p,
            _ => path,
        };
        (!path.is_empty() && !path.starts_with('/')).then_some(path)
    })
}

/// `git` with its global options understood: `-C dir` moves the working directory, and
/// `-c alias.NAME=VALUE` defines aliases that are expanded before matching.
enum GitExpansion {
    Argv(Vec<String>, Option<String>),
    Shell(String, Option<String>),
}

/// git's global options before the subcommand, each with its value when it takes one (`-C
/// dir`, `-c k=v`, `--git-dir DIR`, …).
fn git_globals(argv: &[String]) -> Vec<(&String, Option<&String>)> {
    let mut out = Vec::new();
    let mut i = 1;
    while i < argv.len() && argv[i].starts_with('-') {
        let takes_value = matches!(
            argv[i].as_str(),
            "-C" | "-c"
                | "--git-dir"
                | "--work-tree"
                | "--namespace"
                | "--exec-path"
                | "--config-env"
                | "--super-prefix"
                | "--list-cmds"
                | "--attr-source"
        );
        out.push((&argv[i], argv.get(i + 1).filter(|_| takes_value)));
        i += 1 + usize::from(takes_value);
    }
    out
}

/// Where git's subcommand stands in `argv`: after its global options ([`git_globals`]);
/// `argv.len()` when there is none.
fn git_subcommand_at(argv: &[String]) -> usize {
    git_globals(argv)
        .iter()
        .map(|(_, value)| 1 + usize::from(value.is_some()))
        .sum::<usize>()
        + 1
}

fn expand_git(argv: &[String]) -> GitExpansion {
    let mut aliases: Vec<(String, String)> = Vec::new();
    let mut cwd: Option<String> = None;
    let globals_end = git_subcommand_at(argv);
    for (option, value) in git_globals(argv) {
        match (option.as_str(), value) {
            ("-C", Some(d)) => {
                cwd = Some(match cwd {
                    Some(c) if !d.starts_with('/') => format!("{c}/{d}"),
                    _ => d.clone(),
                });
            }
            ("-c", Some(kv)) => {
                if let Some((k, v)) = kv.split_once('=')
                    && let Some(name) = k.strip_prefix("alias.")
                {
                    aliases.push((name.to_ascii_lowercase(), v.to_owned()));
                }
            }
            _ => {}
        }
    }
    let Some(sub) = argv.get(globals_end) else {
        return GitExpansion::Argv(argv.to_vec(), cwd);
    };
    if let Some((_, value)) = aliases
        .iter()
        .rev()
        .find(|(n, _)| *n == sub.to_ascii_lowercase())
    {
        let rest = argv[globals_end + 1..].join(" ");
        if let Some(shell) = value.strip_prefix('!') {
            return GitExpansion::Shell(format!("{shell} {rest}"), cwd);
        }
        let mut out: Vec<String> = argv[..globals_end].to_vec();
        out.extend(value.split_whitespace().map(str::to_owned));
        out.extend(argv[globals_end + 1..].iter().cloned());
        return GitExpansion::Argv(out, cwd);
    }
    GitExpansion::Argv(git_config_verbs(argv, globals_end), cwd)
}

/// git 2.46's `git config VERB …` read as the options it stands for, so that one set of rules
/// judges both forms: `get` is `--get`, `list` `--list`, `unset` `--unset`, `edit` `--edit`,
/// `rename-section`/`remove-section` their options, and `set NAME VALUE` is `NAME VALUE`.
fn git_config_verbs(argv: &[String], sub_at: usize) -> Vec<String> {
    let verb_at = sub_at + 1;
    let option = match (argv.get(sub_at), argv.get(verb_at)) {
        (Some(sub), Some(verb)) if sub == "config" => match verb.as_str() {
            "get" | "list" | "unset" | "edit" | "rename-section" | "remove-section" => {
                Some(format!("--{verb}"))
            }
            "set" => None,
            _ => return argv.to_vec(),
        },
        _ => return argv.to_vec(),
    };
    let mut out = argv[..verb_at].to_vec();
    out.extend(option);
    out.extend(argv[verb_at + 1..].iter().cloned());
    out
}

impl Policy {
    /// Classify one action. Pure: no file system, network or clock access.
    pub fn classify(&self, action: &Action, ctx: &Context) -> Decision {
        self.classify_inner(action, ctx, &mut Trace::new(false, &NoFiles))
    }

    /// Classify with lookahead: scripts and named tasks of the workspace that the action runs
    /// (`bash deploy.sh`, `./x.sh`, `source env.sh`, `npm test`, `make deploy`) are read
    /// through `files` and their commands judged as part of the action, their reasons naming
    /// file and line. Still pure: all reading goes through `files`.
    pub fn classify_with(
        &self,
        action: &Action,
        ctx: &Context,
        files: &dyn WorkspaceReader,
    ) -> Decision {
        self.classify_inner(action, ctx, &mut Trace::new(false, files))
    }

    /// [`Policy::explain`] with lookahead (see [`Policy::classify_with`]).
    pub fn explain_with(
        &self,
        action: &Action,
        ctx: &Context,
        files: &dyn WorkspaceReader,
    ) -> (Decision, Vec<String>) {
        let mut trace = Trace::new(true, files);
        let d = self.classify_inner(action, ctx, &mut trace);
        (d, trace.notes.unwrap_or_default())
    }

    /// Classify and return the match trace a person reads in `warden policy explain`.
    pub fn explain(&self, action: &Action, ctx: &Context) -> (Decision, Vec<String>) {
        self.explain_with(action, ctx, &NoFiles)
    }

    fn classify_inner(&self, action: &Action, ctx: &Context, trace: &mut Trace<'_>) -> Decision {
        let mut commands = Vec::new();
        match action {
            Action::Exec { argv, cwd } => {
                let cwd = cwd
                    .as_deref()
                    .map(|c| resolve(&c.to_string_lossy(), &ctx.cwd, &ctx.home));
                let cwd = cwd.as_deref().unwrap_or(&ctx.cwd);
                trace.note(|| format!("exec argv {argv:?} in {}", cwd.display()));
                if let Some(name) = fork_bomb(&argv.join(" ")) {
                    trace.note(|| {
                        format!("function `{name}` pipes into itself in the background: fork bomb")
                    });
                    let v =
                        Verdict::new(Tier::Deny, "builtin.fork-bomb", "catastrophic", "fork bomb");
                    commands.push(to_command(argv.clone(), v, Vec::new(), None, false));
                }
                let analysis = warden_shell::analyse_argv(argv);
                self.classify_analysis(&analysis, None, cwd, ctx, 0, trace, &mut commands);
            }
            Action::Shell { script, cwd } => {
                let cwd = cwd
                    .as_deref()
                    .map(|c| resolve(&c.to_string_lossy(), &ctx.cwd, &ctx.home));
                let cwd = cwd.as_deref().unwrap_or(&ctx.cwd);
                trace.note(|| format!("shell text {script:?} in {}", cwd.display()));
                if let Some(name) = fork_bomb(script) {
                    trace.note(|| {
                        format!("function `{name}` pipes into itself in the background: fork bomb")
                    });
                    let v =
                        Verdict::new(Tier::Deny, "builtin.fork-bomb", "catastrophic", "fork bomb");
                    commands.push(to_command(vec![script.clone()], v, Vec::new(), None, false));
                }
                let analysis = warden_shell::analyse_shell(script);
                self.classify_analysis(&analysis, Some(script), cwd, ctx, 0, trace, &mut commands);
            }
            Action::Read { path, recursive } => {
                let v = self.classify_path_action(path, false, *recursive, ctx, trace);
                let verb = if *recursive { "search" } else { "read" };
                commands.push(single(verb, path, v));
            }
            Action::Write { path } => {
                let v = self.classify_path_action(path, true, false, ctx, trace);
                commands.push(single("write", path, v));
            }
            Action::Net {
                host,
                port,
                method,
                path,
                service,
            } => {
                let facts = crate::matcher::NetFacts {
                    host,
                    port: *port,
                    method: method.as_deref(),
                    path: path.as_deref(),
                    service: service.as_deref(),
                };
                let v = self.classify_net(&facts, trace);
                let mut argv = vec!["net".to_owned()];
                argv.extend(method.clone());
                argv.push(match port {
                    Some(p) => format!("{host}:{p}{}", path.as_deref().unwrap_or("")),
                    None => format!("{host}{}", path.as_deref().unwrap_or("")),
                });
                commands.push(to_command(argv, v, Vec::new(), None, false));
            }
            Action::Tool { name, .. } => {
                let v = self.classify_tool(name, trace);
                commands.push(to_command(
                    vec!["tool".into(), name.clone()],
                    v,
                    Vec::new(),
                    None,
                    false,
                ));
            }
        }
        let mut decision = summarise(commands);
        decision.named = std::mem::take(&mut trace.named);
        trace.named_reads.clear();
        trace.named_writes.clear();
        decision
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "recursion state for nested analyses"
    )]
    fn classify_analysis(
        &self,
        analysis: &Analysis,
        text: Option<&str>,
        cwd: &Path,
        ctx: &Context,
        depth: usize,
        trace: &mut Trace<'_>,
        out: &mut Vec<CommandDecision>,
    ) {
        for o in &analysis.opaque {
            trace.note(|| format!("opaque: {} ({:?})", o.reason, o.text));
            let v = Verdict::new(
                self.defaults.opaque,
                "builtin.opaque",
                "opaque",
                format!("cannot be analysed: {}", o.reason),
            );
            out.push(to_command(
                vec![o.text.clone()],
                v,
                Vec::new(),
                Some(o.span),
                true,
            ));
        }
        if analysis.commands.is_empty()
            && analysis.opaque.is_empty()
            && let Some(t) = text
            && !t.trim().is_empty()
            && !t.trim().starts_with('#')
        {
            trace.note(|| "nothing recognisable in the text".into());
        }
        // `find ROOTS … -exec CMD {} ;` runs CMD on what lies under ROOTS: judge CMD with `{}`
        // standing for each root, which is what makes `find / -exec rm -rf {} +` catastrophic,
        // and for what the expression's name patterns select (`find_placeholder_values`); the
        // same for `fd … -x CMD` and the directories fd searches (`fd_search_paths`).
        let mut find_values: Vec<String> = Vec::new();
        for cmd in &analysis.commands {
            let program = cmd.argv.first().map(|a| program_basename(a)).unwrap_or("");
            if program == "find" {
                find_values = find_placeholder_values(&cmd.argv);
            } else if program == "fd" || program == "fdfind" {
                find_values = fd_search_paths(&cmd.argv);
            }
            let wrapper = cmd.wrappers.last();
            let from_find = wrapper.is_some_and(|w| w.starts_with("find"));
            // fd's command stays dynamic: no rule knows what fd's own filters select, as the
            // find rules do for find (`fd -e tmp -x rm` is an `rm` of unknown paths).
            let from_fd = wrapper.is_some_and(|w| w.starts_with("fd "));
            if (from_find || from_fd)
                && !find_values.is_empty()
                && cmd.argv.iter().any(|a| a.contains("{}"))
            {
                let otherwise_static =
                    from_find && !cmd.argv.iter().any(|a| a.contains('$') || a.contains('`'));
                for value in &find_values {
                    let mut c = cmd.clone();
                    for a in &mut c.argv {
                        *a = a.replace("{}", value);
                    }
                    if otherwise_static {
                        c.dynamic = false;
                    }
                    trace.note(|| format!("`{{}}` stands for {value}"));
                    self.classify_command(&c, cwd, ctx, depth, trace, out);
                }
                continue;
            }
            self.classify_command(cmd, cwd, ctx, depth, trace, out);
            if let (Some(text), [path], None) = (&cmd.content, cmd.writes.as_slice(), &cmd.remote) {
                let dir = match &cmd.cwd {
                    Some(c) => resolve(c, cwd, &ctx.home),
                    None => cwd.to_path_buf(),
                };
                let file = crate::paths::normalise(&resolve(path, &dir, &ctx.home));
                trace.note(|| {
                    format!(
                        "lookahead: {} is read as this text writes it",
                        file.display()
                    )
                });
                trace.written.insert(file, text.clone());
            }
        }
    }

    fn classify_command(
        &self,
        cmd: &Command,
        start_cwd: &Path,
        ctx: &Context,
        depth: usize,
        trace: &mut Trace<'_>,
        out: &mut Vec<CommandDecision>,
    ) {
        if cmd.argv.is_empty() {
            return;
        }
        // A command run on another machine or in a container (`ssh HOST CMD`, `docker exec`):
        // judged as unsandboxed, with nothing of it inside our workspace, starting in the home
        // directory, and at least `async` because it acts outside any sandbox of ours.
        let remote_ctx;
        let (ctx, start_cwd) = match &cmd.remote {
            Some(_) => {
                remote_ctx = Context {
                    workspace: PathBuf::from(REMOTE_WORKSPACE),
                    cwd: ctx.home.clone(),
                    home: ctx.home.clone(),
                    sandboxed: false,
                };
                (&remote_ctx, remote_ctx.home.as_path())
            }
            None => (ctx, start_cwd),
        };
        let mut cwd = match &cmd.cwd {
            Some(c) => resolve(c, start_cwd, &ctx.home),
            None => start_cwd.to_path_buf(),
        };
        let mut argv = cmd.argv.clone();
        if program_basename(&argv[0]) == "git" && depth < warden_shell::MAX_DEPTH {
            match expand_git(&argv) {
                GitExpansion::Argv(a, dir) => {
                    if let Some(d) = dir {
                        cwd = resolve(&d, &cwd, &ctx.home);
                    }
                    if a != argv {
                        trace.note(|| format!("git alias expanded: {a:?}"));
                    }
                    argv = a;
                }
                GitExpansion::Shell(script, dir) => {
                    if let Some(d) = dir {
                        cwd = resolve(&d, &cwd, &ctx.home);
                    }
                    trace.note(|| format!("git alias runs a shell command: {script:?}"));
                    let inner = warden_shell::analyse_shell(&script);
                    let before = out.len();
                    self.classify_analysis(&inner, Some(&script), &cwd, ctx, depth + 1, trace, out);
                    for c in &mut out[before..] {
                        c.wrappers.insert(0, "git alias".into());
                        c.wrappers.splice(0..0, cmd.wrappers.iter().cloned());
                        c.span = Some([cmd.span.start, cmd.span.end]);
                    }
                    return;
                }
            }
        }
        let forms = PathForms {
            cwd: &cwd,
            home: &ctx.home,
            workspace: &ctx.workspace,
        };
        let mut view = CommandView::new(&argv, cmd.elevated, &self.programs);
        view.resolver = Some(&forms);
        view.sandboxed = ctx.sandboxed;
        view.env = &cmd.env;
        let mut v = self.verdict_for_view(&view, cmd, &forms, ctx, trace);
        if v.tier < Tier::Deny && self.asks_for_help(&view) {
            trace.note(|| format!("`{}` is asked for help or its version only", view.program));
            v = Verdict::new(
                Tier::Auto,
                "builtin.help",
                "read",
                format!(
                    "`{}` prints help or its version and does nothing else",
                    view.program
                ),
            );
        }
        if let Some(target) = &cmd.remote {
            trace.note(|| format!("runs on another machine or container: {target}"));
            if v.tier < Tier::Async {
                v = Verdict::new(
                    Tier::Async,
                    "builtin.remote",
                    "remote-exec",
                    format!("runs through {target}, outside any sandbox of this machine"),
                );
            }
        }
        let target =
            lookahead::target(&argv, &view.program, view.raw_program, &cwd).or_else(|| {
                // `uv run tool.py`: uv hands a script file to Python.
                let by_runner = cmd.wrappers.last().is_some_and(|w| w == "uv");
                let script = argv.first().filter(|a| a.ends_with(".py"))?;
                by_runner.then_some(())?;
                let as_python: Vec<String> = std::iter::once("python".to_owned())
                    .chain(std::iter::once(script.clone()))
                    .chain(argv[1..].iter().cloned())
                    .collect();
                lookahead::target(&as_python, "python", "python", &cwd)
            });
        out.push(to_command(
            argv.clone(),
            v,
            cmd.wrappers.clone(),
            Some(cmd.span),
            false,
        ));
        if let Some(t) = target
            && cmd.remote.is_none()
            && out.last().is_none_or(|c| c.rule != "builtin.help")
        {
            self.lookahead(&t, cmd, ctx, depth, trace, out);
        }
    }

    /// Reads what `cmd` runs from the workspace and classifies it as part of the action.
    fn lookahead(
        &self,
        t: &lookahead::Target,
        cmd: &Command,
        ctx: &Context,
        depth: usize,
        trace: &mut Trace<'_>,
        out: &mut Vec<CommandDecision>,
    ) {
        if trace.reading.len() >= lookahead::MAX_LOOKAHEAD_DEPTH {
            trace.note(|| "lookahead: nested too deeply, not followed".into());
            return;
        }
        let files = Written {
            files: trace.files,
            written: &trace.written,
        };
        let pieces = match lookahead::pieces(t, &files, &ctx.workspace, &mut trace.budget) {
            Ok(p) => p,
            Err(why) if why.is_empty() => return,
            Err(why) => {
                trace.note(|| format!("lookahead: {} not read: {why}", t.describe()));
                if !why.starts_with("no such file")
                    && !why.starts_with("no Makefile")
                    && !why.starts_with(lookahead::NOT_IN_WORKSPACE)
                {
                    // The command keeps its own tier; the note says what was not seen.
                    out.push(to_command(
                        vec![t.describe()],
                        Verdict::new(
                            Tier::Auto,
                            "builtin.lookahead-unread",
                            "lookahead",
                            format!("not read ahead ({why}); judged by the command alone"),
                        ),
                        cmd.wrappers.clone(),
                        Some(cmd.span),
                        false,
                    ));
                }
                return;
            }
        };
        for p in pieces {
            if trace.reading.contains(&p.file) {
                trace.note(|| format!("lookahead: {} runs itself; not followed again", p.file));
                continue;
            }
            trace.note(|| format!("lookahead: reading {} from line {}", p.file, p.line));
            trace.reading.push(p.file.clone());
            let mut analysis = warden_shell::analyse_shell(&p.text);
            if p.code {
                // A process a script's code computes at run time is judged when it execs.
                analysis.opaque.clear();
            }
            let before = out.len();
            out.reserve(analysis.commands.len() + analysis.opaque.len());
            self.classify_analysis(&analysis, Some(&p.text), &p.cwd, ctx, depth + 1, trace, out);
            trace.reading.pop();
            // Byte offsets where lines start, to name each command's line.
            let starts: Vec<usize> = std::iter::once(0)
                .chain(p.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect();
            let wrapper = format!("lookahead {}", p.file);
            for c in &mut out[before..] {
                if c.source.is_none() {
                    let at = c.span.map_or(0, |[s, _]| s);
                    let line = p.line + starts.partition_point(|&s| s <= at).saturating_sub(1);
                    c.source = Some(format!("{}:{line}", p.file));
                }
                c.span = Some([cmd.span.start, cmd.span.end]);
                c.wrappers.insert(0, wrapper.clone());
            }
        }
    }

    /// Whether every run-time value of `cmd` is one word given to one of its program's
    /// `text_options` (see [`ProgramSpec`]): `git commit -m "$MSG"`, `-m"$MSG"`,
    /// `--message="$MSG"`.
    fn dynamic_is_text(&self, view: &CommandView<'_>, cmd: &Command) -> bool {
        let Some(spec) = self.programs.get(&view.program) else {
            return false;
        };
        if (spec.text_options.is_empty() && !spec.target_operand) || cmd.one_word_dynamic.is_empty()
        {
            return false;
        }
        // The first operand, when only options known to take a value come before it (after
        // another option, a word may be that option's value: `psql -c "$SQL"`).
        let target = spec
            .target_operand
            .then(|| {
                let mut i = 1;
                while let Some(w) = cmd.argv.get(i) {
                    if !w.starts_with('-') {
                        return Some(i);
                    }
                    let takes_value = spec.value_options.iter().any(|o| o == w)
                        || spec.text_options.iter().any(|o| o == w);
                    if !takes_value {
                        return None;
                    }
                    i += 2;
                }
                None
            })
            .flatten();
        cmd.one_word_dynamic.iter().all(|&i| {
            let word = cmd.argv.get(i).map_or("", String::as_str);
            let prev = i.checked_sub(1).and_then(|p| cmd.argv.get(p));
            Some(i) == target
                || spec.text_options.iter().any(|o| {
                    prev == Some(o)
                        || if o.starts_with("--") {
                            word.strip_prefix(o.as_str())
                                .is_some_and(|r| r.starts_with('='))
                        } else {
                            o.len() == 2 && word.len() > 2 && word.starts_with(o.as_str())
                        }
                })
        })
    }

    /// Which words of the command are text rather than possible paths (see
    /// [`crate::operands`]): by its program's entry; every word of a git command that looks
    /// only at names ([`git_names_only`]); `git grep`'s words as `grep`'s entry says (its
    /// pattern: `git grep -n '.env'`).
    fn text_words(&self, view: &CommandView<'_>) -> Vec<bool> {
        if view.program != "git" {
            return crate::operands::text_words(view.argv, self.programs.get(&view.program));
        }
        if git_names_only(view.argv) {
            return vec![true; view.argv.len()];
        }
        let at = git_subcommand_at(view.argv);
        match view.argv.get(at).map(String::as_str) {
            Some("grep") => {
                let sub = crate::operands::text_words(&view.argv[at..], self.programs.get("grep"));
                if sub.is_empty() {
                    return sub;
                }
                let mut text = vec![false; at];
                text.extend(sub);
                text
            }
            _ => Vec::new(),
        }
    }

    /// Whether the command carries one of its program's `help_flags` (see [`ProgramSpec`]).
    fn asks_for_help(&self, view: &CommandView<'_>) -> bool {
        let Some(spec) = self.programs.get(&view.program) else {
            return false;
        };
        if spec.help_flags.is_empty() {
            return false;
        }
        let args = &view.argv[1..];
        for (i, a) in args.iter().enumerate() {
            if a == "--" {
                return false;
            }
            if view.not_options.get(i).copied().unwrap_or(false) {
                continue;
            }
            let last = i + 1 == args.len();
            if spec
                .help_flags
                .iter()
                .any(|f| f == a && (f.starts_with('-') || last))
            {
                return true;
            }
        }
        false
    }

    fn verdict_for_view(
        &self,
        view: &CommandView<'_>,
        cmd: &Command,
        forms: &PathForms<'_>,
        ctx: &Context,
        trace: &mut Trace<'_>,
    ) -> Verdict {
        // Ordinary rules: every match counts, unless an override rule matches.
        let mut ordinary: Vec<(Verdict, bool)> = Vec::new();
        let mut floor: Option<Verdict> = None;
        let mut program_known = false;
        let first = view.positionals.first().copied();
        for i in self.rules.for_programs(&view.program, view.raw_program) {
            if !self.rules.may_match_subcommand(i, first) {
                continue;
            }
            let r = self.rules.get(i);
            if r.matches_command(view) {
                trace.note(|| format!("rule `{}` matches → {}", r.id, r.tier));
                program_known = true;
                if r.tier == Tier::Deny {
                    floor = Some(strictest(floor, Verdict::from_rule(r)));
                }
                ordinary.push((Verdict::from_rule(r), r.override_));
            }
        }
        for i in self.floors.for_programs(&view.program, view.raw_program) {
            if !self.floors.may_match_subcommand(i, first) {
                continue;
            }
            let r = self.floors.get(i);
            if r.matches_command(view) {
                trace.note(|| format!("never-auto `{}` matches → at least {}", r.id, r.tier));
                floor = Some(strictest(floor, Verdict::from_rule(r)));
            }
        }

        // Paths the command touches: reads, then writes.
        let implied = implied_writes(view, self.programs.get(&view.program));
        let writes = cmd
            .writes
            .iter()
            .chain(&implied)
            .map(String::as_str)
            .filter(|w| !is_pseudo_device(w));
        let reads = cmd
            .reads
            .iter()
            .map(String::as_str)
            .chain(possible_reads(view.argv, self.text_words(view)))
            .chain(implied_reads(view));
        // Remembered for the commands of files read ahead (scripts name the same paths over
        // and over); a single command line seldom repeats one, and remembering costs a copy.
        let memo = (trace.notes.is_none() && !trace.reading.is_empty())
            .then(|| trace.path_memo_index(forms.cwd, &ctx.workspace));
        let trees = reads_trees(view);
        for (raw, is_write) in reads.map(|p| (p, false)).chain(writes.map(|p| (p, true))) {
            let tree = trees && !is_write;
            let (o, f) = self.path_access(raw, is_write, tree, memo, forms, ctx, trace);
            ordinary.extend(o);
            if let Some(f) = f {
                floor = Some(strictest(floor, f));
            }
        }

        if !program_known {
            let tier = if ctx.sandboxed {
                self.defaults.unknown_sandboxed
            } else {
                self.defaults.unknown_unsandboxed
            };
            trace.note(|| {
                format!(
                    "no rule knows `{}` → {tier} ({})",
                    view.program,
                    if ctx.sandboxed {
                        "sandboxed"
                    } else {
                        "unsandboxed"
                    }
                )
            });
            ordinary.push((
                Verdict::new(
                    tier,
                    if ctx.sandboxed {
                        "builtin.unknown-sandboxed"
                    } else {
                        "builtin.unknown-unsandboxed"
                    },
                    "unknown",
                    format!(
                        "no rule knows `{}`; unknown commands are `{tier}` when {}",
                        view.program,
                        if ctx.sandboxed {
                            "sandboxed"
                        } else {
                            "not sandboxed"
                        }
                    ),
                ),
                false,
            ));
        }
        if cmd.dynamic
            && self.defaults.opaque_when_dynamic.contains(&view.program)
            && !self.dynamic_is_text(view, cmd)
        {
            trace.note(|| {
                format!(
                    "`{}` gets arguments only known at run time → opaque",
                    view.program
                )
            });
            floor = Some(strictest(
                floor,
                Verdict::new(
                    self.defaults.opaque,
                    "builtin.opaque-dynamic",
                    "opaque",
                    format!(
                        "`{}` runs on arguments only known at run time",
                        view.program
                    ),
                ),
            ));
        }

        combine(ordinary, floor, trace, || {
            Verdict::new(Tier::Auto, "builtin.none", "general", "nothing matched")
        })
    }

    /// Verdicts for a path argument `raw` of a command: ordinary (with override flags) and a
    /// floor, from the memo at index `memo` of the trace when there is one. A `tree` read reads
    /// every file below the path.
    #[allow(
        clippy::too_many_arguments,
        reason = "the memo and the trace are threaded through every path access"
    )]
    fn path_access(
        &self,
        raw: &str,
        is_write: bool,
        tree: bool,
        memo: Option<usize>,
        forms: &PathForms<'_>,
        ctx: &Context,
        trace: &mut Trace<'_>,
    ) -> (Vec<(Verdict, bool)>, Option<Verdict>) {
        // Tree reads are remembered apart (a key no argument can have).
        let key = if tree {
            std::borrow::Cow::Owned(format!("\0{raw}"))
        } else {
            std::borrow::Cow::Borrowed(raw)
        };
        let known = memo.and_then(|i| {
            let m = &trace.path_memo[i];
            if is_write { &m.writes } else { &m.reads }
                .get(key.as_ref())
                .cloned()
        });
        let outcome = match known {
            Some(o) => o,
            None => {
                let path = resolve(raw, forms.cwd, &ctx.home);
                let (ordinary, floor, named) =
                    self.path_verdicts(&path, is_write, tree, forms, ctx, trace);
                let o = PathOutcome {
                    path,
                    ordinary,
                    floor,
                    named,
                };
                if let Some(i) = memo {
                    let m = &mut trace.path_memo[i];
                    if is_write {
                        &mut m.writes
                    } else {
                        &mut m.reads
                    }
                    .insert(key.into_owned(), o.clone());
                }
                o
            }
        };
        trace.add_named(&outcome.path, outcome.named);
        (outcome.ordinary, outcome.floor)
    }

    /// Verdicts for one path access: ordinary (with override flags), a floor, and the list
    /// of named paths it belongs to. A `tree` read also matches the rules for paths below it.
    fn path_verdicts(
        &self,
        path: &Path,
        is_write: bool,
        tree: bool,
        forms: &PathForms<'_>,
        ctx: &Context,
        trace: &mut Trace<'_>,
    ) -> (Vec<(Verdict, bool)>, Option<Verdict>, Named) {
        let forms_text = forms.forms_of(path);
        let candidates = crate::wordglob::SplitPath::all(&forms_text);
        // A tree that holds the home directory (`/`, `/home`) holds what the `~/…` patterns name.
        let tree_forms = tree.then(|| {
            let mut f = forms_text.clone();
            if forms.home.starts_with(path) && !f.iter().any(|f| f == "~") {
                f.push("~".to_owned());
            }
            f
        });
        let hit = |r: &crate::matcher::CompiledRule| {
            r.matches_path(&candidates, is_write)
                || tree_forms.as_ref().is_some_and(|f| r.matches_below(f))
        };
        let mut ordinary = Vec::new();
        let mut floor: Option<Verdict> = None;
        for &i in self.rules.path.iter() {
            let r = self.rules.get(i);
            if hit(r) {
                trace.note(|| {
                    format!(
                        "rule `{}` matches path {}{} → {}",
                        r.id,
                        path.display(),
                        if tree {
                            " (every file below it is read)"
                        } else {
                            ""
                        },
                        r.tier
                    )
                });
                if r.tier == Tier::Deny {
                    floor = Some(strictest(floor, Verdict::from_rule(r)));
                }
                ordinary.push((Verdict::from_rule(r), r.override_));
            }
        }
        for &i in self.floors.path.iter() {
            let r = self.floors.get(i);
            if hit(r) {
                floor = Some(strictest(floor, Verdict::from_rule(r)));
            }
        }
        let mut named = Named::None;
        if !is_write && ctx.workspace != Path::new(REMOTE_WORKSPACE) {
            named = Named::Read;
        }
        if is_write {
            if ctx.workspace != Path::new(REMOTE_WORKSPACE) && is_within(path, &ctx.workspace) {
                named = Named::WriteInside;
            } else if !is_within(path, &ctx.workspace)
                && !self.defaults.scratch.is_match(&path.to_string_lossy())
            {
                trace.note(|| format!("write to {} is outside the workspace", path.display()));
                let v = if ctx.workspace == Path::new(REMOTE_WORKSPACE) {
                    // A write on another machine or in a container changes that system.
                    Verdict::new(
                        self.defaults.write_outside_workspace.max(Tier::Sync),
                        "builtin.remote-write",
                        "system-change",
                        format!("writes {} on another machine or container", path.display()),
                    )
                } else {
                    named = Named::WriteOutside;
                    Verdict::new(
                        self.defaults.write_outside_workspace,
                        "builtin.write-outside-workspace",
                        "write-outside-workspace",
                        format!("writes {} outside the workspace", path.display()),
                    )
                };
                ordinary.push((v, false));
            }
            for h in self.high_risk.get() {
                if candidates.iter().any(|c| h.globs.is_match_split(c)) {
                    trace.note(|| format!("high-risk path `{}` → at least {}", h.id, h.tier));
                    floor = Some(strictest(
                        floor,
                        Verdict::new(h.tier, &h.id, &h.category, h.reason.clone()),
                    ));
                }
            }
        }
        (ordinary, floor, named)
    }

    fn classify_path_action(
        &self,
        path: &Path,
        is_write: bool,
        tree: bool,
        ctx: &Context,
        trace: &mut Trace<'_>,
    ) -> Verdict {
        let abs = resolve(&path.to_string_lossy(), &ctx.cwd, &ctx.home);
        let forms = PathForms {
            cwd: &ctx.cwd,
            home: &ctx.home,
            workspace: &ctx.workspace,
        };
        let (ordinary, floor, named) = self.path_verdicts(&abs, is_write, tree, &forms, ctx, trace);
        trace.add_named(&abs, named);
        combine(ordinary, floor, trace, || {
            Verdict::new(
                Tier::Auto,
                if is_write {
                    "builtin.workspace-write"
                } else {
                    "builtin.read"
                },
                if is_write { "workspace-write" } else { "read" },
                if is_write {
                    "edits inside the workspace"
                } else {
                    "reads a file"
                },
            )
        })
    }

    fn classify_net(&self, facts: &crate::matcher::NetFacts<'_>, trace: &mut Trace<'_>) -> Verdict {
        let mut result: Option<Verdict> = None;
        let mut overrides: Option<Verdict> = None;
        for set in [&self.rules, &self.floors] {
            for &i in set.net.iter() {
                let r = set.get(i);
                if r.matches_net(facts) {
                    trace.note(|| format!("rule `{}` matches → {}", r.id, r.tier));
                    if r.override_ {
                        overrides = Some(strictest(overrides, Verdict::from_rule(r)));
                    } else {
                        result = Some(strictest(result, Verdict::from_rule(r)));
                    }
                }
            }
        }
        let floor = result.clone().filter(|v| v.tier == Tier::Deny);
        let mut v = overrides.or(result).unwrap_or_else(|| {
            Verdict::new(
                self.defaults.unknown_network,
                "builtin.unknown-network",
                "network",
                "no rule decides this request",
            )
        });
        if let Some(f) = floor {
            v = strictest(Some(f), v);
        }
        v
    }

    fn classify_tool(&self, name: &str, trace: &mut Trace<'_>) -> Verdict {
        let mut result: Option<Verdict> = None;
        for set in [&self.rules, &self.floors] {
            for &i in set.tool.iter() {
                let r = set.get(i);
                if r.matches_tool(name) {
                    trace.note(|| format!("rule `{}` matches → {}", r.id, r.tier));
                    result = Some(strictest(result, Verdict::from_rule(r)));
                }
            }
        }
        result.unwrap_or_else(|| {
            Verdict::new(
                self.defaults.unknown_tool,
                "builtin.unknown-tool",
                "tool",
                format!("no rule knows tool `{name}`"),
            )
        })
    }
}

/// The workspace a remote command is judged against: a path under a file, so no real path lies
/// within it and every write of a remote command counts as outside the workspace.
const REMOTE_WORKSPACE: &str = "/dev/null/remote-workspace";

/// What `{}` of a `find` command may stand for: each starting point, and, for each name or path
/// pattern its expression tests (`-name PAT`, `-iname`, `-path`, `-ipath`, `-wholename`,
/// `-iwholename`), the paths that pattern selects under each starting point, as globs: `ROOT/PAT`
/// and `ROOT/*/PAT` for a name (a level down stands for every level: what the path rules test is
/// the name; `*` skips dot directories, so that `find . -name '*.tmp' -exec rm {} +` is not taken
/// for an edit of `.git`), the pattern itself for a path. A starting point alone is a
/// read at large (`find . -exec cat {} +` as `grep -r x .`); `find . -name '.env*' -exec cat {}
/// +` reads `.env` files and must be judged so (its pattern, no longer taken for a path read by
/// `find` itself, would otherwise be seen nowhere). A pattern under `!`/`-not` is kept too: an
/// extra candidate can only make the command stricter.
fn find_placeholder_values(argv: &[String]) -> Vec<String> {
    let roots = find_start_paths(argv);
    let mut out = roots.clone();
    let mut words = argv.iter().skip(1);
    while let Some(w) = words.next() {
        let name = matches!(w.as_str(), "-name" | "-iname");
        let path = matches!(
            w.as_str(),
            "-path" | "-ipath" | "-wholename" | "-iwholename"
        );
        if !(name || path) {
            continue;
        }
        let Some(pattern) = words.next() else { break };
        if path {
            out.push(pattern.clone());
            continue;
        }
        for root in &roots {
            let root = root.trim_end_matches('/');
            out.push(format!("{root}/{pattern}"));
            out.push(format!("{root}/*/{pattern}"));
        }
    }
    out.dedup();
    out
}

/// What `{}` of a command `fd` runs (`-x`, `-X`) may stand for: each directory fd searches, its
/// operands after the pattern and `--search-path` values (`.` when none), under
/// `--base-directory` when one is given (fd searches from there). Long options count in both
/// spellings (`--search-path DIR`, `--search-path=DIR`). An option that takes a value and is
/// missing here makes its value the pattern and the pattern a directory: one more candidate,
/// never one fewer.
fn fd_search_paths(argv: &[String]) -> Vec<String> {
    const VALUED: &[&str] = &[
        "-e",
        "--extension",
        "-E",
        "--exclude",
        "-t",
        "--type",
        "-d",
        "--max-depth",
        "--min-depth",
        "--exact-depth",
        "-S",
        "--size",
        "-j",
        "--threads",
        "--changed-within",
        "--changed-before",
        "--change-newer-than",
        "--change-older-than",
        "-o",
        "--owner",
        "--max-results",
        "-c",
        "--color",
        "--ignore-file",
        "--path-separator",
        "--batch-size",
        "--format",
    ];
    let mut paths = Vec::new();
    let mut base: Option<String> = None;
    let mut operands = 0;
    let mut words = argv.iter().skip(1);
    let mut options_done = false;
    while let Some(w) = words.next() {
        if !options_done && warden_shell::fd_exec_option(w).is_some() {
            break;
        }
        if options_done || !w.starts_with('-') {
            operands += 1;
            if operands > 1 {
                paths.push(w.clone());
            }
            continue;
        }
        if w == "--" {
            options_done = true;
            continue;
        }
        // `--name=VALUE` holds its value; otherwise a valued option takes the next word.
        let (name, inline) = match w.split_once('=') {
            Some((n, v)) if w.starts_with("--") => (n, Some(v.to_owned())),
            _ => (w.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| words.next().cloned());
        match name {
            "--search-path" => paths.extend(value()),
            "--base-directory" => base = value(),
            _ if VALUED.contains(&name) && inline.is_none() => {
                words.next();
            }
            _ => {}
        }
    }
    if paths.is_empty() {
        paths.push(".".into());
    }
    match base {
        Some(base) => paths
            .into_iter()
            .map(|p| {
                if p.starts_with('/') || p.starts_with('~') {
                    p
                } else if p == "." {
                    base.clone()
                } else {
                    format!("{}/{p}", base.trim_end_matches('/'))
                }
            })
            .collect(),
        None => paths,
    }
}

/// The starting points of a `find` command line (`.` when none is given).
fn find_start_paths(argv: &[String]) -> Vec<String> {
    let mut roots = Vec::new();
    for a in argv.iter().skip(1) {
        if a.starts_with('-') || a == "(" || a == "!" || a == ")" {
            if matches!(a.as_str(), "-H" | "-L" | "-P") {
                continue;
            }
            break;
        }
        roots.push(a.clone());
    }
    if roots.is_empty() {
        roots.push(".".into());
    }
    roots
}

/// A function that pipes into itself (`:(){ :|:& };:` and its renamings). Returns its name.
fn fork_bomb(text: &str) -> Option<String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = compact.as_bytes();
    let mut from = 0;
    while let Some(off) = compact[from..].find("(){") {
        let at = from + off;
        let start = compact[..at]
            .rfind([';', '&', '|', '(', ')', '{', '}', '\'', '"', '`', '\\'])
            .map(|i| i + 1)
            .unwrap_or(0);
        let name = compact[start..at].trim_start_matches("function");
        if !name.is_empty() {
            let body_start = at + 3;
            let mut depth = 1usize;
            let mut end = body_start;
            while end < bytes.len() && depth > 0 {
                match bytes[end] {
                    b'{' => depth += 1,
                    b'}' => depth -= 1,
                    _ => {}
                }
                end += 1;
            }
            let body = &compact[body_start..end.saturating_sub(1).max(body_start)];
            if body.contains(&format!("{name}|{name}")) {
                return Some(name.to_owned());
            }
        }
        from = at + 3;
    }
    None
}

fn is_pseudo_device(p: &str) -> bool {
    matches!(
        p,
        "/dev/null" | "/dev/stdout" | "/dev/stderr" | "/dev/tty" | "/dev/zero" | "-"
    ) || p.starts_with("/dev/fd/")
}

fn single(kind: &str, path: &Path, v: Verdict) -> CommandDecision {
    to_command(
        vec![kind.to_owned(), path.display().to_string()],
        v,
        Vec::new(),
        None,
        false,
    )
}

fn to_command(
    argv: Vec<String>,
    v: Verdict,
    wrappers: Vec<String>,
    span: Option<warden_shell::Span>,
    opaque: bool,
) -> CommandDecision {
    CommandDecision {
        argv,
        tier: v.tier,
        rule: v.rule,
        category: v.category,
        reason: v.reason,
        wrappers,
        span: span.map(|s| [s.start, s.end]),
        opaque,
        source: None,
    }
}

fn summarise(commands: Vec<CommandDecision>) -> Decision {
    let Some(top) = commands
        .iter()
        .max_by(|a, b| a.tier.cmp(&b.tier).then(std::cmp::Ordering::Greater))
    else {
        return Decision {
            tier: Tier::Auto,
            category: "general".into(),
            rule: "builtin.empty".into(),
            reasons: vec!["nothing to run".into()],
            commands,
            named: NamedPaths::default(),
        };
    };
    let tier = top.tier;
    let (category, rule) = (top.category.clone(), top.rule.clone());
    let mut reasons: Vec<String> = Vec::new();
    let mut ordered: Vec<&CommandDecision> = commands.iter().collect();
    ordered.sort_by_key(|c| std::cmp::Reverse(c.tier));
    for c in ordered {
        if c.tier < tier && tier > Tier::Auto && c.tier == Tier::Auto {
            continue;
        }
        let line = match &c.source {
            Some(src) => format!(
                "{src}: {}: {} [{}]",
                shorten(&c.argv.join(" ")),
                c.reason,
                c.rule
            ),
            None => format!("{}: {} [{}]", shorten(&c.argv.join(" ")), c.reason, c.rule),
        };
        if !reasons.contains(&line) {
            reasons.push(line);
        }
    }
    Decision {
        tier,
        category,
        rule,
        reasons,
        commands,
        named: NamedPaths::default(),
    }
}

fn shorten(s: &str) -> String {
    let s = s.replace('\n', "⏎");
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(79).collect::<String>())
    } else {
        s
    }
}
