//! Code carried where a plain reading of argv does not look: environment variables that name a
//! command (`GIT_SSH_COMMAND`, `PAGER`, `EDITOR`, `BASH_ENV`, …), options whose value is a
//! command (`git -c core.sshCommand=…`, `git rebase --exec`, `ssh -o ProxyCommand=…`, `rsync -e`,
//! `tar --to-command`, `sed` `e`/`s///e`/`w FILE`, `vim -c ':!…'`, `zip -TT`, `man -P`, `rg --pre`,
//! `sort --compress-program`, the `--pager` of `bat`, `ag`, `ack`, `delta`),
//! commands that runners start on this machine from their own options or operands
//! (`nix-shell --run`, `nix develop -c`, `npx -c`, `nodemon --exec`, `pwsh -Command`, `sg GROUP`,
//! `tmux new`/`send-keys`, `screen CMD`/`-X stuff`, `hyperfine CMD`, `watchexec CMD`, `entr CMD`,
//! `cross-env-shell CMD`, `concurrently CMD…` and `npm:NAME`, `npm-run-all NAME…`,
//! `gdb --args`/`-ex 'shell CMD'`, `perf stat --pre CMD`, and these run by `npx`), and
//! commands sent to another machine or container (`ssh HOST CMD`, `docker exec C CMD`,
//! `kubectl exec P -- CMD`, `gcloud compute ssh --command CMD`, …), which are reported with
//! `remote` set because they run outside any sandbox of this machine.
//!
//! Each carried command is analysed like any other shell text or argv and reported with a
//! wrapper label naming its carrier (`GIT_SSH_COMMAND`, `git -c core.pager`, `sed e`,
//! `ssh -o ProxyCommand`, `ssh HOST`, …); a carrier whose value is only known at run time, or
//! that runs text computed at run time (`sed 's/x/y/e'`), is opaque.

use crate::state::{Ctx, Inh, Io, Scope, W};
use crate::wrappers;
use crate::{MAX_DEPTH, Span};

/// Variables whose value is a command line run through a shell by the programs that read them.
pub const COMMAND_VARIABLES: &[&str] = &[
    "GIT_SSH_COMMAND",
    "GIT_SSH",
    "GIT_EXTERNAL_DIFF",
    "GIT_PAGER",
    "GIT_EDITOR",
    "GIT_SEQUENCE_EDITOR",
    "GIT_ASKPASS",
    "GIT_PROXY_COMMAND",
    "PAGER",
    "MANPAGER",
    "SYSTEMD_PAGER",
    "EDITOR",
    "VISUAL",
    "SUDO_EDITOR",
    "FCEDIT",
    "SSH_ASKPASS",
    "SUDO_ASKPASS",
    "RSYNC_RSH",
    "CVS_RSH",
    "LESSOPEN",
    "LESSCLOSE",
    "PROMPT_COMMAND",
    "BROWSER",
];

/// Variables naming a file of shell code that every non-interactive shell sources first.
pub const SOURCED_FILE_VARIABLES: &[&str] = &["BASH_ENV", "ENV"];

/// Variables that load code into every program started with them.
pub const LOADED_CODE_VARIABLES: &[&str] = &[
    "LD_PRELOAD",
    "LD_AUDIT",
    "DYLD_INSERT_LIBRARIES",
    "GIT_CONFIG_PARAMETERS",
];

/// `git -c` keys (lower case; `*` for one section component) whose value is a command.
const GIT_COMMAND_KEYS: &[&str] = &[
    "core.sshcommand",
    "core.pager",
    "pager.*",
    "core.editor",
    "sequence.editor",
    "core.askpass",
    "core.gitproxy",
    "core.fsmonitor",
    "core.alternaterefscommand",
    "diff.external",
    "diff.*.textconv",
    "diff.*.command",
    "difftool.*.cmd",
    "mergetool.*.cmd",
    "filter.*.clean",
    "filter.*.smudge",
    "filter.*.process",
    "merge.*.driver",
    "gpg.program",
    "gpg.*.program",
    "credential.helper",
    "credential.*.helper",
    "uploadpack.packobjectshook",
    "sendemail.tocmd",
    "sendemail.cccmd",
    "sendemail.sendmailcmd",
    "remote.*.uploadpack",
    "remote.*.receivepack",
];

/// Whether assigning `name` can carry code (see [`Ctx::carried_variable`]).
pub(crate) fn carries_code(name: &str) -> bool {
    COMMAND_VARIABLES.contains(&name)
        || SOURCED_FILE_VARIABLES.contains(&name)
        || LOADED_CODE_VARIABLES.contains(&name)
        || name.starts_with("GIT_CONFIG_KEY_")
        || matches!(
            name,
            "NODE_OPTIONS" | "JAVA_TOOL_OPTIONS" | "_JAVA_OPTIONS" | "JDK_JAVA_OPTIONS"
        )
}

fn git_command_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    let parts: Vec<&str> = key.split('.').collect();
    GIT_COMMAND_KEYS.iter().any(|p| {
        let pp: Vec<&str> = p.split('.').collect();
        if pp.len() == 2 && pp[1] == "*" {
            // `pager.<cmd>`: two components.
            return parts.len() == 2 && parts[0] == pp[0];
        }
        if pp.len() == 3 && pp[1] == "*" {
            return parts.len() >= 3 && parts[0] == pp[0] && parts[parts.len() - 1] == pp[2];
        }
        parts == pp
    })
}

fn lit_like(v: impl Into<String>, of: &W) -> W {
    let mut w = W::lit(v, of.span);
    w.dynamic = of.dynamic;
    w.split = of.split;
    w
}

impl Ctx {
    /// Analyse `value` as shell text run by `carrier` on this machine.
    fn carried_shell(&mut self, value: &W, carrier: &str, scope: &Scope, inh: &Inh, depth: usize) {
        if value.v.trim().is_empty() && !value.dynamic {
            return;
        }
        let inh2 = inh.with(carrier);
        self.shell_string(value, scope, &inh2, depth, carrier);
    }

    /// Analyse `text` as a command line run on another machine or in a container.
    pub(crate) fn remote_shell(&mut self, text: &W, label: &str, inh: &Inh, depth: usize) {
        let mut inh2 = inh.with(label);
        inh2.remote = Some(label.to_string());
        // The remote command starts in the remote user's home, with no state of ours.
        let remote = Scope::default();
        self.shell_string(
            text,
            &remote,
            &inh2,
            depth,
            &format!("command run by {label}"),
        );
    }

    /// Analyse `argv` as a command `carrier` starts on this machine (exec'd without a shell).
    fn carried_argv(
        &mut self,
        argv: &[W],
        span: Span,
        carrier: &str,
        scope: &Scope,
        inh: &Inh,
        depth: usize,
    ) {
        if argv.is_empty() {
            return;
        }
        let mut inner = scope.clone();
        wrappers::exec(
            self,
            argv.to_vec(),
            span,
            Io::default(),
            &mut inner,
            inh.with(carrier),
            depth + 1,
        );
    }

    /// Run `argv` (exec'd without a shell) on another machine or in a container.
    fn remote_argv(&mut self, argv: &[W], span: Span, label: &str, inh: &Inh, depth: usize) {
        if argv.is_empty() {
            return;
        }
        let mut inh2 = inh.with(label);
        inh2.remote = Some(label.to_string());
        let mut remote = Scope::default();
        wrappers::exec(
            self,
            argv.to_vec(),
            span,
            Io::default(),
            &mut remote,
            inh2,
            depth + 1,
        );
    }

    /// An assignment `NAME=value` that carries code (as a command prefix, a statement, an
    /// `export`, or an `env`/`sudo` operand). Returns whether `name` is such a variable.
    pub(crate) fn carried_variable(
        &mut self,
        name: &str,
        value: &W,
        scope: &Scope,
        inh: &Inh,
        depth: usize,
    ) -> bool {
        if COMMAND_VARIABLES.contains(&name) {
            let mut v = value.clone();
            if name.starts_with("LESS") {
                v.v = v.v.trim_start_matches(['|', '-']).to_string();
                v.map = None;
            }
            if name == "GIT_SSH" {
                // A program path, run without a shell.
                if v.dynamic {
                    self.opaque(v.span, format!("{name} is computed at run time"), &v.v);
                } else if !v.v.is_empty() {
                    self.carried_argv(&[v], value.span, name, scope, inh, depth);
                }
                return true;
            }
            self.carried_shell(&v, name, scope, inh, depth);
            return true;
        }
        if SOURCED_FILE_VARIABLES.contains(&name) {
            if value.dynamic {
                self.opaque(
                    value.span,
                    format!("{name} names a file computed at run time"),
                    &value.v,
                );
            } else if !value.v.is_empty() {
                // Every non-interactive shell started with it sources the file first.
                let words = [W::lit("source", value.span), value.clone()];
                self.carried_argv(&words, value.span, name, scope, inh, depth);
            }
            return true;
        }
        if LOADED_CODE_VARIABLES.contains(&name) {
            if !value.v.is_empty() || value.dynamic {
                self.opaque(
                    value.span,
                    format!("{name} loads code into every program started with it"),
                    &value.v,
                );
            }
            return true;
        }
        if name.starts_with("GIT_CONFIG_KEY_") && git_command_key(&value.v) {
            self.opaque(
                value.span,
                format!("{name} sets `{}`, which runs a command", value.v),
                &value.v,
            );
            return true;
        }
        let node_code = name == "NODE_OPTIONS"
            && value.v.split_whitespace().any(|o| {
                [
                    "-r",
                    "--require",
                    "--import",
                    "--loader",
                    "--experimental-loader",
                ]
                .iter()
                .any(|f| o == *f || o.starts_with(&format!("{f}=")))
            });
        let java_agent = matches!(
            name,
            "JAVA_TOOL_OPTIONS" | "_JAVA_OPTIONS" | "JDK_JAVA_OPTIONS"
        ) && value.v.contains("-javaagent");
        if node_code || java_agent {
            self.opaque(
                value.span,
                format!("{name} loads code into every program started with it"),
                &value.v,
            );
            return true;
        }
        false
    }
}

