//! Wrapper peeling: commands that run another command (`sudo`, `env`, `timeout`, `bash -c`,
//! `xargs`, `find -exec`, interpreters with inline code, …) are looked through, recursively, so
//! that policy judges the command that actually runs. The wrappers are data ([`WRAPPERS`]).
//!
//! | wrapper | what is peeled |
//! |---|---|
//! | `sudo`, `doas`, `pkexec`, `run0` | options (`-u user`, `-g grp`, `-E`, `-n`, `--`, …); sets `elevated`; `-D dir` sets `cwd` |
//! | `su -c STRING`, `runuser -c STRING` | STRING analysed as shell text; sets `elevated` (`runuser -u USER [--] cmd`: the command, as `sudo`) |
//! | `env` | `-`, `-i`, `-0`, `-v`, `-u NAME`, `-C dir` (sets `cwd`), `-P path`, `-L`/`-U user`, `-S STRING` (split as GNU env does and read again as options), `--`, `VAR=x` (code-carrying variables analysed) |
//! | `timeout`, `nice`, `nohup`, `stdbuf`, `time`, `setsid`, `ionice`, `chrt`, `taskset`, `caffeinate`, `chroot`, `unshare`, `nsenter`, `builtin`, `exec`, `command`, `busybox`, `sshpass`, `strace`, `ltrace`, `eatmydata`, `fakeroot`, `tini`, `dumb-init`, `dbus-run-session`, `unbuffer`, `chronic`, `ifne`, `xvfb-run`, `gosu`, `su-exec` | options and fixed operands (`timeout DURATION`, `chroot DIR`, `chrt PRIO`, `taskset MASK`, `gosu USER`); `sudo NAME=value cmd` assignments |
//! | `systemd-run`, `ssh-agent`, `firejail`, `proot`, `valgrind`, `heaptrack`, `catchsegv`, `dotenv` | options (`systemd-run -p PROP --unit U`, `proot -r ROOT -b BIND`, `dotenv -e FILE --`, python-dotenv's `dotenv [-f FILE] run`), then the command; the files `dotenv` loads into its environment (`.env` when none is named) are reads of the command |
//! | `cross-env VAR=x cmd` | as `env`: the assignments, then the command (`cross-env-shell`: shell text, see `carried.rs`) |
//! | `poetry`/`pipenv`/`pdm`/`hatch`/`rye`/`pixi`/`uv`/`devbox` `run`, `perf` `stat`/`record`/`trace`, `conda`/`mamba`/`micromamba` `run`, `bundle`/`asdf`/`rbenv`/`pyenv`/`nodenv`/`goenv` `exec`, `direnv exec DIR`, `ip netns exec NAME`, `aws-vault exec PROFILE`, `mise`/`rtx` `exec`/`x`, `op`/`doppler`/`infisical`/`dotenvx` `run`, `npm`/`pnpm`/`yarn` `exec` (npm's `-w NAME`, pnpm's `-F SELECTOR`, `yarn workspace NAME exec`; `-c STRING`, doppler's `--command STRING`: the string as shell text) | reported as is; and only with that subcommand, the command after the tool's options around it (`uv run --with X`, `conda run -n ENV`), its operands, a `--`, then the command (`mise exec node@20 -- cmd`: after the `--`); any other subcommand is the tool itself |
//! | `bash`/`sh`/`zsh`/`dash`/`ksh`/`mksh`/`ash`/`fish` `-c STRING` | STRING analysed as shell text (a dynamic STRING is opaque); with no operand the heredoc / here-string / piped script is analysed |
//! | `eval ARGS` | ARGS joined analysed as shell text, in the current shell (a `cd` leaks out) |
//! | `watch ARGS` | ARGS joined analysed as shell text (`-x`: as argv) |
//! | `flock FILE cmd` / `flock FILE -c STRING` | the command / the string |
//! | `script -c STRING` | the string |
//! | `xargs cmd…` | the command, marked `dynamic`; words holding the replacement string (`-I R`, `-J R`, `-i`, `--replace`) are run-time values, so a shell fed one is opaque |
//! | `parallel cmd… ::: …`, `sem cmd…` | the command is shell text; with `:::` values in the line each job's command is analysed as formed (replacement strings filled, quoted as parallel does); otherwise replacement strings are run-time values |
//! | `apply_patch PATCH`, `apply_patch <<'EOF' … EOF` (Codex's edit format run as a command) | the files its `*** Add File:`, `*** Update File:`, `*** Delete File:` and `*** Move to:` lines name are added to `writes`; a patch not known before it runs is opaque |
//! | `find … -exec/-execdir/-ok/-okdir cmd … ;` | the command, marked `dynamic` (words holding `{}` are run-time values); `find` itself is also reported |
//! | `fd … -x/--exec/-X/--exec-batch cmd …` | the command (the rest of the words, up to a `;`), marked `dynamic` (fd's placeholders are run-time values); `fd` itself is also reported |
//! | `python -c`, `node -e/-p`, `deno eval`, `bun -e`, `perl -e/-E`, `ruby -e`, `php -r`, `lua -e`, `awk PROGRAM` | the interpreter is reported as is, and the process starts inside the code are reported too |
//! | `psql`, `mysql`, `mariadb`, `sqlite3`, `duckdb`, `clickhouse-client` | not peeled: a heredoc / here-string body is appended as `--warden-stdin=<body>`, a file redirected to the input as `--warden-stdin-file=<path>` |
//! | `trap 'HANDLER' SIG` | HANDLER analysed as shell text |
//! | `alias NAME='VALUE'` | VALUE analysed as shell text: a later `NAME` runs it |
//! | `source /dev/stdin`, `. /dev/stdin`, `bash /dev/stdin` (also `/dev/fd/0`, `/proc/self/fd/0`) | the here-string / heredoc / piped input analysed as the script (`source`: in this shell) |
//! | `coproc [NAME] cmd` | peeled approximately (the grammar does not know it) and reported opaque too |
//! | `cd`, `pushd`, `popd` (also via `builtin`/`command`) | not reported; a literal directory becomes `cwd` of what follows |
//! | `tee FILES`, `time -o FILE`, `find -fprint FILE` | the files are added to `writes` (and `find`'s starting points with `-delete` or `-exec rm {}`) |
//! | `source FILE`, `bash FILE` | not peeled (file content; see lookahead in warden-policy); `source <(…)` and `bash <(…)` are also opaque |
//! | `docker run IMAGE CMD`, `docker compose run SERVICE CMD` (podman, nerdctl; `--entrypoint`) | reported as is, then the command, started by `docker run` (a new container's, not a remote one) |
//! | `ssh`, `docker exec`, `kubectl exec`, `gcloud … ssh`, `vagrant ssh -c`, `lxc`/`incus`/`multipass exec`, options holding commands (`git -c`, `ssh -o ProxyCommand`, `rsync -e`, `tar --to-command`, `sed e`, `vim -c`, `less +!CMD`, `expect -c 'spawn CMD'`, …) | reported as is, then the carried commands (see `carried.rs`; remote ones with `remote` set) |

use crate::carried;
use crate::interp::Lang;
use crate::state::{Ctx, Inh, Io, Scope, Stdin, W};
use crate::{MAX_DEPTH, Span};

/// How a wrapper's remaining words are treated once its options are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Options, then `operands` fixed operands, then the command.
    Prefix,
    /// Like `Prefix`, and the command runs with elevated privileges.
    Elevate,
    /// `env`.
    Env,
    /// `su`.
    Su,
    /// A shell: `-c STRING`, a script file, or a script on stdin.
    Shell,
    /// `xargs`.
    Xargs,
    /// `parallel`.
    Parallel,
    /// `find`.
    Find,
    /// `fd` (`-x`/`--exec`, `-X`/`--exec-batch`).
    Fd,
    /// `apply_patch` (Codex's edit format).
    Patch,
    /// `eval`.
    Eval,
    /// `watch`.
    Watch,
    /// `flock`.
    Flock,
    /// `script`.
    Script,
    /// `command`.
    CommandBuiltin,
    /// A tool that runs a command only under one of `subcommands` (`poetry run CMD`,
    /// `bundle exec CMD`): options, the subcommand, options again, `operands` fixed operands,
    /// an optional `--`, then the command. With `tool_specs`, the words up to a `--` are the
    /// tool's own (`mise exec node@20 -- CMD`). One of `text_options` gives the command as shell
    /// text instead (`npm exec -c 'CMD'`). Any other subcommand: the tool itself.
    Run {
        subcommands: &'static [&'static str],
        tool_specs: bool,
        text_options: &'static [&'static str],
    },
}

/// One wrapper program.
#[derive(Debug)]
pub struct Wrapper {
    /// Program names (basename of `argv[0]`).
    pub names: &'static [&'static str],
    pub kind: Kind,
    /// Short options that take a value (`-u user`, `-uuser`).
    pub short_arg: &'static str,
    /// Long options that take a value when not written `--opt=value`.
    pub long_arg: &'static [&'static str],
    /// Operands between the options and the command (`timeout DURATION cmd`).
    pub operands: usize,
}

