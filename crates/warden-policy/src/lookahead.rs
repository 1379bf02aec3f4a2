//! Lookahead: a command that runs a script or a named task living in the workspace (`bash
//! deploy.sh`, `./x.sh`, `source env.sh`, `npm test`, `yarn build`, `make deploy`, `just
//! deploy`, `pixi run deploy`, …: see `tasks.rs`; `python3 tool.py`, `node x.js`: the processes
//! their code starts) is judged
//! together with what that file says it will run. Real agents, refused a command, write it
//! into a script and run the script; the runtime exec layer still enforces, but the early
//! decision and the approver's request should already name `deploy.sh:3: terraform apply`.
//! A script written by the same text before it runs (`cat <<'EOF' > deploy.sh … bash
//! deploy.sh`) is read as written (`Command::content`, served by the classifier's reader).
//!
//! Policy stays pure: files are read through a [`WorkspaceReader`] the caller provides, with a
//! size bound; nothing is executed (Makefiles are parsed here, `$(shell …)` is analysed as the
//! command it is, never run). A file that cannot be read, or is too large, leaves the command
//! at its own tier with a note.

use std::path::{Path, PathBuf};

/// Reads files of the workspace for lookahead. Implemented by the caller (policy does no I/O).
pub trait WorkspaceReader {
    /// The text of the file at `path` (absolute), at most `limit` bytes; `Err` says why not
    /// (missing, unreadable, larger than `limit`, not UTF-8).
    fn read(&self, path: &Path, limit: usize) -> Result<String, String>;

    /// The names of the directories in the directory `dir` (absolute), for finding a workspace
    /// package by its name; `Err` says why not. By default nothing is listed.
    fn subdirectories(&self, dir: &Path) -> Result<Vec<String>, String> {
        let _ = dir;
        Err("directories are not listed".into())
    }

    /// The names of the files (not directories) in the directory `dir` (absolute), for a script
    /// named by a shell glob (`bash *.sh`); `Err` says why not. By default nothing is listed.
    fn files(&self, dir: &Path) -> Result<Vec<String>, String> {
        let _ = dir;
        Err("files are not listed".into())
    }
}

/// The most files a script named by a shell glob is read as (see [`expand_script_glob`]).
const MAX_GLOB_SCRIPTS: usize = 8;

/// The files a script path whose name is a shell glob may be (`bash *.sh`, or a loop over
/// `scripts/*.sh` running each): the names in its directory the glob matches as the shell
/// expands it (a leading `.` only by a literal one), sorted. A path without a wildcard in its
/// name is itself; one with a wildcard in a directory is not expanded (read as it is, it is not
/// found). More than [`MAX_GLOB_SCRIPTS`] matches is an error (what they run is not judged).
fn expand_script_glob(path: &Path, reader: &dyn WorkspaceReader) -> Result<Vec<PathBuf>, String> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Ok(vec![path.to_path_buf()]);
    };
    let wild = crate::wordglob::has_wildcard;
    if !wild(name) || wild(&dir.to_string_lossy()) {
        return Ok(vec![path.to_path_buf()]);
    }
    let Ok(glob) = crate::wordglob::WordGlob::new(name, false) else {
        return Ok(vec![path.to_path_buf()]);
    };
    let mut names: Vec<String> = reader
        .files(dir)?
        .into_iter()
        .filter(|n| (name.starts_with('.') || !n.starts_with('.')) && glob.is_match(n))
        .collect();
    if names.is_empty() {
        // The shell passes the word unchanged.
        return Ok(vec![path.to_path_buf()]);
    }
    if names.len() > MAX_GLOB_SCRIPTS {
        return Err(format!(
            "{} names {} files (more than {MAX_GLOB_SCRIPTS} are not read ahead)",
            path.display(),
            names.len()
        ));
    }
    names.sort();
    Ok(names.into_iter().map(|n| dir.join(n)).collect())
}

/// No lookahead: every read fails quietly (what [`crate::Policy::classify`] uses).
pub(crate) struct NoFiles;

impl WorkspaceReader for NoFiles {
    fn read(&self, _: &Path, _: usize) -> Result<String, String> {
        Err(String::new())
    }
}

/// Files held in memory (tests, benchmarks, callers that already have the texts).
#[derive(Debug, Default, Clone)]
pub struct MemoryWorkspace {
    files: Vec<(PathBuf, String)>,
}

impl MemoryWorkspace {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a file.
    pub fn with(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        let path = path.into();
        self.files.retain(|(p, _)| *p != path);
        self.files.push((path, text.into()));
        self
    }
}