/// Commands carried by the options of `words` (program `name`), analysed after the command
/// itself was reported.
pub(crate) fn carried(
    cx: &mut Ctx,
    name: &str,
    words: &[W],
    span: Span,
    scope: &Scope,
    inh: &Inh,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    match name {
        "git" => git(cx, words, span, scope, inh, depth),
        "ssh" | "autossh" => ssh(cx, name, words, inh, depth, scope),
        "scp" | "sftp" => scp(cx, name, words, span, scope, inh, depth),
        "rsync" => rsync(cx, words, scope, inh, depth),
        "tar" | "gtar" | "bsdtar" => tar(cx, words, span, scope, inh, depth),
        "sed" | "gsed" => sed(cx, name, words, scope, inh, depth),
        "vim" | "vi" | "nvim" | "ex" | "view" | "gvim" | "vimdiff" | "nvi" => {
            vim(cx, name, words, scope, inh, depth);
        }
        "zip" => option_shell(
            cx,
            words,
            &["-TT", "--unzip-command"],
            "zip -TT",
            scope,
            inh,
            depth,
        ),
        "man" => option_shell(cx, words, &["-P", "--pager"], "man -P", scope, inh, depth),
        "bat" | "batcat" | "ag" | "ack" | "ack-grep" | "delta" => {
            option_shell(cx, words, &["--pager"], "--pager", scope, inh, depth);
        }
        "sort" | "gsort" => option_programs(
            cx,
            words,
            span,
            &[("--compress-program", "sort --compress-program")],
            scope,
            inh,
            depth,
        ),
        "less" => less(cx, words, scope, inh, depth),
        "expect" => expect(cx, words, scope, inh, depth),
        "rg" => option_programs(
            cx,
            words,
            span,
            &[
                ("--pre", "rg --pre"),
                ("--hostname-bin", "rg --hostname-bin"),
            ],
            scope,
            inh,
            depth,
        ),
        "docker" | "podman" | "nerdctl" | "docker-compose" | "podman-compose" => {
            docker(cx, name, words, span, inh, depth);
        }
        "kubectl" | "oc" => kubectl(cx, name, words, span, inh, depth),
        "psql" | "mysql" | "mariadb" | "sqlite3" | "duckdb" => {
            sql(cx, name, words, scope, inh, depth)
        }
        "gcloud" => gcloud(cx, words, inh, depth),
        "vagrant" => vagrant(cx, words, inh, depth),
        "lxc" | "incus" | "multipass" => container_exec(cx, name, words, span, inh, depth),
        "nix-shell" => option_shell(
            cx,
            words,
            &["--run", "--command"],
            "nix-shell --run",
            scope,
            inh,
            depth,
        ),
        "npx" => npx(cx, words, span, scope, inh, depth),
        "nodemon" => option_shell(
            cx,
            words,
            &["-x", "--exec"],
            "nodemon --exec",
            scope,
            inh,
            depth,
        ),
        "pwsh" | "powershell" => option_shell(
            cx,
            words,
            &["-c", "-Command", "-command", "-CommandWithArgs"],
            "pwsh -Command",
            scope,
            inh,
            depth,
        ),
        "nix" => nix(cx, words, span, scope, inh, depth),
        "sg" => sg(cx, words, scope, inh, depth),
        "tmux" => tmux(cx, words, scope, inh, depth),
        "screen" => screen(cx, words, span, scope, inh, depth),
        "hyperfine" => hyperfine(cx, words, scope, inh, depth),
        "concurrently" => concurrently(cx, words, scope, inh, depth),
        "npm-run-all" | "npm-run-all2" | "run-s" | "run-p" => {
            npm_run_all(cx, words, scope, inh, depth)
        }
        "gdb" => gdb(cx, words, span, scope, inh, depth),
        "perf" => option_shell(
            cx,
            words,
            &["--pre", "--post"],
            "perf stat --pre",
            scope,
            inh,
            depth,
        ),
        "watchexec" => watchexec(cx, words, span, scope, inh, depth),
        "entr" => entr(cx, words, span, scope, inh, depth),
        "cross-env-shell" => cross_env_shell(cx, words, span, scope, inh, depth),
        _ => {}
    }
}

/// `nix develop|shell|run … (-c|--command) CMD ARGS…`: the rest of the line is the command
/// (`nix shell nixpkgs#git -c git push`).
fn nix(cx: &mut Ctx, words: &[W], span: Span, scope: &Scope, inh: &Inh, depth: usize) {
    let Some(sub) = words
        .get(1)
        .filter(|w| matches!(w.v.as_str(), "develop" | "shell"))
    else {
        return;
    };
    let label = format!("nix {} -c", sub.v);
    if let Some(k) = words[2..]
        .iter()
        .position(|w| w.v == "-c" || w.v == "--command")
        .map(|k| k + 3)
        .filter(|&k| k < words.len())
    {
        cx.carried_argv(&words[k..], span, &label, scope, inh, depth);
    }
}

/// The command words of a runner: one word is shell text (what the runner hands to
/// `sh -c`), several an argv (`watchexec -- cargo test`).
fn command_words(
    cx: &mut Ctx,
    command: &[W],
    label: &str,
    span: Span,
    scope: &Scope,
    inh: &Inh,
    depth: usize,
) {
    match command {
        [] => {}
        [one] => cx.carried_shell(one, label, scope, inh, depth),
        argv => cx.carried_argv(argv, span, label, scope, inh, depth),
    }
}

/// `watchexec [OPTIONS] [--] COMMAND…`: the command run on every change (through `sh -c` unless
/// `-n`/`--shell=none`; either way its words are the command). The options that take a value
/// are skipped with it.
fn watchexec(cx: &mut Ctx, words: &[W], span: Span, scope: &Scope, inh: &Inh, depth: usize) {
    const VALUE: &[&str] = &[
        "-w",
        "--watch",
        "-W",
        "--watch-non-recursive",
        "-F",
        "--watch-file",
        "-o",
        "--on-busy-update",
        "-s",
        "--signal",
        "--stop-signal",
        "--stop-timeout",
        "--map-signal",
        "-d",
        "--debounce",
        "--delay-run",
        "--shell",
        "--emit-events-to",
        "-E",
        "--env",
        "--wrap-process",
        "--color",
        "--project-origin",
        "--workdir",
        "-e",
        "--exts",
        "-f",
        "--filter",
        "--filter-file",
        "-j",
        "--filter-prog",
        "-i",
        "--ignore",
        "--ignore-file",
        "--fs-events",
        "--log-file",
        "--socket",
    ];
    let mut i = 1;
    while let Some(w) = words.get(i) {
        match w.v.as_str() {
            "--" => {
                i += 1;
                break;
            }
            v if VALUE.contains(&v) => i += 2,
            v if v.starts_with('-') => i += 1,
            _ => break,
        }
    }
    command_words(
        cx,
        words.get(i..).unwrap_or_default(),
        "watchexec",
        span,
        scope,
        inh,
        depth,
    );
}

/// `entr [-acdnprsz] UTILITY [ARGS…]`: run on every change of the files it reads; with `-s`
/// the utility word is shell text.
fn entr(cx: &mut Ctx, words: &[W], span: Span, scope: &Scope, inh: &Inh, depth: usize) {
    let mut i = 1;
    let mut shell = false;
    while let Some(w) = words
        .get(i)
        .filter(|w| w.v.starts_with('-') && w.v.len() > 1)
    {
        if w.v == "--" {
            i += 1;
            break;
        }
        shell |= w.v.contains('s');
        i += 1;
    }
    if shell {
        if let Some(text) = words.get(i) {
            cx.carried_shell(text, "entr -s", scope, inh, depth);
        }
    } else {
        cx.carried_argv(
            &words[i.min(words.len())..],
            span,
            "entr",
            scope,
            inh,
            depth,
        );
    }
}

/// `cross-env-shell VAR=x… COMMAND…`: after the assignments, the command is shell text.
fn cross_env_shell(cx: &mut Ctx, words: &[W], span: Span, scope: &Scope, inh: &Inh, depth: usize) {
    let start = 1 + words[1..]
        .iter()
        .take_while(|w| {
            w.v.split_once('=')
                .is_some_and(|(k, _)| !k.is_empty() && !k.starts_with('-'))
        })
        .count();
    command_words(
        cx,
        &words[start..],
        "cross-env-shell",
        span,
        scope,
        inh,
        depth,
    );
}