/// The wrappers that are peeled.
pub static WRAPPERS: &[Wrapper] = &[
    Wrapper {
        names: &["sudo"],
        kind: Kind::Elevate,
        // Not `h`: `-h` alone is help, and a host is only taken as `--host=…`.
        short_arg: "ugCDprtTU",
        long_arg: &[
            "--user",
            "--group",
            "--close-from",
            "--chdir",
            "--host",
            "--prompt",
            "--role",
            "--type",
            "--command-timeout",
            "--other-user",
        ],
        operands: 0,
    },
    Wrapper {
        names: &["doas"],
        kind: Kind::Elevate,
        short_arg: "uC",
        long_arg: &[],
        operands: 0,
    },
    Wrapper {
        names: &["pkexec", "run0"],
        kind: Kind::Elevate,
        short_arg: "ugD",
        long_arg: &[
            "--user",
            "--group",
            "--unit",
            "--property",
            "--description",
            "--chdir",
            "--setenv",
            "--nice",
            "--slice",
            "--machine",
        ],
        operands: 0,
    },
    Wrapper {
        names: &["su"],
        kind: Kind::Su,
        short_arg: "csgG",
        long_arg: &[
            "--command",
            "--shell",
            "--group",
            "--supp-group",
            "--whitelist-environment",
        ],
        operands: 0,
    },
    Wrapper {
        // util-linux's `runuser`: su's form (`runuser -l USER -c CMD`) or sudo's (`-u USER CMD`).
        names: &["runuser"],
        kind: Kind::Su,
        short_arg: "csgGuw",
        long_arg: &[
            "--command",
            "--shell",
            "--group",
            "--supp-group",
            "--user",
            "--whitelist-environment",
        ],
        operands: 0,
    },
    Wrapper {
        names: &["env"],
        kind: Kind::Env,
        // GNU: `-u`, `-C`, `-S`; BSD: `-P altpath`, `-L`/`-U user[/class]`. The `--*-signal`
        // options take a value only as `--opt=SIG`.
        short_arg: "uCSPLU",
        long_arg: &["--unset", "--chdir", "--split-string"],
        operands: 0,
    },
    Wrapper {
        names: &["timeout"],
        kind: Kind::Prefix,
        short_arg: "sk",
        long_arg: &["--signal", "--kill-after"],
        operands: 1,
    },
    Wrapper {
        names: &["nice"],
        kind: Kind::Prefix,
        short_arg: "n",
        long_arg: &["--adjustment"],
        operands: 0,
    },
    Wrapper {
        names: &[
            "nohup",
            "builtin",
            "busybox",
            "setsid",
            "eatmydata",
            "fakeroot",
        ],
        kind: Kind::Prefix,
        short_arg: "",
        long_arg: &[],
        operands: 0,
    },
    Wrapper {
        names: &["caffeinate"],
        kind: Kind::Prefix,
        short_arg: "tw",
        long_arg: &[],
        operands: 0,
    },
    Wrapper {
        names: &["stdbuf"],
        kind: Kind::Prefix,
        short_arg: "ioe",
        long_arg: &["--input", "--output", "--error"],
        operands: 0,
    },
    Wrapper {
        names: &["time"],
        kind: Kind::Prefix,
        short_arg: "fo",
        long_arg: &["--format", "--output"],
        operands: 0,
    },
    Wrapper {
        names: &["exec"],
        kind: Kind::Prefix,
        short_arg: "a",
        long_arg: &[],
        operands: 0,
    },
    Wrapper {
        names: &["command"],
        kind: Kind::CommandBuiltin,
        short_arg: "",
        long_arg: &[],
        operands: 0,
    },
    Wrapper {
        names: &["ionice"],
        kind: Kind::Prefix,
        short_arg: "cnp",
        long_arg: &["--class", "--classdata", "--pid", "--pgid", "--uid"],
        operands: 0,
    },
    Wrapper {
        names: &["chrt"],
        kind: Kind::Prefix,
        short_arg: "T",
        long_arg: &["--sched-runtime", "--sched-deadline", "--sched-period"],
        operands: 1,
    },
    Wrapper {
        names: &["taskset"],
        kind: Kind::Prefix,
        short_arg: "",
        long_arg: &[],
        operands: 1,
    },
    Wrapper {
        names: &["chroot"],
        kind: Kind::Prefix,
        short_arg: "",
        long_arg: &["--userspec", "--groups"],
        operands: 1,
    },
    Wrapper {
        names: &["unshare"],
        kind: Kind::Prefix,
        short_arg: "SGRwl",
        long_arg: &[
            "--setuid",
            "--setgid",
            "--root",
            "--wd",
            "--map-user",
            "--map-group",
            "--map-users",
            "--map-groups",
            "--setgroups",
            "--propagation",
            "--load-interp",
        ],
        operands: 0,
    },
    Wrapper {
        names: &["nsenter"],
        kind: Kind::Prefix,
        short_arg: "tSG",
        long_arg: &["--target", "--setuid", "--setgid", "--env"],
        operands: 0,
    },
    Wrapper {
        names: &["bash", "sh", "zsh", "dash", "ksh", "mksh", "ash", "fish"],
        kind: Kind::Shell,
        short_arg: "oO",
        long_arg: &["--rcfile", "--init-file", "--init-command"],
        operands: 0,
    },
    Wrapper {
        names: &["xargs"],
        kind: Kind::Xargs,
        // GNU and BSD (`-J replstr`, `-R max`, `-S size`).
        short_arg: "adEILnPsJRS",
        long_arg: &[
            "--arg-file",
            "--delimiter",
            "--max-lines",
            "--max-args",
            "--max-procs",
            "--max-chars",
            "--process-slot-var",
        ],
        operands: 0,
    },
    Wrapper {
        names: &["parallel", "sem"],
        kind: Kind::Parallel,
        short_arg: "jSadInNLsECP",
        long_arg: &[
            "--id",
            "--semaphoretimeout",
            "--st",
            "--colsep",
            "--env",
            "--tagstring",
            "--sshloginfile",
            "--slf",
            "--basefile",
            "--return",
            "--ssh",
            "--jobs",
            "--sshlogin",
            "--arg-file",
            "--delimiter",
            "--joblog",
            "--results",
            "--tmpdir",
            "--workdir",
            "--halt",
            "--timeout",
            "--retries",
            "--delay",
        ],
        operands: 0,
    },
    Wrapper {
        names: &["sshpass"],
        kind: Kind::Prefix,
        short_arg: "pfdP",
        long_arg: &[],
        operands: 0,
    },
    Wrapper {
        names: &["strace", "ltrace"],
        kind: Kind::Prefix,
        short_arg: "abeEIoOpPsSuUX",
        long_arg: &[],
        operands: 0,
    },
    Wrapper {
        names: &["gosu", "su-exec"],
        kind: Kind::Elevate,
        short_arg: "",
        long_arg: &[],
        operands: 1,
    },
    Wrapper {
        names: &[
            "tini",
            "dumb-init",
            "dbus-run-session",
            "unbuffer",
            "chronic",
            "ifne",
        ],
        kind: Kind::Prefix,
        short_arg: "pe",
        long_arg: &[],
        operands: 0,
    },
    Wrapper {
        names: &["xvfb-run"],
        kind: Kind::Prefix,
        short_arg: "nsfepw",
        long_arg: &[
            "--server-num",
            "--server-args",
            "--auth-file",
            "--error-file",
            "--xauth-protocol",
            "--wait",
        ],
        operands: 0,
    },
    Wrapper {
        names: &["systemd-run"],
        kind: Kind::Prefix,
        short_arg: "upEMH",
        long_arg: &[
            "--unit",
            "--property",
            "--description",
            "--slice",
            "--setenv",
            "--working-directory",
            "--uid",
            "--gid",
            "--nice",
            "--machine",
            "--host",
            "--service-type",
            "--on-active",
            "--on-boot",
            "--on-startup",
            "--on-unit-active",
            "--on-unit-inactive",
            "--on-calendar",
            "--timer-property",
            "--path-property",
            "--socket-property",
        ],
        operands: 0,
    },
    Wrapper {
        names: &["ssh-agent"],
        kind: Kind::Prefix,
        short_arg: "aEtPO",
        long_arg: &[],
        operands: 0,
    },
    Wrapper {
        // Their options are `--name=value` or flags (`valgrind -q`, `firejail --quiet`).
        names: &["firejail", "valgrind", "heaptrack", "catchsegv"],
        kind: Kind::Prefix,
        short_arg: "",
        long_arg: &[],
        operands: 0,
    },
    Wrapper {
        names: &["proot"],
        kind: Kind::Prefix,
        short_arg: "rbwqkm",
        long_arg: &[
            "--rootfs",
            "--bind",
            "--mount",
            "--cwd",
            "--qemu",
            "--kernel-release",
        ],
        operands: 0,
    },
    Wrapper {
        names: &["dotenv"],
        kind: Kind::Prefix,
        short_arg: "efvp",
        long_arg: &["--file"],
        operands: 0,
    },
    Wrapper {
        names: &["cross-env"],
        kind: Kind::Env,
        short_arg: "",
        long_arg: &[],
        operands: 0,
    },
    Wrapper {
        names: &["poetry", "pipenv", "pdm", "hatch", "rye", "pixi", "devbox"],
        kind: Kind::Run {
            subcommands: &["run"],
            tool_specs: false,
            text_options: &[],
        },
        short_arg: "CPpe",
        long_arg: &[
            "--directory",
            "--project",
            "--config",
            "--environment",
            "--env",
            "--manifest-path",
        ],
        operands: 0,
    },
    Wrapper {
        names: &["npm", "pnpm", "yarn"],
        kind: Kind::Run {
            subcommands: &["exec", "x"],
            tool_specs: false,
            text_options: &["-c", "--call"],
        },
        // `-w NAME`: npm's workspace; `-F SELECTOR`: pnpm's filter.
        short_arg: "cCwF",
        long_arg: &[
            "--call",
            "--package",
            "--prefix",
            "--dir",
            "--filter",
            "--workspace",
            "--cwd",
        ],
        operands: 0,
    },
    Wrapper {
        // `perf stat|record|trace [OPTIONS] [--] CMD…` runs CMD; its other subcommands read
        // data (`perf report`, `perf top`).
        names: &["perf"],
        kind: Kind::Run {
            subcommands: &["stat", "record", "trace"],
            tool_specs: false,
            text_options: &[],
        },
        short_arg: "eptCGrxoIDMFcmu",
        long_arg: &[
            "--event",
            "--pid",
            "--tid",
            "--cpu",
            "--cgroup",
            "--repeat",
            "--field-separator",
            "--output",
            "--interval-print",
            "--delay",
            "--metrics",
            "--freq",
            "--count",
            "--mmap-pages",
            "--call-graph",
            "--uid",
            "--duration",
            "--filter",
            "--control",
            "--pre",
            "--post",
        ],
        operands: 0,
    },
    Wrapper {
        names: &["uv"],
        kind: Kind::Run {
            subcommands: &["run"],
            tool_specs: false,
            text_options: &[],
        },
        short_arg: "pf",
        long_arg: &[
            "--with",
            "--with-editable",
            "--with-requirements",
            "--python",
            "--project",
            "--directory",
            "--package",
            "--env-file",
            "--extra",
            "--group",
            "--only-group",
            "--no-group",
            "--index",
            "--default-index",
            "--index-url",
            "--extra-index-url",
            "--find-links",
            "--config-file",
            "--cache-dir",
            "--color",
            "--prerelease",
            "--resolution",
            "--exclude-newer",
            "--link-mode",
            "--python-platform",
            "--refresh-package",
            "--reinstall-package",
            "--upgrade-package",
        ],
        operands: 0,
    },
    Wrapper {
        names: &["conda", "mamba", "micromamba"],
        kind: Kind::Run {
            subcommands: &["run"],
            tool_specs: false,
            text_options: &[],
        },
        short_arg: "np",
        long_arg: &["--name", "--prefix", "--cwd"],
        operands: 0,
    },
    Wrapper {
        names: &["bundle", "asdf", "rbenv", "pyenv", "nodenv", "goenv"],
        kind: Kind::Run {
            subcommands: &["exec"],
            tool_specs: false,
            text_options: &[],
        },
        short_arg: "",
        long_arg: &["--gemfile"],
        operands: 0,
    },
    Wrapper {
        // `ip netns exec NAME CMD`: the command runs (as root) in that network namespace.
        names: &["ip"],
        kind: Kind::Run {
            subcommands: &["netns"],
            tool_specs: false,
            text_options: &[],
        },
        short_arg: "nbfl",
        long_arg: &[],
        operands: 2,
    },
    Wrapper {
        names: &["direnv"],
        kind: Kind::Run {
            subcommands: &["exec"],
            tool_specs: false,
            text_options: &[],
        },
        short_arg: "",
        long_arg: &[],
        operands: 1,
    },
    Wrapper {
        names: &["aws-vault"],
        kind: Kind::Run {
            subcommands: &["exec"],
            tool_specs: false,
            text_options: &[],
        },
        short_arg: "dtr",
        long_arg: &[
            "--duration",
            "--mfa-token",
            "--region",
            "--backend",
            "--prompt",
            "--keychain",
            "--ec2-server",
            "--ecs-server",
            "--lazy",
        ],
        operands: 1,
    },
    Wrapper {
        names: &["mise", "rtx"],
        kind: Kind::Run {
            subcommands: &["exec", "x"],
            tool_specs: true,
            text_options: &[],
        },
        short_arg: "CEj",
        long_arg: &["--cd", "--env", "--jobs"],
        operands: 0,
    },
    Wrapper {
        names: &["op", "doppler", "infisical", "dotenvx"],
        kind: Kind::Run {
            subcommands: &["run"],
            tool_specs: false,
            text_options: &["--command"],
        },
        short_arg: "pcf",
        long_arg: &[
            "--env-file",
            "--project",
            "--config",
            "--env",
            "--token",
            "--account",
            "--path",
            "--projectId",
            "--watch-path",
            "--command",
        ],
        operands: 0,
    },
    Wrapper {
        names: &["find"],
        kind: Kind::Find,
        short_arg: "",
        long_arg: &[],
        operands: 0,
    },
    Wrapper {
        names: &["fd", "fdfind"],
        kind: Kind::Fd,
        short_arg: "",
        long_arg: &[],
        operands: 0,
    },
    Wrapper {
        names: &["apply_patch", "applypatch"],
        kind: Kind::Patch,
        short_arg: "",
        long_arg: &[],
        operands: 0,
    },
    Wrapper {
        names: &["eval"],
        kind: Kind::Eval,
        short_arg: "",
        long_arg: &[],
        operands: 0,
    },
    Wrapper {
        names: &["watch"],
        kind: Kind::Watch,
        short_arg: "nq",
        long_arg: &["--interval", "--equexit"],
        operands: 0,
    },
    Wrapper {
        names: &["flock"],
        kind: Kind::Flock,
        short_arg: "wE",
        long_arg: &["--timeout", "--wait", "--conflict-exit-code"],
        operands: 1,
    },
    Wrapper {
        names: &["script"],
        kind: Kind::Script,
        short_arg: "cEIOTBo",
        long_arg: &[
            "--command",
            "--echo",
            "--log-in",
            "--log-out",
            "--log-timing",
            "--log-io",
            "--output-limit",
        ],
        operands: 0,
    },
];