impl WorkspaceReader for MemoryWorkspace {
    fn read(&self, path: &Path, limit: usize) -> Result<String, String> {
        match self.files.iter().find(|(p, _)| p == path) {
            Some((_, t)) if t.len() > limit => Err(format!("larger than {limit} bytes")),
            Some((_, t)) => Ok(t.clone()),
            None => Err("no such file".into()),
        }
    }

    fn files(&self, dir: &Path) -> Result<Vec<String>, String> {
        Ok(self
            .files
            .iter()
            .filter(|(p, _)| p.parent() == Some(dir))
            .filter_map(|(p, _)| Some(p.file_name()?.to_string_lossy().into_owned()))
            .collect())
    }

    fn subdirectories(&self, dir: &Path) -> Result<Vec<String>, String> {
        let mut names: Vec<String> = self
            .files
            .iter()
            .filter_map(|(p, _)| p.strip_prefix(dir).ok())
            .filter_map(|rest| {
                let mut parts = rest.components();
                let first = parts.next()?;
                parts
                    .next()
                    .map(|_| first.as_os_str().to_string_lossy().into_owned())
            })
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }
}

/// The error of a target outside the workspace (`/usr/bin/git`): not read, and not worth a
/// note in the decision.
pub(crate) const NOT_IN_WORKSPACE: &str = "not in the workspace";

/// Largest file read for lookahead.
pub const MAX_FILE: usize = 256 * 1024;
/// Most bytes read for one classification, over every file.
pub(crate) const MAX_TOTAL: usize = 1024 * 1024;
/// Most files read (or tried) for one classification.
pub(crate) const MAX_FILES: usize = 64;
/// Nesting of lookahead (a script that runs a script …).
pub(crate) const MAX_LOOKAHEAD_DEPTH: usize = 4;

/// What one classification may still read ahead.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    /// Bytes, over every file.
    pub bytes: usize,
    /// Files read or tried.
    pub files: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            bytes: MAX_TOTAL,
            files: MAX_FILES,
        }
    }
}

/// One piece of shell text a looked-ahead file will run.
#[derive(Debug, Clone)]
pub(crate) struct Piece {
    /// The shell text.
    pub text: String,
    /// Where it comes from, for reasons: `deploy.sh`, `package.json`, `Makefile`.
    pub file: String,
    /// Line of the file where `text` starts (1-based).
    pub line: usize,
    /// Directory the text runs in.
    pub cwd: PathBuf,
    /// A script's code fed to its interpreter (see [`Target::Code`]): only the processes it
    /// starts with literal commands are judged ahead; one it computes at run time is left to
    /// the run-time exec layer, as the commands of any program are.
    pub code: bool,
}

/// What a command asks to run from the workspace.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    /// A shell script run or sourced (`bash x.sh`, `. x.sh`, `./x.sh` with a shell shebang).
    Script { path: PathBuf, needs_shebang: bool },
    /// package.json scripts, in the order they run; with `package`, those of the workspace
    /// package of that name (`npm run -w api deploy`, `yarn workspace api deploy`), found
    /// through the `workspaces` of `dir`'s package.json or `pnpm-workspace.yaml`.
    Npm {
        dir: PathBuf,
        package: Option<String>,
        scripts: Vec<String>,
    },
    /// Make goals (empty: the default goal); `dry_run` keeps only `$(shell …)` and `+` lines.
    Make {
        dir: PathBuf,
        file: Option<PathBuf>,
        goals: Vec<String>,
        vars: Vec<(String, String)>,
        dry_run: bool,
    },
    /// A task runner's named tasks (`just deploy`, `pixi run deploy`, …).
    Tasks(crate::tasks::Tasks),
    /// A Python, Node, Ruby or Perl script (`python3 tool.py`, `./tool` with such a shebang):
    /// judged by the processes its code starts. `interpreter` reads code on its input.
    Code {
        interpreter: &'static str,
        path: PathBuf,
    },
}

impl Target {
    /// The file this target reads, for notes.
    pub(crate) fn describe(&self) -> String {
        match self {
            Target::Script { path, .. } => path.display().to_string(),
            Target::Npm { dir, package, .. } => match package {
                Some(name) => format!(
                    "{} (workspace package {name})",
                    dir.join("package.json").display()
                ),
                None => dir.join("package.json").display().to_string(),
            },
            Target::Make { dir, file, .. } => file
                .clone()
                .unwrap_or_else(|| dir.join("Makefile"))
                .display()
                .to_string(),
            Target::Tasks(t) => t
                .file
                .clone()
                .unwrap_or_else(|| t.dir.join(t.runner.files()[0]))
                .display()
                .to_string(),
            Target::Code { path, .. } => path.display().to_string(),
        }
    }
}