/// `npx [-p PKG] -c STRING`: npx's own options come before the package it runs (`npx eslint -c
/// FILE` is eslint's `-c`).
fn npx(cx: &mut Ctx, words: &[W], span: Span, scope: &Scope, inh: &Inh, depth: usize) {
    let mut i = 1;
    while let Some(w) = words.get(i) {
        if let Some((text, _)) =
            option_value(words, i, "-c").or_else(|| option_value(words, i, "--call"))
        {
            cx.carried_shell(&text, "npx -c", scope, inh, depth);
            return;
        }
        match w.v.as_str() {
            "-p" | "--package" => i += 2,
            "--" => i += 1,
            v if v.starts_with('-') => i += 1,
            spec => {
                // The package's program carries commands as it would run alone
                // (`npx concurrently@8 "git push" …`): `NAME[@VERSION]`, scoped or not.
                let name = match spec.rfind('@') {
                    Some(at) if at > 0 => &spec[..at],
                    _ => spec,
                };
                if !w.dynamic {
                    let mut argv = words[i..].to_vec();
                    argv[0] = lit_like(name, w);
                    carried(cx, name, &argv, span, scope, inh, depth + 1);
                }
                return;
            }
        }
    }
}

/// `sg [-] GROUP [-c] STRING`: STRING is run by `/bin/sh -c` with GROUP as the group.
fn sg(cx: &mut Ctx, words: &[W], scope: &Scope, inh: &Inh, depth: usize) {
    let mut i = 1;
    if words.get(i).is_some_and(|w| w.v == "-") {
        i += 1;
    }
    i += 1; // the group
    if words.get(i).is_some_and(|w| w.v == "-c") {
        i += 1;
    }
    if let Some(text) = words.get(i) {
        cx.carried_shell(text, "sg", scope, inh, depth);
    }
}

/// tmux commands that start a shell command in a new session, window or pane (its words joined
/// as tmux joins them), or type keys into one (`send-keys -t T 'git push' Enter`: the typed text,
/// key names left out).
fn tmux(cx: &mut Ctx, words: &[W], scope: &Scope, inh: &Inh, depth: usize) {
    // tmux's own options before its command: `-L socket`, `-S path`, `-f file`, `-T features`.
    let mut i = 1;
    while let Some(w) = words.get(i) {
        match w.v.as_str() {
            "-L" | "-S" | "-f" | "-T" => i += 2,
            v if v.starts_with('-') => i += 1,
            _ => break,
        }
    }
    let Some(sub) = words.get(i) else {
        return;
    };
    let keys = match sub.v.as_str() {
        "new" | "new-session" | "neww" | "new-window" | "splitw" | "split-window" | "respawnp"
        | "respawn-pane" | "respawnw" | "respawn-window" => false,
        "send" | "send-keys" => true,
        _ => return,
    };
    // Options of those commands that take a value.
    let valued = [
        "-c", "-e", "-F", "-n", "-s", "-t", "-x", "-y", "-f", "-l", "-N", "-X",
    ];
    let mut k = i + 1;
    let mut rest = Vec::new();
    while let Some(w) = words.get(k) {
        if rest.is_empty() && w.v == "--" {
            k += 1;
            rest.extend(words[k..].iter().cloned());
            break;
        }
        if rest.is_empty() && w.v.starts_with('-') && w.v.len() > 1 && !w.dynamic {
            // `-dP`, `-t target`, `-tTARGET`.
            let last = &w.v[w.v.len() - 1..];
            let takes = w.v.len() == 2 && valued.contains(&w.v.as_str())
                || w.v.len() > 2 && valued.contains(&format!("-{last}").as_str());
            k += if takes { 2 } else { 1 };
            continue;
        }
        rest.push(w.clone());
        k += 1;
    }
    let typed: Vec<&W> = rest
        .iter()
        .filter(|w| {
            !keys
                || !(matches!(
                    w.v.as_str(),
                    "Enter" | "KPEnter" | "Space" | "Tab" | "Escape"
                ) || w.v.starts_with("C-")
                    || w.v.starts_with("M-"))
        })
        .collect();
    if !typed.is_empty() {
        let dynamic = typed.iter().any(|w| w.dynamic);
        let text = typed
            .iter()
            .map(|w| w.v.as_str())
            .collect::<Vec<_>>()
            .join(if keys { "" } else { " " });
        let mut joined = lit_like(text, typed[0]);
        joined.dynamic = dynamic;
        let label = if keys { "tmux send-keys" } else { "tmux new" };
        cx.carried_shell(&joined, label, scope, inh, depth);
    }
}

/// `screen [options] CMD ARGS…` runs CMD in a new window; `screen -X stuff TEXT` types TEXT
/// into one.
fn screen(cx: &mut Ctx, words: &[W], span: Span, scope: &Scope, inh: &Inh, depth: usize) {
    let valued = ['S', 'c', 'e', 'h', 'p', 'T', 't', 'L'];
    let mut i = 1;
    while let Some(w) = words.get(i) {
        let v = w.v.as_str();
        if v == "-X" {
            // `-X stuff 'text'` types into a window; other -X commands are screen's own.
            if words.get(i + 1).is_some_and(|c| c.v == "stuff")
                && let Some(text) = words.get(i + 2)
            {
                // screen reads `\n` and `\r` in the text as the keys that run the line.
                let typed = lit_like(text.v.replace("\\n", "\n").replace("\\r", "\n"), text);
                cx.carried_shell(&typed, "screen -X stuff", scope, inh, depth);
            }
            return;
        }
        if v == "-Logfile" {
            i += 2;
            continue;
        }
        if let Some(flags) = v.strip_prefix('-').filter(|f| !f.is_empty()) {
            let takes = flags.chars().last().is_some_and(|c| valued.contains(&c));
            i += if takes { 2 } else { 1 };
            continue;
        }
        break;
    }
    if i < words.len() {
        cx.carried_argv(&words[i..], span, "screen", scope, inh, depth);
    }
}

/// `hyperfine [options] CMD…`: every command (and `--prepare`/`--setup`/`--cleanup`) is shell
/// text it runs many times.
fn hyperfine(cx: &mut Ctx, words: &[W], scope: &Scope, inh: &Inh, depth: usize) {
    let shell_opts = [
        "-p",
        "--prepare",
        "-s",
        "--setup",
        "-c",
        "--cleanup",
        "--conclude",
    ];
    let one_value = [
        "-w",
        "--warmup",
        "-m",
        "--min-runs",
        "-M",
        "--max-runs",
        "-r",
        "--runs",
        "-S",
        "--shell",
        "-u",
        "--time-unit",
        "-n",
        "--command-name",
        "-o",
        "--output",
        "--input",
        "--export-asciidoc",
        "--export-csv",
        "--export-json",
        "--export-markdown",
        "--export-orgmode",
        "--style",
        "--sort",
        "-D",
        "--parameter-step-size",
    ];
    let option_words = |v: &str| match v {
        "-L" | "--parameter-list" => 3,
        "-P" | "--parameter-scan" => 4,
        v if one_value.contains(&v) => 2,
        _ => 1,
    };
    let runner = ShellOperands {
        label: "hyperfine",
        shell_opts: &shell_opts,
        option_words: &option_words,
        operand: &|w: &W| w.clone(),
    };
    runner.carry(cx, words, scope, inh, depth);
}

/// A runner whose operands are shell text (`hyperfine CMD…`, `concurrently CMD…`), read up to
/// and after a `--`: options in `shell_opts` hold shell text too, `option_words` says how many
/// words any other option takes (itself included), `operand` gives the text an operand stands
/// for.
struct ShellOperands<'a> {
    label: &'a str,
    shell_opts: &'a [&'a str],
    option_words: &'a dyn Fn(&str) -> usize,
    operand: &'a dyn Fn(&W) -> W,
}

impl ShellOperands<'_> {
    fn carry(&self, cx: &mut Ctx, words: &[W], scope: &Scope, inh: &Inh, depth: usize) {
        let mut i = 1;
        let mut operands_only = false;
        while let Some(w) = words.get(i) {
            let v = w.v.as_str();
            if !operands_only && v == "--" {
                operands_only = true;
                i += 1;
            } else if !operands_only && v.starts_with('-') {
                match self
                    .shell_opts
                    .iter()
                    .find_map(|o| option_value(words, i, o))
                {
                    Some((text, n)) => {
                        cx.carried_shell(&text, self.label, scope, inh, depth);
                        i += n;
                    }
                    None => i += (self.option_words)(v),
                }
            } else {
                cx.carried_shell(&(self.operand)(w), self.label, scope, inh, depth);
                i += 1;
            }
        }
    }
}