/// Interpreters whose inline code is searched for process starts.
fn interpreter(name: &str) -> Option<Lang> {
    let python = name
        .strip_prefix("python")
        .is_some_and(|r| r.chars().all(|c| c.is_ascii_digit() || c == '.'));
    if python || name == "pypy" || name == "pypy3" {
        return Some(Lang::Python);
    }
    match name {
        "node" | "nodejs" | "bun" | "deno" => Some(Lang::Js),
        "perl" => Some(Lang::Perl),
        "ruby" => Some(Lang::Ruby),
        "php" => Some(Lang::Php),
        "lua" | "luajit" | "lua5.1" | "lua5.2" | "lua5.3" | "lua5.4" => Some(Lang::Lua),
        "awk" | "gawk" | "mawk" | "nawk" => Some(Lang::Awk),
        _ => None,
    }
}

/// SQL clients whose stdin (heredoc, here-string) is attached as `--warden-stdin=<body>`.
pub const SQL_CLIENTS: &[&str] = &[
    "psql",
    "mysql",
    "mariadb",
    "sqlite3",
    "duckdb",
    "clickhouse-client",
];

fn lookup(name: &str) -> Option<&'static Wrapper> {
    WRAPPERS.iter().find(|w| w.names.contains(&name))
}

/// A program's name without its directory (`/usr/bin/git` → `git`).
pub(crate) fn basename(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// Parsed options of a wrapper: (flag, value).
type Opts = Vec<(String, Option<W>)>;

/// Skips options starting at `i`; returns the index of the first operand and the options seen.
fn skip_opts(words: &[W], mut i: usize, short_arg: &str, long_arg: &[&str]) -> (usize, Opts) {
    let mut opts = Vec::new();
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
        if let Some(long) = v.strip_prefix("--") {
            if let Some((name, val)) = long.split_once('=') {
                opts.push((format!("--{name}"), Some(W::lit(val, w.span))));
                i += 1;
            } else if long_arg.contains(&v) {
                opts.push((v.to_string(), words.get(i + 1).cloned()));
                i += 2;
            } else {
                opts.push((v.to_string(), None));
                i += 1;
            }
            continue;
        }
        let cluster: Vec<char> = v[1..].chars().collect();
        let mut consumed_next = false;
        for (k, c) in cluster.iter().enumerate() {
            if short_arg.contains(*c) {
                let rest: String = cluster[k + 1..].iter().collect();
                if rest.is_empty() {
                    opts.push((format!("-{c}"), words.get(i + 1).cloned()));
                    consumed_next = true;
                } else {
                    opts.push((format!("-{c}"), Some(W::lit(rest, w.span))));
                }
                break;
            }
            opts.push((format!("-{c}"), None));
        }
        i += if consumed_next { 2 } else { 1 };
    }
    (i.min(words.len()), opts)
}

fn has(opts: &Opts, names: &[&str]) -> bool {
    opts.iter().any(|(o, _)| names.contains(&o.as_str()))
}

fn value<'o>(opts: &'o Opts, names: &[&str]) -> Option<&'o W> {
    opts.iter()
        .rev()
        .find(|(o, _)| names.contains(&o.as_str()))
        .and_then(|(_, v)| v.as_ref())
}

/// Every value given to the options `names`, in order.
fn values(opts: &Opts, names: &[&str]) -> Vec<String> {
    opts.iter()
        .filter(|(o, _)| names.contains(&o.as_str()))
        .filter_map(|(_, v)| v.as_ref().map(|v| v.v.clone()))
        .collect()
}

fn argv(words: &[W]) -> Vec<String> {
    words.iter().map(|w| w.v.clone()).collect()
}

fn dynamic(words: &[W]) -> bool {
    words.iter().any(|w| w.dynamic)
}

/// Emit `words` as the command itself (no further peeling).
fn emit_plain(cx: &mut Ctx, words: &[W], span: Span, io: &Io, scope: &Scope, inh: &Inh) {
    emit_words(cx, words, argv(words), false, span, io, scope, inh);
}

/// Emit `av` (`words`, maybe with arguments appended; `more_dynamic` when those are run-time
/// values) as the command, noting which of `words` are run-time values, each one whole word,
/// when nothing else about the command is.
#[allow(
    clippy::too_many_arguments,
    reason = "the emit parameters plus the words they came from"
)]
fn emit_words(
    cx: &mut Ctx,
    words: &[W],
    av: Vec<String>,
    more_dynamic: bool,
    span: Span,
    io: &Io,
    scope: &Scope,
    inh: &Inh,
) {
    let before = cx.out.commands.len();
    cx.emit(
        av,
        span,
        inh,
        io,
        dynamic(words) || more_dynamic,
        scope,
        Vec::new(),
    );
    let whole = |w: &W| !w.dynamic || !w.split;
    if !inh.dynamic
        && !io.dynamic
        && !more_dynamic
        && words.iter().all(whole)
        && let Some(c) = cx.out.commands.get_mut(before)
    {
        c.one_word_dynamic = (0..words.len()).filter(|&i| words[i].dynamic).collect();
    }
}

/// Attach a wrapper's redirections to the commands its nested text produced; when it produced
/// none but redirects, report the wrapper itself so the writes are not lost.
fn attach(cx: &mut Ctx, first: usize, words: &[W], span: Span, io: &Io, scope: &Scope, inh: &Inh) {
    let last = cx.out.commands.len();
    if first == last {
        if !io.writes.is_empty() || !io.reads.is_empty() {
            emit_plain(cx, words, span, io, scope, inh);
        }
        return;
    }
    for c in &mut cx.out.commands[first..last] {
        c.writes.extend(io.writes.iter().cloned());
        c.reads.extend(io.reads.iter().cloned());
        c.dynamic |= io.dynamic;
    }
}

/// Joins words into one shell string (for `eval`, `watch`, `parallel`).
pub(crate) fn joined(words: &[W], span: Span) -> W {
    let v: Vec<&str> = words.iter().map(|w| w.v.as_str()).collect();
    let mut w = W::lit(v.join(" "), span);
    w.dynamic = dynamic(words);
    w.split = words.iter().any(|w| w.split);
    if let [single] = words {
        w.map = single.map;
    }
    w
}