fn join(dir: &Path, p: &str) -> PathBuf {
    crate::paths::normalise(&dir.join(p))
}

const SHELLS: &[&str] = &["bash", "sh", "zsh", "dash", "ksh", "mksh", "ash"];

/// The workspace target of a command (`argv`, canonical `program`, raw basename), if any.
pub(crate) fn target(argv: &[String], program: &str, raw: &str, cwd: &Path) -> Option<Target> {
    let first = argv.first()?;
    if SHELLS.contains(&program) {
        // `bash [options] FILE args`: the first operand is the script (no `-c`, no `-s`).
        let mut i = 1;
        while i < argv.len() {
            let a = argv[i].as_str();
            if a == "--" {
                i += 1;
                break;
            }
            if !a.starts_with('-') && !a.starts_with('+') {
                break;
            }
            if a.starts_with('-') && !a.starts_with("--") && (a.contains('c') || a.contains('s')) {
                return None;
            }
            if matches!(a, "-o" | "+o" | "-O" | "+O" | "--rcfile" | "--init-file") {
                i += 1;
            }
            i += 1;
        }
        let script = argv.get(i)?;
        return Some(Target::Script {
            path: join(cwd, script),
            needs_shebang: false,
        });
    }
    if matches!(program, "source" | ".") {
        return argv.get(1).map(|s| Target::Script {
            path: join(cwd, s),
            needs_shebang: false,
        });
    }
    if first.contains('/') {
        return Some(Target::Script {
            path: join(cwd, first),
            needs_shebang: true,
        });
    }
    if let Some(as_interpreter) = runner_script(argv, raw) {
        return code_script(&as_interpreter, &as_interpreter[0], cwd);
    }
    match program {
        "npm" => npm(argv, raw, cwd),
        "make" => make(argv, cwd),
        _ => code_script(argv, program, cwd)
            .or_else(|| crate::tasks::target(argv, program, cwd).map(Target::Tasks)),
    }
}

/// Tools that hand a script file to an interpreter, and the file names they take as one:
/// (runner, its words before the file, the interpreter whose scan reads it, file suffixes).
/// `npx tsx x.ts`, `bun run x.ts`, `deno run -A x.ts`, `pipx run tool.py`: read as that
/// interpreter reads the file. Options before the file are skipped (`--name=value` forms; one
/// taking a separate value would be taken for the file, whose suffix then does not match).
const SCRIPT_RUNNERS: &[(&str, &[&str], &str, &[&str])] = &[
    ("npx", &["tsx|ts-node|node"], "node", JS_SUFFIXES),
    ("pnpx", &["tsx|ts-node|node"], "node", JS_SUFFIXES),
    ("bunx", &["tsx|ts-node|node"], "node", JS_SUFFIXES),
    (
        "pnpm",
        &["dlx|exec", "tsx|ts-node|node"],
        "node",
        JS_SUFFIXES,
    ),
    ("pnpm", &["tsx|ts-node"], "node", JS_SUFFIXES),
    ("yarn", &["tsx|ts-node|node"], "node", JS_SUFFIXES),
    (
        "yarn",
        &["dlx|exec", "tsx|ts-node|node"],
        "node",
        JS_SUFFIXES,
    ),
    ("bun", &["run"], "node", JS_SUFFIXES),
    ("bun", &[], "node", JS_SUFFIXES),
    ("deno", &["run"], "node", JS_SUFFIXES),
    ("nodemon", &[], "node", JS_SUFFIXES),
    ("pipx", &["run"], "python", &[".py"]),
];