/// `concurrently [options] CMD…`: every command (and `--teardown`) is shell text it runs at
/// once; `npm:NAME` (also `yarn:`, `pnpm:`, `bun:`) is that package manager's `run NAME`.
fn concurrently(cx: &mut Ctx, words: &[W], scope: &Scope, inh: &Inh, depth: usize) {
    let one_value = [
        "-n",
        "--names",
        "--name-separator",
        "-c",
        "--prefix-colors",
        "-p",
        "--prefix",
        "-l",
        "--prefix-length",
        "-t",
        "--timestamp-format",
        "-m",
        "--max-processes",
        "--restart-tries",
        "--restart-after",
        "-s",
        "--success",
        "--kill-signal",
        "--default-input-target",
        "--hide",
        "--cwd",
    ];
    let option_words = |v: &str| if one_value.contains(&v) { 2 } else { 1 };
    let operand = |w: &W| {
        let shortcut = ["npm", "yarn", "pnpm", "bun"].iter().find_map(|pm| {
            let name = w.v.strip_prefix(pm)?.strip_prefix(':')?;
            (!w.dynamic && !name.is_empty()).then(|| format!("{pm} run {name}"))
        });
        shortcut.map_or_else(|| w.clone(), |text| lit_like(text, w))
    };
    let runner = ShellOperands {
        label: "concurrently",
        shell_opts: &["--teardown"],
        option_words: &option_words,
        operand: &operand,
    };
    runner.carry(cx, words, scope, inh, depth);
}

/// `npm-run-all [options] SCRIPT…` (`run-s`, `run-p`): each named package.json script, as
/// `npm run SCRIPT` (a pattern such as `build:*` names scripts only known from the file, and is
/// left to the program's own classification).
fn npm_run_all(cx: &mut Ctx, words: &[W], scope: &Scope, inh: &Inh, depth: usize) {
    let one_value = ["--max-parallel", "--npm-path", "--aggregate-output-file"];
    let mut i = 1;
    while let Some(w) = words.get(i) {
        let v = w.v.as_str();
        if v == "--" {
            // Arguments for the scripts, not scripts.
            return;
        }
        if v.starts_with('-') {
            i += if one_value.contains(&v) { 2 } else { 1 };
            continue;
        }
        if !w.dynamic && !v.contains(['*', '?', '{', '[']) {
            let text = lit_like(format!("npm run {v}"), w);
            cx.carried_shell(&text, "npm-run-all", scope, inh, depth);
        }
        i += 1;
    }
}

/// `gdb --args PROG ARGS…` runs PROG (with `run`, which is why it is named); a gdb command
/// `shell CMD`, `!CMD` or `pipe … | CMD` given with `-ex`/`-iex` (`--eval-command`,
/// `--init-eval-command`) is shell text.
fn gdb(cx: &mut Ctx, words: &[W], span: Span, scope: &Scope, inh: &Inh, depth: usize) {
    let command_opts = [
        "-ex",
        "--ex",
        "-eval-command",
        "--eval-command",
        "-iex",
        "--iex",
        "-init-eval-command",
        "--init-eval-command",
    ];
    let mut i = 1;
    while i < words.len() {
        let v = words[i].v.as_str();
        if matches!(v, "--args" | "-args") {
            if i + 1 < words.len() {
                cx.carried_argv(&words[i + 1..], span, "gdb --args", scope, inh, depth);
            }
            return;
        }
        let Some((cmd, n)) = command_opts.iter().find_map(|o| option_value(words, i, o)) else {
            i += 1;
            continue;
        };
        let text = cmd.v.trim_start();
        let shell = text
            .strip_prefix("shell ")
            .or_else(|| text.strip_prefix('!'))
            .or_else(|| {
                let piped = text
                    .strip_prefix("pipe ")
                    .or_else(|| text.strip_prefix('|'))?;
                piped.split_once('|').map(|(_, sh)| sh)
            });
        if let Some(sh) = shell {
            cx.carried_shell(
                &lit_like(sh.trim(), &cmd),
                "gdb -ex shell",
                scope,
                inh,
                depth,
            );
        }
        i += n;
    }
}

/// The value of option `opt` at `words[i]`: `--opt=value`, `--opt value`, `-Xvalue`, `-X value`.
/// Returns the value and how many words it took.
fn option_value(words: &[W], i: usize, opt: &str) -> Option<(W, usize)> {
    let w = &words[i];
    if w.v == opt {
        return words.get(i + 1).map(|n| (n.clone(), 2));
    }
    if opt.starts_with("--") {
        return w
            .v
            .strip_prefix(opt)
            .and_then(|r| r.strip_prefix('='))
            .map(|r| (lit_like(r, w), 1));
    }
    None
}

fn option_shell(
    cx: &mut Ctx,
    words: &[W],
    opts: &[&str],
    label: &str,
    scope: &Scope,
    inh: &Inh,
    depth: usize,
) {
    let mut i = 1;
    while i < words.len() {
        if words[i].v == "--" {
            break;
        }
        let hit = opts.iter().find_map(|o| option_value(words, i, o));
        if let Some((v, n)) = hit {
            cx.carried_shell(&v, label, scope, inh, depth);
            i += n;
        } else {
            i += 1;
        }
    }
}

fn git(cx: &mut Ctx, words: &[W], span: Span, scope: &Scope, inh: &Inh, depth: usize) {
    let mut i = 1;
    while i < words.len() {
        let w = &words[i];
        let v = w.v.as_str();
        if v == "-c" {
            if let Some(kv) = words.get(i + 1) {
                git_config(cx, kv, scope, inh, depth);
            }
            i += 2;
            continue;
        }
        if let Some((kv, n)) = option_value(words, i, "--config-env") {
            if let Some((key, _)) = kv.v.split_once('=')
                && git_command_key(key)
            {
                cx.opaque(
                    kv.span,
                    format!("git --config-env sets `{key}` from a variable: a command only known at run time"),
                    &kv.v,
                );
            }
            i += n;
            continue;
        }
        if matches!(
            v,
            "-C" | "--git-dir"
                | "--work-tree"
                | "--namespace"
                | "--exec-path"
                | "--super-prefix"
                | "--attr-source"
        ) {
            i += 2;
            continue;
        }
        if v.starts_with('-') {
            i += 1;
            continue;
        }
        break;
    }
    let Some(sub) = words.get(i) else {
        return;
    };
    let rest = &words[i + 1..];
    for a in rest {
        if a.v.starts_with("ext::") {
            cx.opaque(a.span, "git's ext:: transport runs a command", &a.v);
        }
    }
    let shell_opts: &[(&str, &str)] = match sub.v.as_str() {
        "rebase" => &[("-x", "git rebase --exec"), ("--exec", "git rebase --exec")],
        "difftool" | "mergetool" => &[("-x", "git difftool -x"), ("--extcmd", "git difftool -x")],
        "clone" | "fetch" | "pull" | "ls-remote" | "archive" => &[
            ("--upload-pack", "git --upload-pack"),
            ("-u", "git --upload-pack"),
            ("--exec", "git --upload-pack"),
        ],
        "push" | "send-pack" => &[
            ("--receive-pack", "git --receive-pack"),
            ("--exec", "git --receive-pack"),
        ],
        "grep" => &[
            ("-O", "git grep -O"),
            ("--open-files-in-pager", "git grep -O"),
        ],
        "filter-branch" => &[
            ("--env-filter", "git filter-branch"),
            ("--tree-filter", "git filter-branch"),
            ("--index-filter", "git filter-branch"),
            ("--parent-filter", "git filter-branch"),
            ("--msg-filter", "git filter-branch"),
            ("--commit-filter", "git filter-branch"),
            ("--tag-name-filter", "git filter-branch"),
        ],
        "bisect" => {
            if rest.first().is_some_and(|w| w.v == "run") {
                cx.carried_argv(&rest[1..], span, "git bisect run", scope, inh, depth);
            }
            return;
        }
        "submodule" => {
            if let Some(p) = rest.iter().position(|w| w.v == "foreach") {
                let cmd: Vec<&W> = rest[p + 1..]
                    .iter()
                    .skip_while(|w| w.v.starts_with("--") || w.v == "-q")
                    .collect();
                if !cmd.is_empty() {
                    let owned: Vec<W> = cmd.into_iter().cloned().collect();
                    let text = wrappers::joined(&owned, span);
                    cx.carried_shell(&text, "git submodule foreach", scope, inh, depth);
                }
            }
            return;
        }
        _ => return,
    };
    let mut j = 0;
    while j < rest.len() {
        if rest[j].v == "--" {
            break;
        }
        let hit = shell_opts.iter().find_map(|(o, label)| {
            if o.len() == 2 && rest[j].v.len() > 2 && rest[j].v.starts_with(o) {
                // `-x'cmd'` / `-Opager`: the value glued to a short option.
                return Some((lit_like(&rest[j].v[2..], &rest[j]), 1, *label));
            }
            option_value(rest, j, o).map(|(v, n)| (v, n, *label))
        });
        if let Some((v, n, label)) = hit {
            cx.carried_shell(&v, label, scope, inh, depth);
            j += n;
        } else {
            j += 1;
        }
    }
}