/// Peel wrappers off `words` and report the command(s) that run.
pub(crate) fn exec(
    cx: &mut Ctx,
    words: Vec<W>,
    span: Span,
    io: Io,
    scope: &mut Scope,
    inh: Inh,
    depth: usize,
) {
    let Some(first) = words.first() else {
        return;
    };
    if first.dynamic {
        cx.opaque(
            span,
            format!("program name `{}` is computed at run time", first.v),
            &first.v,
        );
        return;
    }
    if depth > MAX_DEPTH {
        cx.opaque(
            span,
            format!("nested deeper than {MAX_DEPTH} levels"),
            &argv(&words).join(" "),
        );
        return;
    }
    if matches!(
        first.v.as_str(),
        "for"
            | "do"
            | "done"
            | "then"
            | "fi"
            | "elif"
            | "else"
            | "while"
            | "until"
            | "if"
            | "case"
            | "esac"
            | "in"
            | "select"
            | "function"
            | "{"
            | "}"
            | "!"
            | "[["
    ) {
        // A reserved word in command position: the parser misread a compound command
        // (tree-sitter-bash on `while ! for …; do …; done; do …; done`), so nothing it
        // reported about this part can be trusted.
        cx.opaque(
            span,
            format!(
                "shell syntax the parser misread (`{}` as a command)",
                first.v
            ),
            &argv(&words).join(" "),
        );
        return;
    }
    let name = basename(&first.v).to_string();
    if cx.change_dir(&words, scope) {
        return;
    }
    if let Some(lang) = interpreter(&name) {
        interpreter_cmd(cx, lang, &name, &words, span, io, scope, &inh, depth);
        return;
    }
    if SQL_CLIENTS.contains(&name.as_str()) {
        let mut av = argv(&words);
        let mut stdin_dynamic = false;
        if let Stdin::Text { text, dynamic, .. } = &io.stdin {
            av.push(format!("--warden-stdin={text}"));
            stdin_dynamic = *dynamic;
        }
        // `psql < x.sql`: the statements come from a file, as with `psql -f x.sql`.
        for f in &io.reads {
            av.push(format!("--warden-stdin-file={f}"));
        }
        emit_words(
            cx,
            &words,
            av.clone(),
            stdin_dynamic,
            span,
            &io,
            scope,
            &inh,
        );
        let ws: Vec<W> = av.into_iter().map(|a| W::lit(a, span)).collect();
        carried::carried(cx, &name, &ws, span, scope, &inh, depth);
        return;
    }
    if name == "trap" {
        // `trap [--] 'cmd' SIGNAL…`: the handler is shell text run later by this shell.
        let at = if words.get(1).is_some_and(|w| w.v == "--") {
            2
        } else {
            1
        };
        match words.get(at) {
            Some(h) if !h.v.starts_with('-') && h.v != "-" && words.len() > at + 1 => {
                let h = h.clone();
                let inh2 = inh.with("trap");
                let first = cx.shell_string(&h, scope, &inh2, depth, "trap handler");
                attach(cx, first, &words, span, &io, scope, &inh);
            }
            _ => emit_plain(cx, &words, span, &io, scope, &inh),
        }
        return;
    }
    if name == "alias" {
        // `alias NAME='cmd …'`: a later `NAME` runs the value (zsh expands aliases in scripts,
        // bash with `expand_aliases`): the value is judged as the command it stands for.
        let first = cx.out.commands.len();
        for w in words[1..].iter().filter(|w| !w.v.starts_with('-')) {
            if let Some((_, value)) = w.v.split_once('=') {
                let mut value = W::lit(value, w.span);
                value.dynamic = w.dynamic;
                let inh2 = inh.with("alias");
                cx.shell_string(&value, scope, &inh2, depth, "alias value");
            }
        }
        if cx.out.commands.len() == first {
            emit_plain(cx, &words, span, &io, scope, &inh);
        } else {
            attach(cx, first, &words, span, &io, scope, &inh);
        }
        return;
    }
    if matches!(name.as_str(), "source" | ".") && words.get(1).is_some_and(|w| names_stdin(&w.v)) {
        // `source /dev/stdin <<< 'cmd'`: the script is the input, run in this shell.
        input_script(cx, &name, &words, span, io, scope, &inh, depth);
        return;
    }
    if name == "coproc" {
        // tree-sitter-bash does not parse `coproc [NAME] command`; peel it approximately.
        cx.opaque(
            span,
            "coproc is analysed approximately",
            &argv(&words).join(" "),
        );
        let mut rest = &words[1..];
        if rest.len() > 1 && matches!(rest[1].v.as_str(), "{" | "(") {
            rest = &rest[2..];
        } else if rest
            .first()
            .is_some_and(|w| matches!(w.v.as_str(), "{" | "("))
        {
            rest = &rest[1..];
        }
        if !rest.is_empty() {
            let mut inner = scope.clone();
            exec(
                cx,
                rest.to_vec(),
                span,
                io,
                &mut inner,
                inh.with("coproc"),
                depth + 1,
            );
        }
        return;
    }
    if matches!(name.as_str(), "source" | ".")
        && words
            .get(1)
            .is_some_and(|w| w.v.starts_with("<(") || w.v.starts_with("/dev/fd/"))
    {
        emit_plain(cx, &words, span, &io, scope, &inh);
        cx.opaque(
            span,
            format!("{name} runs a script produced at run time"),
            &words[1].v,
        );
        return;
    }
    if name == "tee" {
        let files: Vec<String> = words[1..]
            .iter()
            .filter(|w| !w.v.starts_with('-') || w.v == "-")
            .filter(|w| {
                !matches!(
                    w.v.as_str(),
                    "-" | "/dev/null" | "/dev/stdout" | "/dev/stderr"
                )
            })
            .map(|w| w.v.clone())
            .collect();
        cx.emit(argv(&words), span, &inh, &io, dynamic(&words), scope, files);
        return;
    }
    let Some(wr) = lookup(&name) else {
        emit_plain(cx, &words, span, &io, scope, &inh);
        carried::carried(cx, &name, &words, span, scope, &inh, depth);
        return;
    };
    // Options of the wrapper itself that hold commands (`perf stat --pre CMD`).
    carried::carried(cx, &name, &words, span, scope, &inh, depth);
    let (i, opts) = skip_opts(&words, 1, wr.short_arg, wr.long_arg);
    let next = depth + 1;
    match wr.kind {
        Kind::Prefix | Kind::Elevate | Kind::CommandBuiltin => {
            let lookup_only = wr.kind == Kind::CommandBuiltin && has(&opts, &["-v", "-V"]);
            let pid_mode = matches!(name.as_str(), "taskset" | "chrt" | "ionice")
                && has(&opts, &["-p", "--pid", "-P", "--pgid", "-u", "--uid"]);
            let sudo_no_exec = wr.kind == Kind::Elevate
                && has(
                    &opts,
                    &[
                        "-e",
                        "--edit",
                        "-l",
                        "--list",
                        "-v",
                        "--validate",
                        "-K",
                        "-k",
                    ],
                );
            let mut operands = wr.operands;
            if name == "taskset" && has(&opts, &["-c", "--cpu-list"]) {
                operands = 1;
            }
            let start = i + operands;
            let mut inner_io = io.clone();
            if name == "time"
                && let Some(f) = value(&opts, &["-o", "--output"])
            {
                inner_io.writes.push(f.v.clone());
            }
            if lookup_only || pid_mode || sudo_no_exec || start >= words.len() {
                let mut inh2 = inh.clone();
                inh2.elevated |= wr.kind == Kind::Elevate;
                emit_plain(cx, &words, span, &inner_io, scope, &inh2);
                return;
            }
            let mut inh2 = inh.with(name.clone());
            inh2.elevated |= wr.kind == Kind::Elevate;
            let mut start = start;
            if name == "time" {
                // The `time` keyword times a whole simple command, assignments included.
                while start < words.len() && !words[start].dynamic && is_assignment(&words[start].v)
                {
                    assignment_operand(cx, &words[start], scope, &inh2, next);
                    start += 1;
                }
            }
            if wr.kind == Kind::Elevate {
                // `sudo NAME=value cmd`: sudo sets the variable for the command.
                while start < words.len() && !words[start].dynamic && is_assignment(&words[start].v)
                {
                    assignment_operand(cx, &words[start], scope, &inh2, next);
                    start += 1;
                }
                if start >= words.len() {
                    emit_plain(cx, &words, span, &inner_io, scope, &inh2);
                    return;
                }
            }
            if name == "dotenv"
                && words[start].v != "run"
                && words.get(start + 1).is_some_and(|w| w.v == "--")
                && start + 2 < words.len()
            {
                // dotenv-cli's `-c [ENV]` takes an optional value: `-c ENV -- cmd`.
                start += 2;
            }
            let mut env_files: Vec<String> = Vec::new();
            if name == "dotenv" && words[start].v == "run" {
                // python-dotenv's `dotenv run [--] cmd` (dotenv-cli's is `dotenv [-e F] [--] cmd`).
                let (j, run_opts) = skip_opts(&words, start + 1, "f", &["--file", "--override"]);
                env_files.extend(values(&run_opts, &["-f", "--file"]));
                if j >= words.len() {
                    emit_plain(cx, &words, span, &inner_io, scope, &inh2);
                    return;
                }
                start = j;
            }
            if name == "dotenv" {
                // The files it loads into the command's environment are read for the command
                // (`.env` when none is named): `dotenv -e .env -- cmd` runs `cmd` with `.env`'s
                // secrets, as `source .env && cmd` does.
                env_files.extend(values(&opts, &["-e", "-f", "--file"]));
                if env_files.is_empty() {
                    env_files.push(".env".into());
                }
                inner_io.reads.extend(env_files);
            }
            if matches!(name.as_str(), "builtin" | "command") {
                // Builtins run in this shell: `builtin cd x` changes its directory.
                exec(
                    cx,
                    words[start..].to_vec(),
                    span,
                    inner_io,
                    scope,
                    inh2,
                    next,
                );
                return;
            }
            let mut inner_scope = scope.clone();
            if let Some(d) = value(&opts, &["-D", "--chdir", "-w", "--wd"]) {
                inner_scope.cwd = Some(join_cwd(scope, d));
            }
            exec(
                cx,
                words[start..].to_vec(),
                span,
                inner_io,
                &mut inner_scope,
                inh2,
                next,
            );
        }
        Kind::Env => env(cx, &words, span, io, scope, &inh, next),
        Kind::Su => {
            let mut inh2 = inh.clone();
            inh2.elevated = true;
            // `su - user -c cmd`, `su user -c cmd`: options may follow `-` and the user.
            let mut more: Opts = Vec::new();
            let mut k = 1;
            while k < words.len() {
                let (j, o) = skip_opts(&words, k, wr.short_arg, wr.long_arg);
                more.extend(o);
                k = j.max(k + 1);
            }
            let cmd =
                value(&opts, &["-c", "--command"]).or_else(|| value(&more, &["-c", "--command"]));
            match cmd {
                Some(c) => {
                    let c = c.clone();
                    let first =
                        cx.shell_string(&c, scope, &inh2.with("su -c"), depth, "su -c string");
                    attach(cx, first, &words, span, &io, scope, &inh2);
                }
                // `runuser -u USER [--] CMD…`: the command itself, as USER (sudo's form).
                None if name == "runuser" && has(&opts, &["-u", "--user"]) && i < words.len() => {
                    let inh3 = inh2.with(name.clone());
                    exec(cx, words[i..].to_vec(), span, io, scope, inh3, next);
                }
                None => emit_plain(cx, &words, span, &io, scope, &inh2),
            }
        }
        Kind::Shell => shell(cx, &name, &words, span, io, scope, &inh, depth),
        Kind::Xargs => {
            let mut rest = words[i..].to_vec();
            if rest.is_empty() {
                rest.push(W::lit("echo", span));
            }
            // The replacement string (`-I R`, `-J R`, `-i[R]`, `--replace[=R]`): every word
            // holding it is only known at run time (a shell string holding it is opaque).
            let mut replace: Option<String> = value(&opts, &["-I", "-J"]).map(|w| w.v.clone());
            for w in &words[1..i] {
                if w.v == "--replace" || w.v == "-i" {
                    replace = Some("{}".into());
                } else if let Some(r) = w.v.strip_prefix("--replace=") {
                    replace = Some(r.to_string());
                } else if let Some(r) = w.v.strip_prefix("-i") {
                    replace = Some(r.to_string());
                }
            }
            // `find … | xargs CMD`: CMD runs on the paths find prints, as with `-exec CMD {} +`
            // (judged as that: `find . -name '*.tmp' | xargs rm` removes under `.`).
            if let (Stdin::Found(found), None) = (&io.stdin, &replace) {
                let mut as_exec = found.clone();
                as_exec.push(W::lit("-exec", span));
                as_exec.extend(rest);
                as_exec.extend([W::lit("{}", span), W::lit("+", span)]);
                find(
                    cx,
                    &as_exec,
                    span,
                    Io::default(),
                    scope,
                    &inh.with("xargs"),
                    depth,
                );
                return;
            }
            // Literal words on its input (`echo a.txt b.txt | xargs rm`): the arguments it adds
            // are those words (xargs splits on blanks; quotes and backslashes, other
            // delimiters or an argument file are left to run time).
            let plain_words = match &io.stdin {
                Stdin::Text {
                    text,
                    dynamic: false,
                    ..
                } if replace.is_none()
                    && !text.contains(['\'', '"', '\\'])
                    && !has(
                        &opts,
                        &["-0", "--null", "-d", "--delimiter", "-a", "--arg-file"],
                    ) =>
                {
                    Some(
                        text.split_whitespace()
                            .map(|t| W::lit(t, span))
                            .collect::<Vec<_>>(),
                    )
                }
                _ => None,
            };
            if let Some(words) = plain_words {
                rest.extend(words);
                // xargs reads its input itself: the command's is /dev/null.
                let mut child_io = io;
                child_io.stdin = Stdin::Terminal;
                let mut inner = scope.clone();
                exec(
                    cx,
                    rest,
                    span,
                    child_io,
                    &mut inner,
                    inh.with("xargs"),
                    next,
                );
                return;
            }
            if let Some(r) = replace.filter(|r| !r.is_empty()) {
                mark_placeholders(&mut rest, &[r.as_str()]);
            }
            let mut inh2 = inh.with("xargs");
            inh2.dynamic = true;
            let mut inner = scope.clone();
            exec(cx, rest, span, io, &mut inner, inh2, next);
        }
        Kind::Parallel => parallel(cx, &name, &words, i, &opts, span, &io, scope, &inh, depth),
        Kind::Find => find(cx, &words, span, io, scope, &inh, depth),
        Kind::Fd => fd(cx, &words, span, io, scope, &inh, depth),
        Kind::Patch => patch(cx, &words, span, io, scope, &inh),
        Kind::Eval => {
            if words.len() < 2 {
                return;
            }
            let s = joined(&words[1..], span);
            if s.dynamic {
                cx.opaque(span, "eval of a string computed at run time", &s.v);
                return;
            }
            // eval runs in the current shell: its `cd` changes the caller's directory.
            let first = cx.text(&s.v, s.text_map(), scope, &inh.with("eval"), next);
            attach(cx, first, &words, span, &io, scope, &inh);
        }
        Kind::Watch => {
            if i >= words.len() {
                emit_plain(cx, &words, span, &io, scope, &inh);
                return;
            }
            if has(&opts, &["-x", "--exec"]) {
                let mut inner = scope.clone();
                exec(
                    cx,
                    words[i..].to_vec(),
                    span,
                    io,
                    &mut inner,
                    inh.with("watch"),
                    next,
                );
            } else {
                let s = joined(&words[i..], span);
                let inh2 = inh.with("watch");
                let first = cx.shell_string(&s, scope, &inh2, depth, "watch command");
                attach(cx, first, &words, span, &io, scope, &inh);
            }
        }
        Kind::Flock => {
            let start = i + 1;
            if start >= words.len() {
                emit_plain(cx, &words, span, &io, scope, &inh);
                return;
            }
            let (j, more) = skip_opts(&words, start, "cwE", &["--command", "--timeout", "--wait"]);
            let inh2 = inh.with("flock");
            if let Some(c) =
                value(&more, &["-c", "--command"]).or_else(|| value(&opts, &["-c", "--command"]))
            {
                let c = c.clone();
                let first = cx.shell_string(&c, scope, &inh2, depth, "flock -c string");
                attach(cx, first, &words, span, &io, scope, &inh);
            } else if j < words.len() {
                let mut inner = scope.clone();
                exec(cx, words[j..].to_vec(), span, io, &mut inner, inh2, next);
            } else {
                emit_plain(cx, &words, span, &io, scope, &inh);
            }
        }
        Kind::Run {
            subcommands,
            tool_specs,
            text_options,
        } => {
            // `yarn workspace NAME exec cmd`: the command in one of the workspaces.
            let i = if name == "yarn" && words.get(i).is_some_and(|w| w.v == "workspace") {
                i + 2
            } else {
                i
            };
            if !words
                .get(i)
                .is_some_and(|w| !w.dynamic && subcommands.contains(&w.v.as_str()))
            {
                emit_plain(cx, &words, span, &io, scope, &inh);
                return;
            }
            // The tool is reported too: some hand the command more than an environment
            // (`aws-vault exec`, `op run` inject stored secrets).
            emit_plain(cx, &words, span, &io, scope, &inh);
            let (j, more) = skip_opts(&words, i + 1, wr.short_arg, wr.long_arg);
            if let Some(text) = value(&more, text_options) {
                let label = format!("{name} {}", words[i].v);
                cx.shell_string(text, scope, &inh.with(label.clone()), depth, &label);
                return;
            }
            let mut start = j + wr.operands;
            if tool_specs && let Some(k) = words[i + 1..].iter().position(|w| w.v == "--") {
                start = start.max(i + 1 + k + 1);
            } else if words.get(start).is_some_and(|w| w.v == "--") {
                start += 1;
            }
            if start >= words.len() {
                return;
            }
            let mut inner_scope = scope.clone();
            let dir = ["-C", "--directory", "--cwd", "--cd"];
            if let Some(d) = value(&more, &dir).or_else(|| value(&opts, &dir)) {
                inner_scope.cwd = Some(join_cwd(scope, d));
            }
            exec(
                cx,
                words[start..].to_vec(),
                span,
                io,
                &mut inner_scope,
                inh.with(name.clone()),
                next,
            );
        }
        Kind::Script => match value(&opts, &["-c", "--command"]) {
            Some(c) => {
                let c = c.clone();
                let inh2 = inh.with("script -c");
                let first = cx.shell_string(&c, scope, &inh2, depth, "script -c string");
                attach(cx, first, &words, span, &io, scope, &inh);
            }
            None => emit_plain(cx, &words, span, &io, scope, &inh),
        },
    }
}