const JS_SUFFIXES: &[&str] = &[".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".tsx", ".jsx"];

/// The interpreter argv a script runner's command stands for (see [`SCRIPT_RUNNERS`]).
fn runner_script(argv: &[String], raw: &str) -> Option<Vec<String>> {
    // The words from `i` on, options skipped.
    let skip_options = |mut i: usize| {
        while argv.get(i).is_some_and(|a| a.starts_with('-')) {
            i += 1;
        }
        i
    };
    SCRIPT_RUNNERS
        .iter()
        .find_map(|(runner, words, interpreter, suffixes)| {
            if *runner != raw {
                return None;
            }
            let mut i = skip_options(1);
            for w in *words {
                let got = argv.get(i)?;
                if !w.split('|').any(|alt| alt == got) {
                    return None;
                }
                i = skip_options(i + 1);
            }
            let file = argv.get(i)?;
            suffixes.iter().any(|s| file.ends_with(s)).then(|| {
                std::iter::once(interpreter.to_string())
                    .chain(argv[i..].iter().cloned())
                    .collect()
            })
        })
}

/// The interpreters whose scripts are read ahead: (program, the invocation that reads code on
/// its input, inline-code options, options taking a value).
const INTERPRETERS: &[(&str, &str, &[&str], &[&str])] = &[
    ("python", "python3 -", &["-c", "-m"], &["-W", "-X"]),
    (
        "node",
        "node -",
        &["-e", "--eval", "-p", "--print"],
        &["-r", "--require", "--import", "--loader", "--env-file"],
    ),
    // TypeScript runners: their code is scanned as JavaScript (never run).
    (
        "tsx",
        "node -",
        &["-e", "--eval", "-p", "--print"],
        &["--tsconfig", "-r", "--require", "--import"],
    ),
    (
        "ts-node",
        "node -",
        &["-e", "--eval", "-p", "--print"],
        &[
            "-r",
            "--require",
            "-P",
            "--project",
            "-O",
            "--compiler-options",
        ],
    ),
    ("ruby", "ruby -", &["-e"], &["-r", "-I", "-C"]),
    ("perl", "perl -", &["-e", "-E"], &["-M", "-I", "-m"]),
];

/// `python3 tool.py`, `node x.js`, `ruby x.rb`, `perl x.pl`: the script file run (not `-c`
/// code, not a module, not code on the input).
fn code_script(argv: &[String], program: &str, cwd: &Path) -> Option<Target> {
    let (_, interpreter, inline, valued) = INTERPRETERS.iter().find(|(p, ..)| *p == program)?;
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].as_str();
        if inline
            .iter()
            .any(|o| a == *o || (o.len() == 2 && a.starts_with(o)))
        {
            return None;
        }
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with('-') || a == "-" {
            break;
        }
        i += if valued.contains(&a) { 2 } else { 1 };
    }
    let script = argv.get(i).filter(|s| *s != "-")?;
    Some(Target::Code {
        interpreter,
        path: join(cwd, script),
    })
}

/// The interpreter of a script's `#!` line, when it is one [`INTERPRETERS`] reads ahead.
fn code_shebang(text: &str) -> Option<&'static str> {
    let rest = text.lines().next()?.strip_prefix("#!")?;
    let mut words = rest.split_whitespace();
    let mut name = words.next()?.rsplit('/').next()?;
    if name == "env" {
        name = words.find(|w| !w.starts_with('-') && !w.contains('='))?;
    }
    let program = match name {
        n if n.starts_with("python") || n == "pypy3" => "python",
        n => n,
    };
    INTERPRETERS
        .iter()
        .find(|(p, ..)| *p == program)
        .map(|(_, invocation, ..)| *invocation)
}

/// The end of a script's text fed to its interpreter as a heredoc.
const CODE_END: &str = "WARDEN_LOOKAHEAD_CODE_END";

/// A script's code as shell text that feeds it to `interpreter` (so the analyser judges the
/// processes it starts, each named by its line: the code starts on the piece's second line).
fn code_piece(interpreter: &str, text: &str, file: String, cwd: PathBuf) -> Result<Piece, String> {
    if text.lines().any(|l| l == CODE_END) {
        return Err("it holds the marker lookahead ends code with".into());
    }
    Ok(Piece {
        text: format!("{interpreter} <<'{CODE_END}'\n{text}\n{CODE_END}\n"),
        file,
        line: 0,
        cwd,
        code: true,
    })
}