fn git_config(cx: &mut Ctx, kv: &W, scope: &Scope, inh: &Inh, depth: usize) {
    let Some((key, value)) = kv.v.split_once('=') else {
        return;
    };
    if !git_command_key(key) {
        return;
    }
    let label = format!("git -c {key}");
    let lower = key.to_ascii_lowercase();
    let mut v = lit_like(value, kv);
    if lower.starts_with("credential.") {
        // `!cmd` runs a shell command; a name is the helper `git credential-NAME`; a path runs.
        match value.strip_prefix('!') {
            Some(cmd) => v.v = cmd.to_string(),
            None if value.starts_with('/') => {}
            None if value.is_empty() => return,
            None => v.v = format!("git credential-{value}"),
        }
    }
    if lower == "core.fsmonitor"
        && matches!(value.to_ascii_lowercase().as_str(), "true" | "false" | "")
    {
        return;
    }
    if lower.starts_with("pager.") && matches!(value, "true" | "false" | "") {
        return;
    }
    cx.carried_shell(&v, &label, scope, inh, depth);
}

/// ssh option letters that take a value (`-i key`, `-o opt`, …).
const SSH_VALUE_OPTIONS: &str = "BbcDEeFIiJLlmOopQRSWw";

/// An `-o` option of ssh/scp/sftp that runs a command: local (`ProxyCommand`, `LocalCommand`,
/// `KnownHostsCommand`) or remote (`RemoteCommand`).
fn ssh_option(cx: &mut Ctx, o: &W, host: &str, scope: &Scope, inh: &Inh, depth: usize) {
    let s = o.v.trim_start();
    let split = s.find(['=', ' ', '\t']).unwrap_or(s.len());
    let key = s[..split].to_ascii_lowercase();
    let value = s[split..].trim_start_matches(['=', ' ', '\t']);
    let v = lit_like(value, o);
    match key.as_str() {
        "proxycommand" | "localcommand" | "knownhostscommand"
            if value != "none" && value != "-" =>
        {
            let label = format!("ssh -o {}", &s[..split]);
            cx.carried_shell(&v, &label, scope, inh, depth);
        }
        "remotecommand" if value != "none" => {
            cx.remote_shell(&v, &format!("ssh {host}"), inh, depth);
        }
        _ => {}
    }
}

fn ssh(cx: &mut Ctx, name: &str, words: &[W], inh: &Inh, depth: usize, scope: &Scope) {
    let value_opts = if name == "autossh" {
        "BbcDEeFIiJLlmOopQRSWwM"
    } else {
        SSH_VALUE_OPTIONS
    };
    let mut options: Vec<W> = Vec::new();
    let mut subsystem = false;
    let mut i = 1;
    while i < words.len() {
        let w = &words[i];
        let v = w.v.as_str();
        if w.dynamic || !v.starts_with('-') || v == "-" {
            break;
        }
        if v == "--" {
            i += 1;
            break;
        }
        let chars: Vec<char> = v[1..].chars().collect();
        let mut took = 1;
        for (k, c) in chars.iter().enumerate() {
            if value_opts.contains(*c) {
                let rest: String = chars[k + 1..].iter().collect();
                let val = if rest.is_empty() {
                    took = 2;
                    words.get(i + 1).cloned()
                } else {
                    Some(lit_like(rest, w))
                };
                if *c == 'o'
                    && let Some(val) = val
                {
                    options.push(val);
                }
                break;
            }
            if *c == 's' {
                subsystem = true;
            }
        }
        i += took;
    }
    let host = words.get(i).map(|w| w.v.clone()).unwrap_or_default();
    for o in &options {
        ssh_option(cx, o, &host, scope, inh, depth);
    }
    let command = words.get(i + 1..).unwrap_or(&[]);
    if command.is_empty() || subsystem {
        return;
    }
    let text = wrappers::joined(command, words[i].span);
    cx.remote_shell(&text, &format!("ssh {host}"), inh, depth);
}

fn scp(cx: &mut Ctx, name: &str, words: &[W], span: Span, scope: &Scope, inh: &Inh, depth: usize) {
    let mut i = 1;
    while i < words.len() {
        let w = &words[i];
        if w.v == "--" || !w.v.starts_with('-') {
            i += 1;
            continue;
        }
        if let Some((v, n)) = option_value(words, i, "-o") {
            ssh_option(cx, &v, "", scope, inh, depth);
            i += n;
        } else if let Some((v, n)) = option_value(words, i, "-S") {
            // The program used instead of ssh.
            cx.carried_argv(&[v], span, &format!("{name} -S"), scope, inh, depth);
            i += n;
        } else {
            i += 1;
        }
    }
}

fn rsync(cx: &mut Ctx, words: &[W], scope: &Scope, inh: &Inh, depth: usize) {
    let host = words[1..]
        .iter()
        .filter(|w| !w.v.starts_with('-'))
        .find_map(|w| remote_host(&w.v))
        .unwrap_or_else(|| "?".to_string());
    let mut i = 1;
    while i < words.len() {
        let w = &words[i];
        let v = w.v.as_str();
        if v == "--" {
            break;
        }
        if let Some((val, n)) = option_value(words, i, "--rsh") {
            cx.carried_shell(&val, "rsync -e", scope, inh, depth);
            i += n;
            continue;
        }
        if let Some((val, n)) = option_value(words, i, "--rsync-path") {
            cx.remote_shell(&val, &format!("rsync {host}"), inh, depth);
            i += n;
            continue;
        }
        if v.starts_with('-') && !v.starts_with("--") && v.len() > 1 {
            // A cluster: `-avze 'ssh -p 2222'` or `-essh`.
            let chars: Vec<char> = v[1..].chars().collect();
            let mut took = 1;
            for (k, c) in chars.iter().enumerate() {
                if "BfTM@".contains(*c) {
                    if k + 1 == chars.len() {
                        took = 2;
                    }
                    break;
                }
                if *c == 'e' {
                    let rest: String = chars[k + 1..].iter().collect();
                    let val = if rest.is_empty() {
                        took = 2;
                        words.get(i + 1).cloned()
                    } else {
                        Some(lit_like(rest, w))
                    };
                    if let Some(val) = val {
                        cx.carried_shell(&val, "rsync -e", scope, inh, depth);
                    }
                    break;
                }
            }
            i += took;
            continue;
        }
        i += 1;
    }
}

/// Options of `words` whose value is a program the command runs (with arguments of its own:
/// `rg --pre PROG` runs `PROG FILE` for every file searched); each is analysed as an exec of
/// that program, labelled by its carrier.
fn option_programs(
    cx: &mut Ctx,
    words: &[W],
    span: Span,
    opts: &[(&str, &str)],
    scope: &Scope,
    inh: &Inh,
    depth: usize,
) {
    let mut i = 1;
    while i < words.len() {
        if words[i].v == "--" {
            break;
        }
        if let Some((v, n, label)) = opts
            .iter()
            .find_map(|(o, l)| option_value(words, i, o).map(|(v, n)| (v, n, *l)))
        {
            cx.carried_argv(&[v], span, label, scope, inh, depth);
            i += n;
            continue;
        }
        i += 1;
    }
}

/// The host of an rsync/scp operand `[user@]host:path` or `rsync://host/…`.
fn remote_host(arg: &str) -> Option<String> {
    if let Some(rest) = arg.strip_prefix("rsync://") {
        return rest.split('/').next().map(str::to_string);
    }
    let (host, _) = arg.split_once(':')?;
    if host.is_empty() || host.contains('/') {
        return None;
    }
    Some(host.to_string())
}

fn tar(cx: &mut Ctx, words: &[W], span: Span, scope: &Scope, inh: &Inh, depth: usize) {
    let shell_opts = [
        ("--to-command", "tar --to-command"),
        ("--use-compress-program", "tar --use-compress-program"),
        ("-I", "tar --use-compress-program"),
        ("--rsh-command", "tar --rsh-command"),
    ];
    let script_opts = [
        ("--info-script", "tar --info-script"),
        ("--new-volume-script", "tar --info-script"),
        ("-F", "tar --info-script"),
    ];
    let mut i = 1;
    while i < words.len() {
        if words[i].v == "--" {
            break;
        }
        if let Some((v, n)) = option_value(words, i, "--checkpoint-action") {
            if let Some(cmd) = v.v.strip_prefix("exec=") {
                let c = lit_like(cmd, &v);
                cx.carried_shell(&c, "tar --checkpoint-action", scope, inh, depth);
            }
            i += n;
            continue;
        }
        if let Some((v, n, label)) = shell_opts
            .iter()
            .find_map(|(o, l)| option_value(words, i, o).map(|(v, n)| (v, n, *l)))
        {
            cx.carried_shell(&v, label, scope, inh, depth);
            i += n;
            continue;
        }
        i += 1;
    }
    // A script file run at each volume change.
    option_programs(cx, words, span, &script_opts, scope, inh, depth);
}

/// What a sed script does besides editing its stream.
#[derive(Debug, PartialEq, Eq)]
enum SedEffect {
    /// `e COMMAND`: runs COMMAND.
    Exec(String),
    /// `e` alone or `s///e`: runs text computed at run time.
    ExecPattern,
    /// `w FILE`, `W FILE`, `s///w FILE`: writes FILE.
    Write(String),
    /// `r FILE`, `R FILE`: reads FILE into the output.
    Read(String),
}