fn join_cwd(scope: &Scope, d: &W) -> String {
    if d.dynamic {
        return d.v.clone();
    }
    match &scope.cwd {
        Some(c) if !(d.v.starts_with('/') || d.v.starts_with('~')) => format!("{c}/{}", d.v),
        _ => d.v.clone(),
    }
}

fn is_assignment(s: &str) -> bool {
    match s.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

#[expect(clippy::too_many_arguments, reason = "mirrors exec's parameters")]
fn shell(
    cx: &mut Ctx,
    name: &str,
    words: &[W],
    span: Span,
    io: Io,
    scope: &mut Scope,
    inh: &Inh,
    depth: usize,
) {
    let mut i = 1;
    let mut cmode = false;
    let mut stdin_mode = false;
    let mut string: Option<W> = None;
    while i < words.len() {
        let w = &words[i];
        let v = w.v.as_str();
        if w.dynamic {
            break;
        }
        if v == "--" || v == "-" {
            i += 1;
            break;
        }
        if let Some(long) = v.strip_prefix("--") {
            if long == "command" {
                cmode = true;
                string = words.get(i + 1).cloned();
                i += 2;
                break;
            }
            if let Some(val) = long.strip_prefix("command=") {
                cmode = true;
                string = Some(W::lit(val, w.span));
                i += 1;
                break;
            }
            i += if ["rcfile", "init-file", "init-command"].contains(&long) {
                2
            } else {
                1
            };
            continue;
        }
        if (v.starts_with('-') || v.starts_with('+')) && v.len() > 1 {
            let mut extra = 0;
            for c in v[1..].chars() {
                match c {
                    'c' => cmode = true,
                    's' => stdin_mode = true,
                    'o' | 'O' => extra += 1,
                    _ => {}
                }
            }
            i += 1 + extra;
            continue;
        }
        break;
    }
    if cmode && string.is_none() {
        string = words.get(i).cloned();
    }
    if cmode {
        let Some(s) = string else {
            emit_plain(cx, words, span, &io, scope, inh);
            return;
        };
        let inh2 = inh.with(format!("{name} -c"));
        let first = cx.shell_string(&s, scope, &inh2, depth, &format!("{name} -c string"));
        attach(cx, first, words, span, &io, scope, inh);
        return;
    }
    // `bash /dev/stdin <<< 'cmd'`: the script is the input.
    let script_is_stdin = i < words.len() && names_stdin(&words[i].v);
    if i < words.len() && !stdin_mode && !script_is_stdin {
        // `bash script.sh`: the script is a file; policy decides.
        emit_plain(cx, words, span, &io, scope, inh);
        if words[i].v.starts_with("<(") || words[i].v.starts_with("/dev/fd/") {
            cx.opaque(
                span,
                format!("{name} runs a script produced at run time"),
                &words[i].v,
            );
        }
        return;
    }
    let mut inner = scope.child_shell();
    input_script(cx, name, words, span, io, &mut inner, inh, depth);
}

/// Whether a script path names the command's own input.
fn names_stdin(path: &str) -> bool {
    matches!(path, "/dev/stdin" | "/dev/fd/0" | "/proc/self/fd/0")
}

/// A shell reading its script from its input (`bash <<'EOF'`, `echo cmd | sh`, `source
/// /dev/stdin <<< cmd`): the here-string / heredoc / piped text analysed in `scope` (a child
/// shell's, or this shell's for `source`); input known only at run time is opaque.
#[expect(clippy::too_many_arguments, reason = "mirrors exec's parameters")]
fn input_script(
    cx: &mut Ctx,
    name: &str,
    words: &[W],
    span: Span,
    io: Io,
    scope: &mut Scope,
    inh: &Inh,
    depth: usize,
) {
    match &io.stdin {
        Stdin::Text {
            text,
            map,
            dynamic,
            heredoc_unquoted,
        } => {
            if *dynamic && !*heredoc_unquoted {
                cx.opaque(
                    span,
                    format!("script fed to {name} is computed at run time"),
                    text,
                );
                return;
            }
            let inh2 = inh.with(format!("{name} <stdin"));
            let mut body_io = io.clone();
            body_io.stdin = Stdin::Terminal;
            let first = cx.text(text, *map, scope, &inh2, depth + 1);
            cx.heredoc_consumed |= *heredoc_unquoted;
            attach(cx, first, words, span, &body_io, scope, inh);
        }
        // File names as a script: what they run is not known.
        Stdin::Pipe | Stdin::Found(_) => {
            emit_plain(cx, words, span, &io, scope, inh);
            cx.opaque(
                span,
                format!("{name} reads its script from a pipe whose content is unknown"),
                &argv(words).join(" "),
            );
        }
        Stdin::Terminal => emit_plain(cx, words, span, &io, scope, inh),
    }
}

/// Where the inline code of an interpreter command is.
enum CodeSource {
    Inline(W, String),
    Stdin,
    /// The script file is a process substitution (`python3 <(curl …)`): code made at run time.
    Substitution(W),
    None,
}

fn interpreter_code(lang: Lang, name: &str, words: &[W]) -> CodeSource {
    let mut codes: Vec<W> = Vec::new();
    let mut flag = String::new();
    let mut i = 1;
    let (code_flags, arg_flags): (&str, &str) = match lang {
        Lang::Python => ("c", "WXQm"),
        Lang::Perl => ("eE", "iIMmlx0dDC"),
        Lang::Ruby => ("e", "rICEFxi0W"),
        Lang::Php => ("rBRE", "fcdzt"),
        Lang::Lua => ("e", "l"),
        Lang::Js => ("ep", "rC"),
        Lang::Awk => ("e", "Ffvil"),
    };
    if name == "deno" {
        if words.get(1).map(|w| w.v.as_str()) != Some("eval") {
            return CodeSource::None;
        }
        let code = words[2..].iter().find(|w| !w.v.starts_with('-'));
        return match code {
            Some(c) => CodeSource::Inline(c.clone(), "deno eval".into()),
            None => CodeSource::None,
        };
    }
    let mut script_file = false;
    let mut operand: Option<W> = None;
    while i < words.len() {
        let w = &words[i];
        let v = w.v.as_str();
        if v == "-" {
            break;
        }
        if v == "--" {
            operand = words.get(i + 1).cloned();
            break;
        }
        if let Some(long) = v.strip_prefix("--") {
            let (lname, lval) = match long.split_once('=') {
                Some((a, b)) => (a, Some(b)),
                None => (long, None),
            };
            if matches!(lname, "eval" | "print" | "source") {
                flag = format!("--{lname}");
                let c = match lval {
                    Some(x) => W::lit(x, w.span),
                    None => match words.get(i + 1) {
                        Some(n) => {
                            i += 1;
                            n.clone()
                        }
                        None => break,
                    },
                };
                codes.push(c);
            } else if lval.is_none() && matches!(lname, "require" | "import" | "file" | "include") {
                if lname == "file" {
                    script_file = true;
                }
                i += 1;
            }
            i += 1;
            continue;
        }
        if v.starts_with('-') && v.len() > 1 && !w.dynamic {
            let cluster: Vec<char> = v[1..].chars().collect();
            let mut consumed = false;
            for (k, c) in cluster.iter().enumerate() {
                if code_flags.contains(*c) {
                    flag = format!("-{c}");
                    let rest: String = cluster[k + 1..].iter().collect();
                    if rest.is_empty() {
                        if let Some(n) = words.get(i + 1) {
                            codes.push(n.clone());
                        }
                        consumed = true;
                    } else {
                        codes.push(W::lit(rest, w.span));
                    }
                    break;
                }
                if arg_flags.contains(*c) {
                    if lang == Lang::Python && *c == 'm' {
                        return CodeSource::None;
                    }
                    if matches!(lang, Lang::Awk | Lang::Php) && *c == 'f' {
                        script_file = true;
                        // `awk -f <(curl …)`: the program file is made at run time.
                        if let Some(n) = words.get(i + 1).filter(|n| n.v.starts_with("<("))
                            && k + 1 == cluster.len()
                        {
                            return CodeSource::Substitution(n.clone());
                        }
                    }
                    let rest_empty = k + 1 == cluster.len();
                    // Perl/Ruby attach these values; Python/Awk/Lua/node take the next word.
                    if rest_empty
                        && !matches!(lang, Lang::Perl)
                        && !(lang == Lang::Ruby && *c != 'r' && *c != 'I')
                    {
                        consumed = true;
                    }
                    break;
                }
            }
            i += if consumed { 2 } else { 1 };
            // Python's `-c` ends option parsing.
            if lang == Lang::Python && !codes.is_empty() {
                break;
            }
            continue;
        }
        operand = Some(w.clone());
        break;
    }
    if !codes.is_empty() {
        let mut c = codes.remove(0);
        for more in codes {
            c.v.push('\n');
            c.v.push_str(&more.v);
            c.dynamic |= more.dynamic;
            c.map = None;
        }
        return CodeSource::Inline(c, format!("{name} {flag}"));
    }
    if lang == Lang::Awk
        && !script_file
        && let Some(p) = operand
    {
        return CodeSource::Inline(p, name.to_string());
    }
    match operand {
        Some(p) if !script_file && (p.v.starts_with("<(") || p.v.starts_with(">(")) => {
            CodeSource::Substitution(p)
        }
        Some(_) => CodeSource::None,
        None if script_file => CodeSource::None,
        None => CodeSource::Stdin,
    }
}

#[expect(clippy::too_many_arguments, reason = "mirrors exec's parameters")]
fn interpreter_cmd(
    cx: &mut Ctx,
    lang: Lang,
    name: &str,
    words: &[W],
    span: Span,
    io: Io,
    scope: &Scope,
    inh: &Inh,
    depth: usize,
) {
    emit_plain(cx, words, span, &io, scope, inh);
    match interpreter_code(lang, name, words) {
        CodeSource::Inline(code, label) => {
            if code.dynamic {
                cx.opaque(
                    code.span,
                    format!("{label} code is computed at run time"),
                    &code.v,
                );
            } else {
                cx.code(lang, &code, scope, inh, depth + 1, &label);
            }
        }
        CodeSource::Stdin => match &io.stdin {
            Stdin::Text {
                text, dynamic, map, ..
            } => {
                if *dynamic {
                    cx.opaque(
                        span,
                        format!("code fed to {name} is computed at run time"),
                        text,
                    );
                } else {
                    let mut w = W::lit(text.clone(), span);
                    w.map = Some(*map);
                    cx.code(lang, &w, scope, inh, depth + 1, &format!("{name} <stdin"));
                }
            }
            Stdin::Pipe | Stdin::Found(_) => cx.opaque(
                span,
                format!("{name} reads its code from a pipe whose content is unknown"),
                &argv(words).join(" "),
            ),
            Stdin::Terminal => {}
        },
        CodeSource::Substitution(p) => cx.opaque(
            p.span,
            format!("{name} runs code read from a process substitution"),
            &p.v,
        ),
        CodeSource::None => {}
    }
}

fn find(cx: &mut Ctx, words: &[W], span: Span, io: Io, scope: &Scope, inh: &Inh, depth: usize) {
    let mut extra_writes = Vec::new();
    let mut deletes = false;
    let mut i = 1;
    let mut execs: Vec<(String, Vec<W>)> = Vec::new();
    while i < words.len() {
        let v = words[i].v.as_str();
        match v {
            "-exec" | "-execdir" | "-ok" | "-okdir" => {
                let start = i + 1;
                let mut j = start;
                while j < words.len() && words[j].v != ";" && words[j].v != "+" {
                    j += 1;
                }
                execs.push((v.to_string(), words[start..j].to_vec()));
                i = j + 1;
            }
            "-fprint" | "-fprint0" | "-fls" | "-fprintf" => {
                if let Some(f) = words.get(i + 1) {
                    extra_writes.push(f.v.clone());
                }
                i += 2;
            }
            "-delete" => {
                deletes = true;
                i += 1;
            }
            _ => i += 1,
        }
    }
    // What `-delete` or an `-exec rm {}` removes lies under the starting points: they are
    // written (`find /srv/data -delete` changes /srv/data as `rm -r` of it would).
    let removes = |cmd: &[W]| {
        cmd.first()
            .is_some_and(|w| matches!(w.v.as_str(), "rm" | "rmdir" | "unlink" | "shred"))
    };
    if deletes || execs.iter().any(|(_, cmd)| removes(cmd)) {
        extra_writes.extend(find_starting_points(words));
    }
    cx.emit(
        argv(words),
        span,
        inh,
        &io,
        dynamic(words),
        scope,
        extra_writes,
    );
    for (flag, cmd) in execs {
        let runner = format!("find {flag}");
        run_on_found(cx, cmd, &runner, &["{}"], span, scope, inh, depth);
    }
}

/// Analyse `cmd`, which `runner` (`find -exec`, `fd -x`) runs on the paths it finds: marked
/// `dynamic`, its words holding one of `placeholders` run-time values.
#[allow(
    clippy::too_many_arguments,
    reason = "the analysis context is threaded through as for every wrapper"
)]
fn run_on_found(
    cx: &mut Ctx,
    mut cmd: Vec<W>,
    runner: &str,
    placeholders: &[&str],
    span: Span,
    scope: &Scope,
    inh: &Inh,
    depth: usize,
) {
    if cmd.is_empty() {
        return;
    }
    let mut inh2 = inh.with(runner.to_owned());
    inh2.dynamic = true;
    let mut inner = scope.clone();
    mark_placeholders(&mut cmd, placeholders);
    exec(cx, cmd, span, Io::default(), &mut inner, inh2, depth + 1);
}