/// npm / yarn / pnpm / bun: which package.json scripts a command runs.
fn npm(argv: &[String], raw: &str, cwd: &Path) -> Option<Target> {
    let mut dir = cwd.to_path_buf();
    let mut package: Option<String> = None;
    let mut words: Vec<&str> = Vec::new();
    let mut ignore_scripts = false;
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].as_str();
        if a == "--" {
            break;
        }
        if matches!(a, "--prefix" | "-C" | "--dir" | "--cwd") {
            if let Some(d) = argv.get(i + 1) {
                dir = join(cwd, d);
            }
            i += 2;
            continue;
        }
        if let Some(d) = a
            .strip_prefix("--prefix=")
            .or_else(|| a.strip_prefix("--dir="))
            .or_else(|| a.strip_prefix("--cwd="))
        {
            dir = join(cwd, d);
        } else if let Some(w) = workspace_option(argv, i) {
            // A workspace package by its directory (`-w packages/api`, pnpm's `--filter
            // ./api`) is followed there, one by its name (`-w api`, `-w @acme/api`) is looked
            // up when read; a selector (a glob, pnpm's `...`, `!`, `{…}`, `[…]`) is not.
            let (value, used) = w;
            if value.contains(['*', '{', '[', '!', '^']) || value.contains("...") {
                return None;
            }
            if value.starts_with('@') || !value.contains('/') {
                if !value.starts_with('.') {
                    package = Some(value.to_string());
                }
            } else {
                dir = join(cwd, value);
            }
            i += used;
            continue;
        } else if a == "--ignore-scripts" {
            ignore_scripts = true;
        } else if !a.starts_with('-') {
            words.push(a);
        }
        i += 1;
    }
    let with_hooks = |name: &str| {
        vec![
            format!("pre{name}"),
            name.to_string(),
            format!("post{name}"),
        ]
    };
    // `yarn workspace NAME [run] SCRIPT`: SCRIPT of the package NAME.
    if let ("yarn", ["workspace", name, rest @ ..]) = (raw, words.as_slice()) {
        let script = match rest {
            ["run", s, ..] => s,
            [s, ..] if !is_package_manager_command(s) => s,
            _ => return None,
        };
        return Some(Target::Npm {
            dir,
            package: Some((*name).to_string()),
            scripts: with_hooks(script),
        });
    }
    let scripts: Vec<String> = match (raw, words.as_slice()) {
        (_, ["run" | "run-script" | "rum" | "urn", name, ..]) => with_hooks(name),
        (_, ["test" | "tst" | "t", ..]) => with_hooks("test"),
        (_, ["start", ..]) => with_hooks("start"),
        (_, ["stop", ..]) => with_hooks("stop"),
        (_, ["restart", ..]) => with_hooks("restart"),
        (_, ["install" | "i" | "ci" | "clean-install" | "isntall"]) | ("yarn", []) => [
            "preinstall",
            "install",
            "postinstall",
            "prepublish",
            "preprepare",
            "prepare",
            "postprepare",
        ]
        .map(String::from)
        .to_vec(),
        (_, ["publish", ..]) => [
            "prepublishOnly",
            "prepack",
            "prepare",
            "postpack",
            "publish",
            "postpublish",
        ]
        .map(String::from)
        .to_vec(),
        (_, ["pack", ..]) => ["prepack", "prepare", "postpack"]
            .map(String::from)
            .to_vec(),
        (_, ["version", ..]) => with_hooks("version"),
        // `yarn build`, `pnpm lint`, `bun dev`: a script of that name, when there is one.
        ("yarn" | "pnpm" | "bun", [name, ..]) if !is_package_manager_command(name) => {
            with_hooks(name)
        }
        _ => return None,
    };
    let scripts = if ignore_scripts {
        // Only the script asked for by name runs; lifecycle hooks are skipped.
        scripts
            .into_iter()
            .filter(|s| words.iter().any(|w| w == s))
            .collect()
    } else {
        scripts
    };
    Some(Target::Npm {
        dir,
        package,
        scripts,
    })
}