/// Reads the rest of a line (for `w FILE`, `e CMD`, `a text`).
fn rest_of_line(b: &[char], i: &mut usize) -> String {
    let start = *i;
    while *i < b.len() && b[*i] != '\n' {
        *i += 1;
    }
    b[start..*i].iter().collect::<String>().trim().to_string()
}

/// Skips a delimited part (`/re/`) starting after the opening delimiter; handles `\d`.
fn skip_delimited(b: &[char], i: &mut usize, delim: char) {
    while *i < b.len() {
        let c = b[*i];
        *i += 1;
        if c == '\\' {
            *i += 1;
        } else if c == delim {
            return;
        }
    }
}

/// A small reader of sed scripts: enough to find `e`, `s///e` and the files written.
fn sed_effects(script: &str) -> Vec<SedEffect> {
    let b: Vec<char> = script.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() || c == ';' || c == '{' || c == '}' || c == '!' {
            i += 1;
            continue;
        }
        if c == '#' {
            rest_of_line(&b, &mut i);
            continue;
        }
        // Addresses.
        if c.is_ascii_digit() || c == '$' || c == ',' || c == '~' || c == '+' {
            i += 1;
            continue;
        }
        if c == '/' {
            i += 1;
            skip_delimited(&b, &mut i, '/');
            // Regex flags `I` / `M` after an address.
            while i < b.len() && (b[i] == 'I' || b[i] == 'M') {
                i += 1;
            }
            continue;
        }
        if c == '\\' {
            if let Some(&d) = b.get(i + 1) {
                i += 2;
                skip_delimited(&b, &mut i, d);
            } else {
                i += 1;
            }
            continue;
        }
        i += 1;
        match c {
            's' | 'y' => {
                let Some(&d) = b.get(i) else { break };
                i += 1;
                skip_delimited(&b, &mut i, d);
                skip_delimited(&b, &mut i, d);
                if c == 'y' {
                    continue;
                }
                while i < b.len() {
                    let f = b[i];
                    if f == 'e' {
                        out.push(SedEffect::ExecPattern);
                        i += 1;
                    } else if f == 'w' {
                        i += 1;
                        out.push(SedEffect::Write(rest_of_line(&b, &mut i)));
                        break;
                    } else if f.is_ascii_alphanumeric() {
                        i += 1;
                    } else {
                        break;
                    }
                }
            }
            'e' => {
                let cmd = rest_of_line_until(&b, &mut i);
                if cmd.is_empty() {
                    out.push(SedEffect::ExecPattern);
                } else {
                    out.push(SedEffect::Exec(cmd));
                }
            }
            'w' | 'W' => out.push(SedEffect::Write(rest_of_line(&b, &mut i))),
            'r' | 'R' => out.push(SedEffect::Read(rest_of_line(&b, &mut i))),
            'a' | 'i' | 'c' | ':' => {
                rest_of_line(&b, &mut i);
            }
            'b' | 't' | 'T' => {
                while i < b.len() && b[i] != ';' && b[i] != '\n' && b[i] != '}' {
                    i += 1;
                }
            }
            _ => {}
        }
    }
    out
}

/// `e COMMAND` takes the rest of the line (GNU sed); a `;` does not end it.
fn rest_of_line_until(b: &[char], i: &mut usize) -> String {
    rest_of_line(b, i)
}

fn sed(cx: &mut Ctx, name: &str, words: &[W], scope: &Scope, inh: &Inh, depth: usize) {
    let mut scripts: Vec<W> = Vec::new();
    let mut script_file = false;
    let mut sandbox = false;
    let mut operands: Vec<&W> = Vec::new();
    let mut i = 1;
    let mut options_done = false;
    while i < words.len() {
        let w = &words[i];
        let v = w.v.as_str();
        if options_done || !v.starts_with('-') || v == "-" {
            operands.push(w);
            i += 1;
            continue;
        }
        if v == "--" {
            options_done = true;
            i += 1;
            continue;
        }
        if v == "--sandbox" {
            sandbox = true;
        }
        if let Some((s, n)) = option_value(words, i, "--expression") {
            scripts.push(s);
            i += n;
            continue;
        }
        if let Some((_, n)) = option_value(words, i, "--file") {
            script_file = true;
            i += n;
            continue;
        }
        if let Some((_, n)) = option_value(words, i, "--line-length") {
            i += n;
            continue;
        }
        if v.starts_with("--") {
            i += 1;
            continue;
        }
        let chars: Vec<char> = v[1..].chars().collect();
        let mut took = 1;
        for (k, c) in chars.iter().enumerate() {
            match c {
                'e' | 'f' | 'l' => {
                    let rest: String = chars[k + 1..].iter().collect();
                    let val = if rest.is_empty() {
                        took = 2;
                        words.get(i + 1).cloned()
                    } else {
                        Some(lit_like(rest, w))
                    };
                    match (c, val) {
                        ('e', Some(s)) => scripts.push(s),
                        ('f', _) => script_file = true,
                        _ => {}
                    }
                    break;
                }
                // `-i[SUFFIX]`, `-s`, `-E`, `-n`, …: the rest of the word is no option value
                // except after `-i`.
                'i' => break,
                _ => {}
            }
        }
        i += took;
    }
    if scripts.is_empty()
        && !script_file
        && let Some(first) = operands.first()
    {
        scripts.push((*first).clone());
    }
    if sandbox {
        return;
    }
    for s in &scripts {
        if s.dynamic {
            continue;
        }
        for e in sed_effects(&s.v) {
            match e {
                SedEffect::Exec(cmd) => {
                    let c = lit_like(cmd, s);
                    cx.carried_shell(&c, &format!("{name} e"), scope, inh, depth);
                }
                SedEffect::ExecPattern => cx.opaque(
                    s.span,
                    format!("{name} runs text computed at run time as a command (`e`)"),
                    &s.v,
                ),
                SedEffect::Write(f) | SedEffect::Read(f)
                    if f.is_empty() || f == "/dev/stdout" || f == "/dev/stdin" => {}
                SedEffect::Write(f) => sed_file(
                    cx,
                    name,
                    "w",
                    s.span,
                    inh,
                    scope,
                    Io {
                        writes: vec![sed_path(f)],
                        ..Io::default()
                    },
                ),
                SedEffect::Read(f) => sed_file(
                    cx,
                    name,
                    "r",
                    s.span,
                    inh,
                    scope,
                    Io {
                        reads: vec![sed_path(f)],
                        ..Io::default()
                    },
                ),
            }
        }
    }
}

/// A sed script's file name as a path: sed expands no `~` (`r ~/x` reads `./~/x`).
fn sed_path(f: String) -> String {
    if f.starts_with('~') {
        format!("./{f}")
    } else {
        f
    }
}

/// The file a sed script's `w` or `r` command writes or reads, as an access of its own.
fn sed_file(cx: &mut Ctx, name: &str, verb: &str, span: Span, inh: &Inh, scope: &Scope, io: Io) {
    let mut w = inh.clone();
    w.wrappers.push(format!("{name} {verb}"));
    cx.emit(vec![name.into()], span, &w, &io, false, scope, Vec::new());
}

/// The shell command an Ex command line runs (`:!cmd`, `:r !cmd`, `:w !cmd`, `:terminal cmd`),
/// or `Err` when it runs code the reader cannot follow (`system()`, `:py`, …).
fn ex_command(cmd: &str) -> Result<Option<String>, ()> {
    let mut s = cmd.trim_start().trim_start_matches(':').trim_start();
    // A range: `%`, `1,5`, `.,$`, `'<,'>`.
    s = s.trim_start_matches(|c: char| c.is_ascii_digit() || ",.;$%'<>".contains(c));
    for prefix in ["silent!", "silent", "sil!", "sil"] {
        if let Some(r) = s.strip_prefix(prefix)
            && (r.is_empty() || r.starts_with(' '))
        {
            s = r.trim_start();
            break;
        }
    }
    if let Some(r) = s.strip_prefix('!') {
        return Ok(Some(r.to_string()));
    }
    let word: String = s.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    let after = &s[word.len()..];
    if matches!(
        word.as_str(),
        "r" | "re" | "rea" | "read" | "w" | "wr" | "wri" | "writ" | "write"
    ) && let Some(r) = after.trim_start().strip_prefix('!')
        && after.starts_with(char::is_whitespace)
    {
        return Ok(Some(r.to_string()));
    }
    if matches!(
        word.as_str(),
        "ter" | "term" | "termi" | "termin" | "termina" | "terminal"
    ) {
        let r = after.trim_start();
        return Ok((!r.is_empty()).then(|| r.to_string()));
    }
    if matches!(
        word.as_str(),
        "sh" | "shell"
            | "py"
            | "python"
            | "py3"
            | "python3"
            | "pyx"
            | "lua"
            | "perl"
            | "ruby"
            | "rub"
            | "mz"
            | "tcl"
            | "exe"
            | "exec"
            | "execute"
            | "so"
            | "source"
            | "luafile"
            | "pyfile"
            | "rubyfile"
            | "perlfile"
    ) || s.contains("system(")
        || s.contains("systemlist(")
        || s.contains("jobstart(")
        || s.contains("termopen(")
    {
        return Err(());
    }
    Ok(None)
}