/// fd's options that run a command on what it finds (the command takes the rest of the words,
/// up to a `;`).
const FD_EXEC_OPTIONS: &[&str] = &["-x", "--exec", "-X", "--exec-batch"];

/// Whether `word` is one of fd's options that run a command on what it finds, and the command's
/// first word when the option holds it (`--exec=rm`, as fd's parser takes it): `Some(None)` for
/// `-x`, `Some(Some("rm"))` for `--exec=rm`, `None` for any other word. Here, and where
/// `warden-policy` finds fd's search paths (which end there).
pub fn fd_exec_option(word: &str) -> Option<Option<&str>> {
    if FD_EXEC_OPTIONS.contains(&word) {
        return Some(None);
    }
    let (name, first) = word.split_once('=')?;
    (name.starts_with("--") && FD_EXEC_OPTIONS.contains(&name)).then_some(Some(first))
}

/// `fd … -x CMD…` / `--exec`, `-X` / `--exec-batch`: fd itself, and the command, which takes
/// the rest of the words (up to a `;`), marked `dynamic` as `find -exec`'s: its placeholders
/// (`{}`, `{/}`, `{//}`, `{.}`, `{/.}`) are the paths fd finds, and a command without one gets
/// `{}` as its last word, as fd gives it.
fn fd(cx: &mut Ctx, words: &[W], span: Span, io: Io, scope: &Scope, inh: &Inh, depth: usize) {
    cx.emit(
        argv(words),
        span,
        inh,
        &io,
        dynamic(words),
        scope,
        Vec::new(),
    );
    let mut i = 1;
    while i < words.len() {
        let Some(held) = fd_exec_option(&words[i].v) else {
            i += 1;
            continue;
        };
        let flag = words[i].v.split('=').next().unwrap_or_default().to_owned();
        let start = i + 1;
        let mut j = start;
        while j < words.len() && words[j].v != ";" {
            j += 1;
        }
        const PLACEHOLDERS: [&str; 5] = ["{}", "{/}", "{//}", "{.}", "{/.}"];
        // `--exec=CMD`: the option's word holds the command's first word.
        let mut cmd: Vec<W> = held
            .map(|first| W {
                v: first.to_owned(),
                map: None,
                ..words[i].clone()
            })
            .into_iter()
            .collect();
        cmd.extend_from_slice(&words[start..j]);
        // Without a placeholder fd adds the path as the last word.
        if !cmd.is_empty()
            && !cmd
                .iter()
                .any(|w| PLACEHOLDERS.iter().any(|p| w.v.contains(p)))
        {
            cmd.push(W::lit("{}", span));
        }
        let runner = format!("fd {flag}");
        run_on_found(cx, cmd, &runner, &PLACEHOLDERS, span, scope, inh, depth);
        i = j + 1;
    }
}