/// The directory of the workspace package named `name` of the project at `root`: its
/// package.json's `workspaces` (a list, or `{ packages: […] }`) or `pnpm-workspace.yaml`'s
/// `packages`, each a directory or `DIR/*` / `DIR/**` whose subdirectories are tried (the one
/// named like the package first), matched by the `name` of their package.json.
fn workspace_package(
    root: &Path,
    name: &str,
    read: &mut dyn FnMut(&Path) -> Result<String, String>,
    list: &mut dyn FnMut(&Path) -> Result<Vec<String>, String>,
) -> Result<PathBuf, String> {
    let mut patterns: Vec<String> = Vec::new();
    if let Ok(text) = read(&root.join("package.json")) {
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("package.json: {e}"))?;
        let ws = json.get("workspaces");
        let list = ws.and_then(|w| w.as_array()).or_else(|| {
            ws.and_then(|w| w.get("packages"))
                .and_then(|p| p.as_array())
        });
        patterns.extend(
            list.into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(str::to_owned)),
        );
    }
    if patterns.is_empty()
        && let Ok(text) = read(&root.join("pnpm-workspace.yaml"))
        && let Ok(docs) = yaml_rust2::YamlLoader::load_from_str(&text)
        && let Some(doc) = docs.first()
    {
        let packages = doc["packages"].as_vec().into_iter().flatten();
        patterns.extend(packages.filter_map(|p| p.as_str().map(str::to_owned)));
    }
    let named = |dir: &Path, read: &mut dyn FnMut(&Path) -> Result<String, String>| {
        read(&dir.join("package.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|j| j.get("name").and_then(|n| n.as_str()) == Some(name))
    };
    let short = name.rsplit('/').next().unwrap_or(name);
    for pattern in patterns.iter().filter(|p| !p.starts_with('!')) {
        let pattern = pattern.trim_start_matches("./").trim_end_matches('/');
        let Some(parent) = pattern
            .strip_suffix("/**")
            .or_else(|| pattern.strip_suffix("/*"))
            .or_else(|| (pattern == "*").then_some(""))
        else {
            // A directory named as is (other globs are not followed).
            let dir = join(root, pattern);
            if !pattern.contains(['*', '?', '{', '[']) && named(&dir, read) {
                return Ok(dir);
            }
            continue;
        };
        let parent = join(root, parent);
        let guess = parent.join(short);
        if named(&guess, read) {
            return Ok(guess);
        }
        for sub in list(&parent).unwrap_or_default() {
            let dir = parent.join(&sub);
            if sub != short && named(&dir, read) {
                return Ok(dir);
            }
        }
    }
    Err(format!("no workspace package named {name}"))
}

/// The value of a workspace-selecting option at `argv[i]` (`-w V`, `--workspace V`,
/// `--workspace=V`, `--filter V`, `-F V`), with how many words it takes.
fn workspace_option(argv: &[String], i: usize) -> Option<(&str, usize)> {
    let a = argv[i].as_str();
    if matches!(a, "-w" | "--workspace" | "--filter" | "-F") {
        return argv.get(i + 1).map(|v| (v.as_str(), 2));
    }
    a.strip_prefix("--workspace=")
        .or_else(|| a.strip_prefix("--filter="))
        .map(|v| (v, 1))
}

fn is_package_manager_command(w: &str) -> bool {
    matches!(
        w,
        "add"
            | "remove"
            | "rm"
            | "install"
            | "i"
            | "upgrade"
            | "up"
            | "update"
            | "outdated"
            | "info"
            | "why"
            | "list"
            | "ls"
            | "link"
            | "unlink"
            | "init"
            | "create"
            | "dlx"
            | "exec"
            | "x"
            | "config"
            | "cache"
            | "audit"
            | "global"
            | "import"
            | "login"
            | "logout"
            | "pack"
            | "publish"
            | "patch"
            | "store"
            | "prune"
            | "dedupe"
            | "licenses"
            | "workspace"
            | "workspaces"
            | "bin"
            | "help"
            | "set"
            | "plugin"
            | "node"
            | "constraints"
            | "self-update"
            | "setup"
            | "env"
            | "fetch"
            | "rebuild"
            | "root"
            | "server"
            | "ci"
    )
}

fn make(argv: &[String], cwd: &Path) -> Option<Target> {
    if argv.iter().any(|a| {
        matches!(
            a.as_str(),
            "-h" | "--help" | "-v" | "--version" | "-p" | "--print-data-base"
        )
    }) {
        return None;
    }
    let mut dir = cwd.to_path_buf();
    let mut file = None;
    let mut goals = Vec::new();
    let mut vars = Vec::new();
    let mut dry_run = false;
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].as_str();
        let value = |n: &str| -> Option<(String, usize)> {
            if a == n {
                return argv.get(i + 1).map(|v| (v.clone(), 2));
            }
            a.strip_prefix(n)
                .map(|r| r.strip_prefix('=').unwrap_or(r))
                .filter(|r| !r.is_empty())
                .map(|r| (r.to_string(), 1))
        };
        if let Some((d, n)) = value("-C").or_else(|| value("--directory")) {
            dir = join(&dir, &d);
            i += n;
            continue;
        }
        if let Some((f, n)) = value("-f")
            .or_else(|| value("--file"))
            .or_else(|| value("--makefile"))
        {
            file = Some(f);
            i += n;
            continue;
        }
        if matches!(
            a,
            "-j" | "-l" | "-o" | "-W" | "-I" | "--jobs" | "--load-average"
        ) {
            i += 2;
            continue;
        }
        if matches!(
            a,
            "-n" | "--dry-run" | "--just-print" | "--recon" | "-q" | "--question"
        ) {
            dry_run = true;
        } else if a.starts_with('-') {
            // `-jN`, `-k`, `-s`, `--no-print-directory`, …
        } else if let Some((k, v)) = a.split_once('=') {
            vars.push((
                k.trim_end_matches([':', '?', '+']).to_string(),
                v.to_string(),
            ));
        } else {
            goals.push(a.to_string());
        }
        i += 1;
    }
    let file = file.map(|f| join(&dir, &f));
    Some(Target::Make {
        dir,
        file,
        goals,
        vars,
        dry_run,
    })
}