/// `expect -c SCRIPT`: each `spawn [OPTIONS] CMD …` of the Tcl script starts CMD (its words read
/// as shell words: Tcl's `{…}` grouping aside, they split alike) and `exec CMD` runs one.
fn expect(cx: &mut Ctx, words: &[W], scope: &Scope, inh: &Inh, depth: usize) {
    let scripts = words
        .windows(2)
        .take_while(|p| p[0].v != "--")
        .filter(|p| p[0].v == "-c")
        .map(|p| &p[1]);
    for script in scripts {
        for statement in script.v.split(['\n', ';']).map(str::trim) {
            let Some(rest) = statement
                .strip_prefix("spawn ")
                .or_else(|| statement.strip_prefix("exec "))
            else {
                continue;
            };
            let mut rest = rest.trim_start();
            while let Some(opt) = rest.strip_prefix('-').filter(|_| !rest.starts_with("--")) {
                let (flag, after) = opt.split_once(' ').unwrap_or((opt, ""));
                let takes_value = matches!(flag, "ignore" | "open" | "leaveopen");
                rest = after.trim_start();
                if takes_value {
                    rest = rest.split_once(' ').map_or("", |(_, r)| r).trim_start();
                }
            }
            cx.carried_shell(&lit_like(rest, script), "expect spawn", scope, inh, depth);
        }
    }
}

/// `less +!CMD` (`++!CMD`): the initial command `!` runs CMD in a shell.
fn less(cx: &mut Ctx, words: &[W], scope: &Scope, inh: &Inh, depth: usize) {
    for w in words.iter().skip(1).take_while(|w| w.v != "--") {
        let initial = w.v.strip_prefix("++").or_else(|| w.v.strip_prefix('+'));
        if let Some(cmd) = initial.and_then(|c| c.strip_prefix('!')) {
            cx.carried_shell(&lit_like(cmd, w), "less +!", scope, inh, depth);
        }
    }
}

fn vim(cx: &mut Ctx, name: &str, words: &[W], scope: &Scope, inh: &Inh, depth: usize) {
    let mut cmds: Vec<W> = Vec::new();
    let mut i = 1;
    while i < words.len() {
        let w = &words[i];
        let v = w.v.as_str();
        if v == "--" {
            break;
        }
        if v == "-c" || v == "--cmd" {
            if let Some(n) = words.get(i + 1) {
                cmds.push(n.clone());
            }
            i += 2;
            continue;
        }
        if let Some(c) = v.strip_prefix('+')
            && !c.is_empty()
            && !c.chars().all(|ch| ch.is_ascii_digit())
            && !c.starts_with('/')
        {
            cmds.push(lit_like(c, w));
        }
        i += 1;
    }
    let label = format!("{name} -c");
    for c in cmds {
        if c.dynamic {
            cx.opaque(
                c.span,
                format!("{label} command is computed at run time"),
                &c.v,
            );
            continue;
        }
        match ex_command(&c.v) {
            Ok(Some(shell)) => {
                let s = lit_like(shell, &c);
                cx.carried_shell(&s, &label, scope, inh, depth);
            }
            Ok(None) => {}
            Err(()) => cx.opaque(
                c.span,
                format!("{label} runs code the analyser cannot follow"),
                &c.v,
            ),
        }
    }
}

/// Skips `--opt value` / `-o value` / flags from `i`, with `value_opts` naming options that
/// take a separate value; returns the index of the first operand.
fn skip_options(words: &[W], mut i: usize, value_opts: &[&str]) -> usize {
    while i < words.len() {
        let v = words[i].v.as_str();
        if v == "--" || !v.starts_with('-') || v == "-" {
            break;
        }
        if !v.contains('=') && value_opts.contains(&v) {
            i += 2;
        } else {
            i += 1;
        }
    }
    i.min(words.len())
}

/// SQL client meta-commands that run a shell command on this machine (`\\! cmd`, `\\o |cmd`,
/// mysql's `system cmd`, sqlite's `.system cmd` / `.once |cmd`), and `COPY … PROGRAM 'cmd'`,
/// which the database server runs (remote).
fn sql(cx: &mut Ctx, name: &str, words: &[W], scope: &Scope, inh: &Inh, depth: usize) {
    let mut texts: Vec<&W> = Vec::new();
    let mut owned: Vec<W> = Vec::new();
    let mut operands = 0;
    let mut i = 1;
    while i < words.len() {
        let w = &words[i];
        let v = w.v.as_str();
        if let Some(body) = v.strip_prefix("--warden-stdin=") {
            owned.push(lit_like(body, w));
        } else if let Some(c) = v
            .strip_prefix("--command=")
            .or_else(|| v.strip_prefix("--execute="))
        {
            owned.push(lit_like(c, w));
        } else if matches!(v, "-c" | "-e" | "--command" | "--execute" | "-cmd") {
            if let Some(n) = words.get(i + 1) {
                texts.push(n);
            }
            i += 1;
        } else if name == "sqlite3" && !v.starts_with('-') {
            // `sqlite3 [options] DB [SQL…]`: operands after the database are statements.
            operands += 1;
            if operands > 1 {
                texts.push(w);
            }
        }
        i += 1;
    }
    texts.extend(owned.iter());
    for t in texts {
        if t.dynamic {
            continue;
        }
        for line in t.v.lines() {
            let l = line.trim_start();
            let shell = l
                .strip_prefix("\\!")
                .or_else(|| l.strip_prefix("system "))
                .or_else(|| l.strip_prefix(".system "))
                .or_else(|| l.strip_prefix(".shell "))
                .or_else(|| {
                    ["\\o", "\\g", "\\out", ".output", ".once"]
                        .iter()
                        .find_map(|p| l.strip_prefix(p))
                        .and_then(|r| r.trim_start().strip_prefix('|'))
                });
            if let Some(cmd) = shell {
                let c = lit_like(cmd.trim(), t);
                cx.carried_shell(&c, &format!("{name} \\!"), scope, inh, depth);
            }
            let upper = l.to_ascii_uppercase();
            if let Some(p) = upper.find(" PROGRAM ")
                && upper.trim_start().starts_with("COPY")
            {
                let rest = l[p + 9..].trim_start();
                if let Some(q) = rest.strip_prefix('\'') {
                    let cmd = q.split('\'').next().unwrap_or("");
                    let c = lit_like(cmd, t);
                    cx.remote_shell(&c, &format!("{name} server (COPY PROGRAM)"), inh, depth);
                }
            }
        }
    }
}

fn docker(cx: &mut Ctx, name: &str, words: &[W], span: Span, inh: &Inh, depth: usize) {
    let globals = [
        "-H",
        "--host",
        "--context",
        "-c",
        "--config",
        "-l",
        "--log-level",
        "--tlscacert",
        "--tlscert",
        "--tlskey",
        "-f",
        "--file",
        "-p",
        "--project-name",
        "--profile",
        "--env-file",
        "--project-directory",
    ];
    let mut i = skip_options(words, 1, &globals);
    let mut what = name.to_string();
    if words
        .get(i)
        .is_some_and(|w| w.v == "container" || w.v == "compose")
    {
        what = format!("{name} {}", words[i].v);
        i = skip_options(words, i + 1, &globals);
    }
    if words.get(i).is_some_and(|w| w.v == "run") {
        return container_run(cx, words, i + 1, span, &what, inh, depth);
    }
    if words.get(i).is_none_or(|w| w.v != "exec") {
        return;
    }
    let exec_opts = [
        "-e",
        "--env",
        "--env-file",
        "-u",
        "--user",
        "-w",
        "--workdir",
        "--detach-keys",
        "--index",
    ];
    let j = skip_options(words, i + 1, &exec_opts);
    let j = if words.get(j).is_some_and(|w| w.v == "--") {
        j + 1
    } else {
        j
    };
    let Some(target) = words.get(j) else { return };
    let label = format!("{} exec {}", what.replace(" container", ""), target.v);
    cx.remote_argv(&words[j + 1..], span, &label, inh, depth);
}