/// `apply_patch PATCH` or a patch on stdin: the command, writing the files the patch names.
fn patch(cx: &mut Ctx, words: &[W], span: Span, io: Io, scope: &Scope, inh: &Inh) {
    let text = match (words.get(1), &io.stdin) {
        (Some(w), _) => Some((w.v.clone(), w.dynamic)),
        (None, Stdin::Text { text, dynamic, .. }) => Some((text.clone(), *dynamic)),
        _ => None,
    };
    let writes = match text {
        Some((t, false)) => patch_paths(&t),
        _ => {
            cx.opaque(
                span,
                "apply_patch's patch is not known before it runs",
                &argv(words).join(" "),
            );
            Vec::new()
        }
    };
    cx.emit(argv(words), span, inh, &io, dynamic(words), scope, writes);
}

/// The files a patch in Codex's format writes: those its `*** Add File:`, `*** Update File:`,
/// `*** Delete File:` and `*** Move to:` lines name.
pub(crate) fn patch_paths(patch: &str) -> Vec<String> {
    const HEADERS: [&str; 4] = [
        "*** Add File:",
        "*** Update File:",
        "*** Delete File:",
        "*** Move to:",
    ];
    patch
        .lines()
        .filter_map(|l| {
            let l = l.trim_end();
            HEADERS.iter().find_map(|h| l.strip_prefix(h))
        })
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `find`'s starting points: the operands after its own options (`-H`, `-L`, `-P`, `-D OPTS`,
/// `-OLEVEL`) and before the expression; `.` when there is none.
fn find_starting_points(words: &[W]) -> Vec<String> {
    let mut i = 1;
    while let Some(w) = words.get(i) {
        match w.v.as_str() {
            "-H" | "-L" | "-P" => i += 1,
            "-D" => i += 2,
            v if v.starts_with("-O") => i += 1,
            _ => break,
        }
    }
    let points: Vec<String> = words[i.min(words.len())..]
        .iter()
        .take_while(|w| !w.v.starts_with('-') && !matches!(w.v.as_str(), "(" | "!" | ","))
        .map(|w| w.v.clone())
        .collect();
    if points.is_empty() {
        vec![".".into()]
    } else {
        points
    }
}

/// Marks every word holding one of `placeholders` as known only at run time.
fn mark_placeholders(words: &mut [W], placeholders: &[&str]) {
    for w in words {
        if placeholders.iter().any(|p| w.v.contains(p)) {
            w.dynamic = true;
        }
    }
}

/// A GNU parallel replacement string at the start of `s` (`{}`, `{.}`, `{/}`, `{//}`, `{/.}`,
/// `{#}`, `{%}`, `{3}`, `{3.}`, `{= perl =}`, or the `-I` string); returns its length.
fn parallel_placeholder(s: &str, custom: Option<&str>) -> Option<usize> {
    if let Some(c) = custom
        && !c.is_empty()
        && s.starts_with(c)
    {
        return Some(c.len());
    }
    let rest = s.strip_prefix('{')?;
    if let Some(perl) = rest.strip_prefix('=') {
        return perl.find("=}").map(|e| e + 4);
    }
    let close = rest.find('}')?;
    let inner = &rest[..close];
    let digits = inner.trim_start_matches(|c: char| c.is_ascii_digit());
    let ok = matches!(digits, "" | "." | "/" | "//" | "/." | "#" | "%")
        && !(inner.is_empty() && close != 0)
        && (digits.len() == inner.len() || !digits.starts_with(['#', '%']));
    ok.then_some(close + 2)
}

/// Quotes a value the way GNU parallel does before putting it in the command line.
fn shell_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

/// What a GNU parallel replacement string stands for, given the input values of one job.
fn parallel_value(ph: &str, values: &[String], job: usize) -> Option<String> {
    let inner = ph.strip_prefix('{')?.strip_suffix('}')?;
    if inner.starts_with('=') {
        return None;
    }
    let digits: String = inner.chars().take_while(char::is_ascii_digit).collect();
    let op = &inner[digits.len()..];
    let pick = |v: &str| -> String {
        let base = v.rsplit('/').next().unwrap_or(v);
        let strip_ext = |s: &str| -> String {
            match s.rfind('.') {
                Some(p) if p > 0 && !s[p..].contains('/') => s[..p].to_string(),
                _ => s.to_string(),
            }
        };
        match op {
            "." => strip_ext(v),
            "/" => base.to_string(),
            "//" => v
                .rsplit_once('/')
                .map_or(".".to_string(), |(d, _)| d.to_string()),
            "/." => strip_ext(base),
            _ => v.to_string(),
        }
    };
    match op {
        "#" => return Some(job.to_string()),
        "%" => return Some("1".to_string()),
        _ => {}
    }
    if digits.is_empty() {
        let all: Vec<String> = values.iter().map(|v| shell_quote(&pick(v))).collect();
        Some(all.join(" "))
    } else {
        let n: usize = digits.parse().ok()?;
        values.get(n.checked_sub(1)?).map(|v| shell_quote(&pick(v)))
    }
}

/// Replaces the replacement strings in `cmd` by `f(placeholder)`; appends `tail` when none.
fn parallel_fill(
    cmd: &str,
    custom: Option<&str>,
    mut f: impl FnMut(&str) -> Option<String>,
    tail: impl FnOnce() -> String,
) -> Option<String> {
    let mut out = String::with_capacity(cmd.len() + 16);
    let mut found = false;
    let mut i = 0;
    while i < cmd.len() {
        let rest = &cmd[i..];
        if let Some(len) = parallel_placeholder(rest, custom) {
            let ph = &rest[..len];
            let v = if Some(ph) == custom { f("{}")? } else { f(ph)? };
            out.push_str(&v);
            found = true;
            i += len;
            continue;
        }
        let c = rest.chars().next()?;
        out.push(c);
        i += c.len_utf8();
    }
    if !found {
        out.push(' ');
        out.push_str(&tail());
    }
    Some(out)
}

/// The most jobs a `parallel … ::: …` line is expanded into before it is analysed as a
/// command run on values known only at run time.
const MAX_PARALLEL_JOBS: usize = 64;

/// GNU parallel and `sem`: the command is shell text run once per input; with `:::` values
/// written in the line, each job's command is analysed as the text it forms.
#[expect(clippy::too_many_arguments, reason = "mirrors exec's parameters")]
fn parallel(
    cx: &mut Ctx,
    name: &str,
    words: &[W],
    i: usize,
    opts: &Opts,
    span: Span,
    io: &Io,
    scope: &Scope,
    inh: &Inh,
    depth: usize,
) {
    let mut inh2 = inh.with(name);
    if let Some(h) = value(opts, &["-S", "--sshlogin", "--slf", "--sshloginfile"]) {
        inh2.remote = Some(format!("parallel -S {}", h.v));
    }
    let is_sep = |w: &W| matches!(w.v.as_str(), ":::" | ":::+" | "::::" | "::::+");
    let end = if name == "sem" {
        words.len()
    } else {
        words[i..]
            .iter()
            .position(is_sep)
            .map_or(words.len(), |p| p + i)
    };
    // Input sources: `:::` values (`:::+` linked to the previous source), `::::` files.
    let mut groups: Vec<(bool, Vec<W>)> = Vec::new();
    let mut from_files = false;
    for w in &words[end..] {
        match w.v.as_str() {
            ":::" => groups.push((false, Vec::new())),
            ":::+" => groups.push((true, Vec::new())),
            "::::" | "::::+" => {
                from_files = true;
                groups.push((false, Vec::new()));
            }
            _ => {
                if let Some(g) = groups.last_mut() {
                    g.1.push(w.clone());
                }
            }
        }
    }
    let custom = value(opts, &["-I"]).map(|w| w.v.clone());
    if end == i {
        // `parallel ::: 'cmd1' 'cmd2'`: each argument is a command (read from a file with
        // `::::`, the commands are only known at run time).
        inh2.dynamic = from_files;
        for w in groups.iter().flat_map(|g| &g.1) {
            let first = cx.shell_string(w, scope, &inh2, depth, "parallel command");
            attach(cx, first, words, span, io, scope, inh);
        }
        return;
    }
    let cmd = joined(&words[i..end], span);
    if name == "sem" || has(opts, &["--semaphore"]) {
        // A semaphore runs its command once, as written.
        let first = cx.shell_string(&cmd, scope, &inh2, depth, "sem command");
        attach(cx, first, words, span, io, scope, inh);
        return;
    }
    let literal = !groups.is_empty()
        && !from_files
        && !cmd.dynamic
        && !has(opts, &["-a", "--arg-file", "--pipe", "--pipepart"])
        && groups.iter().all(|g| g.1.iter().all(|w| !w.dynamic));
    if literal {
        // Jobs: the product of the sources, a linked source pairing with the one before.
        let mut jobs: Vec<Vec<String>> = vec![Vec::new()];
        let mut ok = true;
        for (linked, vals) in &groups {
            if *linked {
                for (k, job) in jobs.iter_mut().enumerate() {
                    job.push(
                        vals.get(k % vals.len().max(1))
                            .map_or(String::new(), |w| w.v.clone()),
                    );
                }
                continue;
            }
            let mut next = Vec::new();
            for job in &jobs {
                for v in vals {
                    let mut j = job.clone();
                    j.push(v.v.clone());
                    next.push(j);
                }
            }
            jobs = next;
            if jobs.len() > MAX_PARALLEL_JOBS {
                ok = false;
                break;
            }
        }
        let texts: Option<Vec<String>> = ok
            .then(|| {
                jobs.iter()
                    .enumerate()
                    .map(|(n, vals)| {
                        parallel_fill(
                            &cmd.v,
                            custom.as_deref(),
                            |ph| parallel_value(ph, vals, n + 1),
                            || {
                                vals.iter()
                                    .map(|v| shell_quote(v))
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            },
                        )
                    })
                    .collect()
            })
            .flatten();
        if let Some(texts) = texts {
            for t in texts {
                let w = W::lit(t, span);
                let first = cx.shell_string(&w, scope, &inh2, depth, "parallel command");
                attach(cx, first, words, span, io, scope, inh);
            }
            return;
        }
    }
    // Values known only at run time: each replacement string (or the appended arguments)
    // becomes a quoted run-time value, so a shell fed one (`parallel sh -c {}`) is opaque.
    inh2.dynamic = true;
    let mut seen: Vec<String> = Vec::new();
    let text = parallel_fill(
        &cmd.v,
        custom.as_deref(),
        |ph| {
            let n = seen.iter().position(|p| p == ph).unwrap_or_else(|| {
                seen.push(ph.to_string());
                seen.len() - 1
            });
            Some(format!("\"$__WARDEN_PARALLEL_{n}\""))
        },
        || "\"$__WARDEN_PARALLEL_ARGS\"".to_string(),
    );
    let Some(text) = text else {
        cx.opaque(span, "parallel command built at run time", &cmd.v);
        return;
    };
    let w = W::lit(text, cmd.span);
    let first = cx.shell_string(&w, scope, &inh2, depth, "parallel command");
    // Show the replacement strings as written.
    let restore = |s: &mut String| {
        for (n, ph) in seen.iter().enumerate() {
            *s = s.replace(&format!("$__WARDEN_PARALLEL_{n}"), ph);
        }
        *s = s.replace("$__WARDEN_PARALLEL_ARGS", "{}");
    };
    for c in &mut cx.out.commands[first..] {
        for a in &mut c.argv {
            if a.contains("$__WARDEN_PARALLEL_") {
                restore(a);
            }
        }
    }
    for o in &mut cx.out.opaque {
        if o.text.contains("$__WARDEN_PARALLEL_") {
            restore(&mut o.text);
        }
    }
    attach(cx, first, words, span, io, scope, inh);
}

/// `env`: options (GNU, BSD), `-S STRING` split into words and read again, `NAME=value`
/// assignments, then the command.
fn env(cx: &mut Ctx, words: &[W], span: Span, io: Io, scope: &Scope, inh: &Inh, next: usize) {
    let mut ws: Vec<W> = words[1..].to_vec();
    let mut cwd: Option<W> = None;
    let mut i = 0;
    let mut splits = 0;
    'opts: while i < ws.len() {
        let w = ws[i].clone();
        let v = w.v.as_str();
        if w.dynamic || !v.starts_with('-') {
            break;
        }
        if v == "-" {
            // `env -`: the same as `-i`.
            i += 1;
            continue;
        }
        if v == "--" {
            i += 1;
            break;
        }
        let mut split: Option<(W, usize)> = None;
        if let Some(long) = v.strip_prefix("--") {
            let (lname, lval) = match long.split_once('=') {
                Some((a, b)) => (a, Some(W::lit(b, w.span))),
                None => (long, None),
            };
            let takes = matches!(lname, "unset" | "chdir" | "split-string");
            let (val, n) = match (takes, lval) {
                (true, Some(x)) => (Some(x), 1),
                (true, None) => (ws.get(i + 1).cloned(), 2),
                (false, _) => (None, 1),
            };
            match lname {
                "chdir" => cwd = val,
                "split-string" => {
                    if let Some(x) = val {
                        split = Some((x, n));
                    }
                }
                _ => {}
            }
            if split.is_none() {
                i += n;
                continue;
            }
        } else {
            let chars: Vec<char> = v[1..].chars().collect();
            let mut took = 1;
            for (k, c) in chars.iter().enumerate() {
                if "uCSPLU".contains(*c) {
                    let rest: String = chars[k + 1..].iter().collect();
                    let val = if rest.is_empty() {
                        took = 2;
                        ws.get(i + 1).cloned()
                    } else {
                        let mut x = W::lit(rest, w.span);
                        x.dynamic = w.dynamic;
                        Some(x)
                    };
                    match c {
                        'C' => cwd = val,
                        'S' => {
                            if let Some(x) = val {
                                split = Some((x, took));
                            }
                        }
                        _ => {}
                    }
                    break;
                }
            }
            if split.is_none() {
                i += took;
                continue;
            }
        }
        if let Some((s, n)) = split {
            // The string's words replace the option and are read again as options,
            // assignments and the command (`env -S '-i A=1 cmd args'`).
            splits += 1;
            if s.dynamic || splits > 8 {
                cx.opaque(span, "env -S string computed at run time", &s.v);
                return;
            }
            let Some(parts) = split_env_string(&s.v) else {
                cx.opaque(span, "env -S string refers to variables", &s.v);
                return;
            };
            let new: Vec<W> = parts.into_iter().map(|p| W::lit(p, s.span)).collect();
            ws.splice(i..(i + n).min(ws.len()), new);
            continue 'opts;
        }
    }
    let mut env_inh = inh.with("env");
    while i < ws.len() && !ws[i].dynamic && is_assignment(&ws[i].v) {
        assignment_operand(cx, &ws[i], scope, &env_inh, next);
        env_inh.env.push(ws[i].v.clone());
        i += 1;
    }
    let rest: Vec<W> = ws[i..].to_vec();
    if rest.is_empty() {
        emit_plain(cx, words, span, &io, scope, inh);
        return;
    }
    let mut inner_scope = scope.clone();
    if let Some(d) = cwd {
        inner_scope.cwd = Some(join_cwd(scope, &d));
    }
    exec(cx, rest, span, io, &mut inner_scope, env_inh, next);
}

