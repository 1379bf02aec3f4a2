//! Linux isolation for one Warden action: user, mount, PID, IPC, UTS, cgroup and network
//! namespaces, a pivot_root onto a read-only view of the system with the workspace writable and
//! secrets masked, the home directory showing only the listed toolchains and configuration,
//! Landlock, seccomp, dropped capabilities, resource limits and an environment passed by list. A [`SandboxProfile`] is the only input; [`spawn`] runs it and [`probe`] reports what
//! this kernel can enforce, so callers can refuse instead of silently weakening.
//!
//! Process tree: the supervisor (the calling process, host namespaces) forks a child that unshares
//! every namespace and re-executes an init binary (the small `warden-sandbox-init` installed next
//! to `warden` when present and trusted, else `warden __sandbox-init`; see [`choose_init`] and
//! [`init_main`]);
//! that stage forks PID 1 of the new PID namespace, which builds the filesystem view, brings up
//! `lo`, relays `127.0.0.1:<port>` to the egress proxy's Unix socket, then starts the command
//! fully confined and reaps until it exits.
//!
//! Start-up overlaps: [`launch`] starts the init as soon as the kernel check is done, with only
//! what entering the namespaces needs; while it enters them and PID 1 builds the part of the
//! view every sandbox shares, the caller finishes the profile and [`Launch::spawn`] resolves it
//! (paths, git metadata, home, environment) and hands the rest of the spec to PID 1 through a
//! pipe. The end too: once the command has exited, PID 1 kills and reaps whatever it left
//! running, then reports the status, and [`Running::wait`] returns on that report without
//! waiting for the namespaces to be torn down (the init is reaped later).
//!
//! Limits: rlimits always (processes, open files, address space, CPU, core = 0). RLIMIT_NPROC is
//! counted per (user namespace, uid) since Linux 5.14, so for an unprivileged caller it bounds
//! exactly the sandbox's tasks; the kernel exempts the global root uid from it, so for a root
//! caller the process limit is enforced by the new PID namespace's own `kernel.pid_max`
//! (namespaced since Linux 6.14; limits ≥ 300) or, for smaller limits or where that is missing,
//! a `pids` cgroup (v2, else v1). With cgroup v2, `pids.max` and `memory.max` also bound the
//! whole action. Whatever cannot be enforced is reported in [`Running::notes`] as
//! `not enforced: …`.
//!
//! Exec governance ([`SpawnOptions::exec`]): the command installs one more seccomp filter just
//! before its own exec that hands every `execve`/`execveat` to the supervisor (seccomp user
//! notification; the listener travels to the supervisor over a socket pair). The supervisor reads
//! what each exec is about to run from the calling task's memory and asks the caller's
//! [`ExecDecider`]; a refused exec fails with `EACCES` and a line on the caller's stderr. The
//! command's own exec is the action itself and proceeds unasked. See `exec_supervisor.rs` for
//! the threads and the known limit (a multi-threaded program rewriting its argv).
//!
//! Repository metadata that runs code later is mounted read-only: `.warden/`, and in `.git`
//! everything but the paths where git stores data (objects, refs, logs, index, `HEAD` …; the
//! table is in `git_metadata.rs`, the rule in [`is_git_control_path`]), also in each submodule's
//! repository directory, and a linked worktree's or submodule's `.git` file. A missing control
//! path is first created empty where that changes nothing for git, so it can be; what still got
//! through (a new `commondir`, which is also moved aside, a gitlink added to the index, a rebase
//! todo with `exec` lines) is named in a `warning: …` in [`ExitInfo::notes`]. A workspace with
//! no `.git` at all is not given one: if the command creates a repository holding hooks or
//! code-running configuration, the warning names them. The same holds for the configuration
//! other programs on the host run code from (an agent's hooks and MCP servers, an editor's
//! tasks, commit-hook managers; the list is `policy/workspace-code-config.txt`, see
//! `code_config.rs`): read-only when present, moved aside and named in a warning when the
//! command created it.
//!
//! Named Unix sockets: Landlock (up to ABI 7) does not restrict `connect(2)` to them. The usual
//! places for them (`/run`, `/var/run`, `/tmp`, `/var/tmp`, `/dev/shm`, and the secret paths such
//! as `~/.gnupg` and `~/.ssh`) are replaced or masked, every socket bound on the host when the
//! sandbox starts (the kernel's table, `unix_sockets.rs`) is masked wherever it is, and abstract
//! sockets are cut off by the network namespace. Known gap: a socket bound on the host after the
//! start, outside those places, is reachable.
#![expect(
    unsafe_code,
    reason = "this crate is where Warden calls the OS isolation syscalls"
)]

mod cgroup;
mod code_config;
mod env;
mod exec_filter;
mod exec_supervisor;
mod git_metadata;
mod home;
mod init;
mod mounts;
mod new_repository;
mod probe;
mod profile;
mod rules;
mod seccomp;
mod seccomp_compile;
mod staging;
mod supervisor;
mod sys;
mod unix_sockets;
mod workspace_secrets;