/// `docker run [OPTIONS] IMAGE [CMD…]` (`docker compose run SERVICE`, podman, nerdctl): the
/// command runs in a new container, with the image's or service's network, volumes and
/// credentials (`compose run web rails db:drop` drops the service's database), so it is judged
/// as the command it is, started by `docker run` (a throwaway container's own files are no
/// one's: it is not a remote machine's, as `docker exec`'s running one is). `--entrypoint`
/// names the program.
fn container_run(
    cx: &mut Ctx,
    words: &[W],
    at: usize,
    span: Span,
    what: &str,
    inh: &Inh,
    depth: usize,
) {
    const RUN_VALUED: &[&str] = &[
        "-a",
        "--attach",
        "--add-host",
        "--annotation",
        "--blkio-weight",
        "--cap-add",
        "--cap-drop",
        "--cgroup-parent",
        "--cgroupns",
        "--cidfile",
        "--cpu-period",
        "--cpu-quota",
        "--cpu-shares",
        "-c",
        "--cpus",
        "--cpuset-cpus",
        "--cpuset-mems",
        "--detach-keys",
        "--device",
        "--device-cgroup-rule",
        "--dns",
        "--dns-option",
        "--dns-search",
        "--domainname",
        "--entrypoint",
        "-e",
        "--env",
        "--env-file",
        "--expose",
        "--gpus",
        "--group-add",
        "--health-cmd",
        "--health-interval",
        "--health-retries",
        "--health-start-period",
        "--health-timeout",
        "-h",
        "--hostname",
        "--ip",
        "--ip6",
        "--ipc",
        "--isolation",
        "--kernel-memory",
        "-l",
        "--label",
        "--label-file",
        "--link",
        "--log-driver",
        "--log-opt",
        "--mac-address",
        "-m",
        "--memory",
        "--memory-reservation",
        "--memory-swap",
        "--memory-swappiness",
        "--mount",
        "--name",
        "--network",
        "--net",
        "--network-alias",
        "--oom-score-adj",
        "--pid",
        "--pids-limit",
        "--platform",
        "-p",
        "--publish",
        "--pull",
        "--restart",
        "--runtime",
        "--security-opt",
        "--shm-size",
        "--stop-signal",
        "--stop-timeout",
        "--storage-opt",
        "--sysctl",
        "--tmpfs",
        "--ulimit",
        "-u",
        "--user",
        "--userns",
        "--uts",
        "-v",
        "--volume",
        "--volume-driver",
        "--volumes-from",
        "-w",
        "--workdir",
    ];
    let mut j = skip_options(words, at, RUN_VALUED);
    if words.get(j).is_some_and(|w| w.v == "--") {
        j += 1;
    }
    let Some(image) = words.get(j) else { return };
    let entrypoint = words[at..j].iter().enumerate().find_map(|(k, w)| {
        w.v.strip_prefix("--entrypoint=")
            .map(|e| W::lit(e, w.span))
            .or_else(|| {
                (w.v == "--entrypoint")
                    .then(|| words.get(at + k + 1).cloned())
                    .flatten()
            })
    });
    let mut argv: Vec<W> = entrypoint.into_iter().filter(|e| !e.v.is_empty()).collect();
    argv.extend(words[j + 1..].iter().cloned());
    if argv.is_empty() {
        return;
    }
    let label = format!("{} run {}", what.replace(" container", ""), image.v);
    cx.carried_argv(&argv, span, &label, &Scope::default(), inh, depth);
}

fn kubectl(cx: &mut Ctx, name: &str, words: &[W], span: Span, inh: &Inh, depth: usize) {
    let globals = [
        "-n",
        "--namespace",
        "--context",
        "--kubeconfig",
        "--cluster",
        "--user",
        "-s",
        "--server",
        "--token",
        "--as",
        "--as-group",
        "--request-timeout",
        "-v",
    ];
    let i = skip_options(words, 1, &globals);
    if words.get(i).is_none_or(|w| w.v != "exec") {
        return;
    }
    let target = {
        let opts = [
            "-c",
            "--container",
            "-f",
            "--filename",
            "--pod-running-timeout",
            "-n",
            "--namespace",
            "--context",
        ];
        let mut k = i + 1;
        let mut t: Option<&W> = None;
        while k < words.len() && words[k].v != "--" {
            let v = words[k].v.as_str();
            if v.starts_with('-') {
                k += if !v.contains('=') && opts.contains(&v) {
                    2
                } else {
                    1
                };
            } else {
                if t.is_none() {
                    t = Some(&words[k]);
                }
                k += 1;
            }
        }
        t.map(|w| w.v.clone()).unwrap_or_default()
    };
    let label = format!("{name} exec {target}");
    if let Some(p) = words.iter().position(|w| w.v == "--") {
        cx.remote_argv(&words[p + 1..], span, &label, inh, depth);
    } else {
        // The deprecated form `kubectl exec POD CMD…`.
        let t = words.iter().skip(i + 1).position(|w| w.v == target);
        if let Some(t) = t {
            cx.remote_argv(&words[i + 1 + t + 1..], span, &label, inh, depth);
        }
    }
}

fn gcloud(cx: &mut Ctx, words: &[W], inh: &Inh, depth: usize) {
    let Some(ssh_at) = words.iter().take(6).position(|w| w.v == "ssh") else {
        return;
    };
    let target = words[ssh_at + 1..]
        .iter()
        .find(|w| !w.v.starts_with('-'))
        .map(|w| w.v.clone())
        .unwrap_or_default();
    let path: Vec<&str> = words[1..ssh_at]
        .iter()
        .filter(|w| !w.v.starts_with('-'))
        .map(|w| w.v.as_str())
        .collect();
    let label = format!("gcloud {} ssh {target}", path.join(" "));
    let mut i = ssh_at + 1;
    while i < words.len() {
        if words[i].v == "--" {
            // Arguments for ssh: its options, then a command.
            let rest = &words[i + 1..];
            let mut k = 0;
            while k < rest.len() && rest[k].v.starts_with('-') {
                let v = rest[k].v.as_str();
                k += if v.len() == 2 && SSH_VALUE_OPTIONS.contains(&v[1..]) {
                    2
                } else {
                    1
                };
            }
            if k < rest.len() {
                let text = wrappers::joined(&rest[k..], rest[k].span);
                cx.remote_shell(&text, &label, inh, depth);
            }
            break;
        }
        if let Some((v, n)) = option_value(words, i, "--command") {
            cx.remote_shell(&v, &label, inh, depth);
            i += n;
            continue;
        }
        i += 1;
    }
}

fn vagrant(cx: &mut Ctx, words: &[W], inh: &Inh, depth: usize) {
    if words.get(1).is_none_or(|w| w.v != "ssh") {
        return;
    }
    let target = words[2..]
        .iter()
        .find(|w| !w.v.starts_with('-'))
        .map(|w| w.v.clone())
        .unwrap_or_default();
    let label = format!("vagrant ssh {target}").trim_end().to_string();
    let mut i = 2;
    while i < words.len() {
        if let Some((v, n)) =
            option_value(words, i, "-c").or_else(|| option_value(words, i, "--command"))
        {
            cx.remote_shell(&v, &label, inh, depth);
            i += n;
        } else {
            i += 1;
        }
    }
}

fn container_exec(cx: &mut Ctx, name: &str, words: &[W], span: Span, inh: &Inh, depth: usize) {
    if words.get(1).is_none_or(|w| w.v != "exec") {
        return;
    }
    let target = words[2..]
        .iter()
        .find(|w| !w.v.starts_with('-'))
        .map(|w| w.v.clone())
        .unwrap_or_default();
    let label = format!("{name} exec {target}");
    if let Some(p) = words.iter().position(|w| w.v == "--") {
        cx.remote_argv(&words[p + 1..], span, &label, inh, depth);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sed_scripts() {
        assert_eq!(sed_effects("s/a/b/g"), vec![]);
        assert_eq!(sed_effects("s/a/b/e"), vec![SedEffect::ExecPattern]);
        assert_eq!(
            sed_effects("1e rm -rf x"),
            vec![SedEffect::Exec("rm -rf x".into())]
        );
        assert_eq!(
            sed_effects("s|a|b|w out.txt"),
            vec![SedEffect::Write("out.txt".into())]
        );
        assert_eq!(
            sed_effects("/x/w /etc/passwd"),
            vec![SedEffect::Write("/etc/passwd".into())]
        );
        assert_eq!(sed_effects("s/e/w/g;p"), vec![]);
        assert_eq!(sed_effects("/e/d"), vec![]);
        assert_eq!(sed_effects("$!N;e"), vec![SedEffect::ExecPattern]);
        assert_eq!(sed_effects("1,5p"), vec![]);
        assert_eq!(sed_effects("y/abc/xyz/"), vec![]);
        assert_eq!(
            sed_effects("$r footer.txt"),
            vec![SedEffect::Read("footer.txt".into())]
        );
        assert_eq!(
            sed_effects("/x/R /root/.aws/credentials"),
            vec![SedEffect::Read("/root/.aws/credentials".into())]
        );
        // `s/r/x/` substitutes; the `r` is no command.
        assert_eq!(sed_effects("s/r/x/;/R/d"), vec![]);
    }

    #[test]
    fn ex_commands() {
        assert_eq!(ex_command(":!rm -rf x"), Ok(Some("rm -rf x".into())));
        assert_eq!(ex_command("silent !ls"), Ok(Some("ls".into())));
        assert_eq!(ex_command("r !date"), Ok(Some("date".into())));
        assert_eq!(ex_command("w! out"), Ok(None));
        assert_eq!(ex_command("wq!"), Ok(None));
        assert_eq!(ex_command("%s/a/b/g"), Ok(None));
        assert_eq!(ex_command("call system('x')"), Err(()));
        assert_eq!(ex_command("terminal git push"), Ok(Some("git push".into())));
    }

    #[test]
    fn git_keys() {
        assert!(git_command_key("core.sshCommand"));
        assert!(git_command_key("diff.pdf.textconv"));
        assert!(git_command_key("pager.log"));
        assert!(git_command_key("credential.https://x.invalid.helper"));
        assert!(!git_command_key("user.name"));
        assert!(!git_command_key("core.autocrlf"));
    }
}