/// Splits an `env -S` string the way GNU env does: whitespace separates, `'…'` is literal,
/// `"…"` and unquoted text take backslash escapes (`\_` a space, `\c` ends the string), `#`
/// starting a word comments out the rest. `None` when it refers to a variable (`${NAME}`).
fn split_env_string(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for n in chars.by_ref() {
                    if n == '\'' {
                        break;
                    }
                    cur.push(n);
                }
            }
            '"' => {
                in_word = true;
                while let Some(n) = chars.next() {
                    match n {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some('_') => cur.push(' '),
                            Some('n') => cur.push('\n'),
                            Some('t') => cur.push('\t'),
                            Some('c') => return Some(finish(out, cur, true)),
                            Some(m) => cur.push(m),
                            None => {}
                        },
                        '$' => return None,
                        _ => cur.push(n),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('_') if in_word => {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
                Some('_') => {}
                Some('c') => return Some(finish(out, cur, in_word)),
                Some('n') => {
                    in_word = true;
                    cur.push('\n');
                }
                Some('t') => {
                    in_word = true;
                    cur.push('\t');
                }
                Some(m) => {
                    in_word = true;
                    cur.push(m);
                }
                None => {}
            },
            '$' => return None,
            '#' if !in_word => return Some(finish(out, cur, false)),
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    Some(finish(out, cur, in_word))
}

fn finish(mut out: Vec<String>, cur: String, in_word: bool) -> Vec<String> {
    if in_word {
        out.push(cur);
    }
    out
}

/// A `NAME=value` operand of `env` or `sudo`: a variable that carries code is analysed.
fn assignment_operand(cx: &mut Ctx, w: &W, scope: &Scope, inh: &Inh, depth: usize) {
    if let Some((name, value)) = w.v.split_once('=') {
        let mut v = W::lit(value, w.span);
        v.dynamic = w.dynamic;
        cx.carried_variable(name, &v, scope, inh, depth);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_split_string() {
        assert_eq!(
            split_env_string(r#"a 'b c' "d\"e" f\ g"#),
            Some(vec!["a".into(), "b c".into(), "d\"e".into(), "f g".into()])
        );
        assert_eq!(
            split_env_string(r"PATH=/usr/bin git\_x #c"),
            Some(vec!["PATH=/usr/bin".into(), "git".into(), "x".into()])
        );
        assert_eq!(split_env_string("echo ${HOME}"), None);
    }

    #[test]
    fn parallel_replacement_strings() {
        assert_eq!(parallel_placeholder("{}", None), Some(2));
        assert_eq!(parallel_placeholder("{/.}x", None), Some(4));
        assert_eq!(parallel_placeholder("{2}", None), Some(3));
        assert_eq!(parallel_placeholder("{= s/a/b/ =}", None), Some(12));
        assert_eq!(parallel_placeholder("{a}", None), None);
        assert_eq!(
            parallel_value("{.}", &["dir/a.txt".into()], 1),
            Some("'dir/a'".into())
        );
    }
}