pub use code_config::{BUILTIN_CODE_CONFIG, builtin_code_config, locate_code_config};
pub use env::{
    BUILTIN_ENV_PASS, BUILTIN_ENV_SCRUB, Dropped, EnvReport, env_name_matches, filter_env,
    has_url_password,
};
pub use exec_supervisor::{
    EXEC_ENV_OF_INTEREST, ExecCounts, ExecDecider, ExecEvent, ExecGovernance, ExecSyscall,
    ExecVerdict, PendingExec, builtin_exec_env,
};
pub use git_metadata::{
    GIT_DATA_DIRS, GIT_DATA_FILES, GIT_PLACEHOLDERS, is_data_name as is_git_data_name,
    is_git_control_path,
};
pub use home::BUILTIN_HOME_VISIBLE;
pub use init::{INIT_ARG, init_main};
pub use probe::{Capabilities, Feature, PRETEND_MISSING_ENV, probe};
pub use profile::{
    BUILTIN_SECRET_PATHS, Limits, ProxyEndpoint, READONLY_WORKSPACE_PATHS, SandboxProfile,
};
pub use seccomp::{
    SECCOMP_POLICY, SeccompPolicy, baked_seccomp, build_fingerprint, compile_seccomp,
};
pub use staging::{can_create, staging_check};
pub use supervisor::{
    ExitInfo, INIT_BINARY_NAME, Launch, Output, Running, SpawnOptions, choose_init, launch,
    scratch_base, spawn,
};
pub use workspace_secrets::{BUILTIN_WORKSPACE_SECRETS, WorkspaceSecrets};

/// What can go wrong setting up or running a sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The kernel lacks features the profile asks for, and degraded mode was not allowed.
    #[error(
        "this kernel cannot enforce the sandbox profile: {}; running anyway needs a degraded run to be allowed explicitly",
        .0.join("; ")
    )]
    Degraded(Vec<String>),
    /// The profile is inconsistent (e.g. an empty command, a relative path).
    #[error("invalid sandbox profile: {0}")]
    Profile(String),
    /// Setting up the sandbox failed.
    #[error("sandbox setup failed: {0}")]
    Setup(String),
    /// The seccomp policy file could not be compiled.
    #[error("seccomp policy: {0}")]
    Seccomp(String),
    /// An I/O error in the supervisor.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl SandboxError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}

/// What the Rust runtime's start-up does that Warden relies on, for a binary that starts at its
/// own C `main` (`#![no_main]`) to skip the rest (chiefly reading `/proc/self/maps` to locate the
/// main thread's stack guard, a sizeable part of a short-lived process's start-up):
/// - the standard descriptors 0, 1 and 2 are open: any that is closed is opened on `/dev/null`,
///   so that no file Warden opens later (an audit log, a lock) becomes "standard output" and
///   receives what is printed; if that cannot be done the process aborts, as the runtime would;
/// - `SIGPIPE` is ignored (a write to a closed pipe fails with `EPIPE` instead of killing the
///   process; [`restore_default_sigpipe`] undoes it for commands that only print).
pub fn runtime_start() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    loop {
        // SAFETY: `fds` is a valid array of three `pollfd` for the duration of the call, and a
        // zero timeout never blocks.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) };
        if n >= 0 {
            break;
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => continue,
            // No poll (some seccomp profiles refuse it): check each descriptor instead.
            _ => {
                for pfd in &mut fds {
                    // SAFETY: `fcntl(F_GETFD)` only reads the descriptor's flags.
                    let closed = unsafe { libc::fcntl(pfd.fd, libc::F_GETFD) } == -1
                        && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF);
                    pfd.revents = if closed { libc::POLLNVAL } else { 0 };
                }
                break;
            }
        }
    }
    for pfd in &fds {
        if pfd.revents & libc::POLLNVAL != 0 {
            // SAFETY: opening a constant NUL-terminated path; the lowest free descriptor is the
            // closed standard one, which is the point.
            let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
            if fd != pfd.fd {
                std::process::abort();
            }
        }
    }
    // SAFETY: `signal(2)` with `SIG_IGN` installs no handler code; it sets the disposition the
    // Rust runtime would have set.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// Give `SIGPIPE` back its default disposition (end the process quietly), which the Rust
/// runtime replaces with "ignore". For commands that only print: writing to a reader that has
/// gone (`warden check … | head -c 1`) then ends them like any Unix filter instead of making
/// `println!` panic on `EPIPE`. Not for processes that must outlive a closed peer (servers,
/// supervisors of children).
pub fn restore_default_sigpipe() {
    // SAFETY: `signal(2)` with `SIG_DFL` installs no handler code in this process; it only sets
    // the disposition of SIGPIPE, which nothing else in Warden relies on being ignored for the
    // commands that call this.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