/// Whether a script's first line makes it a shell script (no `#!` counts: the shell runs it).
fn shell_shebang(text: &str) -> bool {
    let Some(first) = text.lines().next() else {
        return true;
    };
    let Some(rest) = first.strip_prefix("#!") else {
        return true;
    };
    let mut words = rest.split_whitespace();
    let Some(interp) = words.next() else {
        return false;
    };
    let mut name = interp.rsplit('/').next().unwrap_or(interp);
    if name == "env" {
        name = words
            .find(|w| !w.starts_with('-') && !w.contains('='))
            .unwrap_or("");
    }
    SHELLS.contains(&name)
}

/// Reads a target's files and returns the shell text they will run, or why not.
pub(crate) fn pieces(
    t: &Target,
    reader: &dyn WorkspaceReader,
    workspace: &Path,
    budget: &mut Budget,
) -> Result<Vec<Piece>, String> {
    let mut read = |path: &Path| -> Result<String, String> {
        if !crate::paths::is_within(path, workspace) {
            return Err(format!("{NOT_IN_WORKSPACE}: {}", path.display()));
        }
        if budget.files == 0 {
            return Err(format!("more than {MAX_FILES} files read ahead"));
        }
        budget.files -= 1;
        let limit = MAX_FILE.min(budget.bytes);
        let text = reader.read(path, limit)?;
        budget.bytes = budget.bytes.saturating_sub(text.len());
        Ok(text)
    };
    let rel = |p: &Path| -> String {
        p.strip_prefix(workspace)
            .map(|r| r.display().to_string())
            .unwrap_or_else(|_| p.display().to_string())
    };
    match t {
        Target::Script {
            path,
            needs_shebang,
        } => {
            let mut out = Vec::new();
            for path in expand_script_glob(path, reader)? {
                let text = read(&path)?;
                let cwd = path.parent().unwrap_or(workspace).to_path_buf();
                if *needs_shebang && !shell_shebang(&text) {
                    if let Some(interpreter) = code_shebang(&text) {
                        out.push(code_piece(interpreter, &text, rel(&path), cwd)?);
                    }
                    continue;
                }
                out.push(Piece {
                    text,
                    file: rel(&path),
                    line: 1,
                    cwd,
                    code: false,
                });
            }
            Ok(out)
        }
        Target::Npm {
            dir,
            package,
            scripts,
        } => {
            let found;
            let dir = match package {
                Some(name) => {
                    let mut list = |d: &Path| -> Result<Vec<String>, String> {
                        if !crate::paths::is_within(d, workspace) {
                            return Err(format!("{NOT_IN_WORKSPACE}: {}", d.display()));
                        }
                        reader.subdirectories(d)
                    };
                    found = workspace_package(dir, name, &mut read, &mut list)?;
                    &found
                }
                None => dir,
            };
            let path = dir.join("package.json");
            let text = read(&path)?;
            let json: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("package.json: {e}"))?;
            let table = json.get("scripts").and_then(|s| s.as_object());
            let mut out = Vec::new();
            for name in scripts {
                if let Some(body) = table.and_then(|t| t.get(name)).and_then(|b| b.as_str()) {
                    let needle = format!("\"{name}\"");
                    let at = text
                        .find("\"scripts\"")
                        .and_then(|s| text[s..].find(&needle).map(|p| p + s))
                        .unwrap_or(0);
                    out.push(Piece {
                        text: body.to_string(),
                        file: format!("{} scripts.{name}", rel(&path)),
                        line: text[..at].matches('\n').count() + 1,
                        cwd: dir.clone(),
                        code: false,
                    });
                }
            }
            Ok(out)
        }
        Target::Make {
            dir,
            file,
            goals,
            vars,
            dry_run,
        } => {
            let (path, text) = match file {
                Some(f) => (f.clone(), read(f)?),
                None => {
                    let mut found = Err("no Makefile".to_string());
                    for name in ["GNUmakefile", "makefile", "Makefile"] {
                        let p = dir.join(name);
                        match read(&p) {
                            Ok(t) => {
                                found = Ok((p, t));
                                break;
                            }
                            Err(e) => found = Err(e),
                        }
                    }
                    found?
                }
            };
            let mk = crate::makefile::Makefile::parse(&text, vars);
            Ok(mk
                .commands(goals, *dry_run)
                .into_iter()
                .map(|(line, text)| Piece {
                    text,
                    file: rel(&path),
                    line,
                    cwd: dir.clone(),
                    code: false,
                })
                .collect())
        }
        Target::Code { interpreter, path } => expand_script_glob(path, reader)?
            .into_iter()
            .map(|path| {
                let text = read(&path)?;
                let cwd = path.parent().unwrap_or(workspace).to_path_buf();
                code_piece(interpreter, &text, rel(&path), cwd)
            })
            .collect(),
        Target::Tasks(t) => {
            // The file named, else the runner's files in the order it looks: the first that
            // defines one of the tasks.
            let candidates: Vec<PathBuf> = match &t.file {
                Some(f) => vec![f.clone()],
                None => t.runner.files().iter().map(|f| t.dir.join(f)).collect(),
            };
            let mut why = String::from("no task file");
            for path in candidates {
                let text = match read(&path) {
                    Ok(text) => text,
                    Err(e) => {
                        why = e;
                        continue;
                    }
                };
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let lines = crate::tasks::commands(t, &name, &text)?;
                if !lines.is_empty() || t.file.is_some() {
                    return Ok(lines
                        .into_iter()
                        .map(|(line, text)| Piece {
                            text,
                            file: rel(&path),
                            line,
                            cwd: t.dir.clone(),
                            code: false,
                        })
                        .collect());
                }
            }
            Err(why)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn targets() {
        let cwd = Path::new("/w");
        assert_eq!(
            target(&argv("bash -e deploy.sh x"), "bash", "bash", cwd),
            Some(Target::Script {
                path: "/w/deploy.sh".into(),
                needs_shebang: false
            })
        );
        assert_eq!(target(&argv("bash -c x"), "bash", "bash", cwd), None);
        assert_eq!(target(&argv("bash"), "bash", "bash", cwd), None);
        assert!(matches!(
            target(&argv("./x.sh"), "x.sh", "x.sh", cwd),
            Some(Target::Script {
                needs_shebang: true,
                ..
            })
        ));
        assert_eq!(
            target(&argv("npm run build"), "npm", "npm", cwd),
            Some(Target::Npm {
                dir: "/w".into(),
                package: None,
                scripts: vec!["prebuild".into(), "build".into(), "postbuild".into()]
            })
        );
        assert_eq!(target(&argv("yarn add x"), "npm", "yarn", cwd), None);
        // A workspace package by its directory is followed there; by name, not.
        for line in [
            "npm run -w packages/api deploy",
            "npm run --workspace=packages/api deploy",
            "pnpm --filter ./packages/api run deploy",
        ] {
            assert_eq!(
                target(&argv(line), "npm", line.split(' ').next().unwrap(), cwd),
                Some(Target::Npm {
                    dir: "/w/packages/api".into(),
                    package: None,
                    scripts: vec!["predeploy".into(), "deploy".into(), "postdeploy".into()]
                }),
                "{line}"
            );
        }
        // By its package name: looked up when read.
        assert_eq!(
            target(&argv("npm run -w @acme/api deploy"), "npm", "npm", cwd),
            Some(Target::Npm {
                dir: "/w".into(),
                package: Some("@acme/api".into()),
                scripts: vec!["predeploy".into(), "deploy".into(), "postdeploy".into()]
            })
        );
        assert_eq!(
            target(&argv("pnpm -F '@org/*' run deploy"), "npm", "pnpm", cwd),
            None
        );
        assert!(matches!(
            target(&argv("make -C sub deploy X=1"), "make", "make", cwd),
            Some(Target::Make { ref goals, ref dir, .. }) if goals == &["deploy"] && dir == Path::new("/w/sub")
        ));
    }

    #[test]
    fn shebangs() {
        assert!(shell_shebang("#!/bin/bash\nx"));
        assert!(shell_shebang("#!/usr/bin/env bash\n"));
        assert!(shell_shebang("#!/usr/bin/env -S bash -e\n"));
        assert!(shell_shebang("echo no shebang"));
        assert!(!shell_shebang("#!/usr/bin/env python3\n"));
    }
}
