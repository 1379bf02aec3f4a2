//! Exec governance, the supervisor's side: every `execve`/`execveat` inside the sandbox waits in
//! the kernel (seccomp user notification, see `exec_filter.rs`) while the supervisor reads what
//! it is about to run — path, argv, cwd and the environment variables of [`EXEC_ENV_OF_INTEREST`]
//! — from the calling task's memory (bounded), and an [`ExecDecider`] supplied by the caller
//! says whether it proceeds. The sandbox crate defines the question and the answer; what the
//! answer is (tiers, approvals, records) belongs to the governor.
//!
//! Threads: one *receiver* (at first the thread that received the listener) waits for the next
//! notification and answers it itself (no other thread is woken for an exec, which on a virtual
//! machine's two cores cost a quarter of the notification path), and one *standby*, started with
//! the first exec that needs a decision, sleeps on a timer the receiver arms for
//! [`HANDOFF_AFTER`] while it decides. A decision that takes longer — a person is asked, a disk
//! is slow, a build's compilers keep the CPUs busy — lets the timer fire: the standby takes over
//! receiving and the held thread, once done, becomes the standby, or a spare when there is one
//! already; a new standby is a spare woken, and a thread is started only when there is none (at
//! most [`MAX_SPARES`] wait). So a held exec delays another by at most [`HANDOFF_AFTER`], never
//! by the hold. A task that dies while its exec is held is noticed
//! ([`PendingExec::still_waiting`]); answering it is then a no-op.
//!
//! Answered without asking: the command's own exec (the action itself); a path that does not
//! exist in the sandbox (a shell trying each `PATH` entry; failed with the kernel's own error,
//! never let through, so nothing can appear there in between); the same task retrying an argv
//! just refused (the next `PATH` entry), refused again. Everything else, `execveat` of a file
//! descriptor (`fexecve` of a memfd) included, is decided.
//!
//! Known limit (DESIGN.md): the kernel reads the exec's arguments again after the answer. The
//! calling thread is blocked, but another thread of the same program (or a process sharing its
//! memory) can rewrite them in between. The supervisor reads path and argv a second time after
//! the decision and refuses when they changed, which closes the window while a decision is
//! held, not the last microseconds before the kernel's own read.

use crate::{exec_filter, sys};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

/// The environment variables handed to the decider (data file `policy/exec-env.txt`).
pub const EXEC_ENV_OF_INTEREST: &str = include_str!("../policy/exec-env.txt");

/// The name patterns of [`EXEC_ENV_OF_INTEREST`].
pub fn builtin_exec_env() -> Vec<String> {
    EXEC_ENV_OF_INTEREST
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The scheduler slice of the supervisor's threads (the kernel's least, 0.1 ms; the default is
/// several times that): a short slice means an early virtual deadline, so a woken supervisor
/// thread is picked before a CPU-bound task's slice ends. It works for a few microseconds per
/// exec, so the short slice costs the sandboxed programs nothing measurable.
const SUPERVISOR_SLICE_NS: u64 = 100_000;

/// Bounds on what is read from a task: more is marked [`ExecEvent::truncated`].
const MAX_ARGS: usize = 1 << 17;
const MAX_ARGV_BYTES: usize = 4 << 20;
const MAX_ENV_VALUE: usize = 64 << 10;
const PAGE: u64 = 4096;

/// Which exec syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecSyscall {
    /// `execve(2)`.
    Execve,
    /// `execveat(2)`.
    Execveat,
}

/// One exec inside the sandbox, as the calling task asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecEvent {
    /// The calling task (in the supervisor's PID namespace).
    pub pid: u32,
    /// Which syscall.
    pub syscall: ExecSyscall,
    /// The program, made absolute against the working directory (or the `execveat` directory
    /// fd); for `execveat(fd, "", …, AT_EMPTY_PATH)`, what the fd refers to.
    pub path: PathBuf,
    /// The argument vector (invalid UTF-8 replaced).
    pub argv: Vec<String>,
    /// The calling task's working directory, as the sandbox sees it.
    pub cwd: PathBuf,
    /// The variables of the new environment whose names match the governance's patterns, in
    /// their order there.
    pub env: Vec<(String, String)>,
    /// Some argument or variable exceeded the bounds and was cut (an argument may then be
    /// incomplete or empty): the exec is not fully known, and a decider should not let it pass
    /// as if it were.
    pub truncated: bool,
}

/// What to do with an exec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecVerdict {
    /// Let it run.
    Proceed,
    /// Fail it with `EACCES`; `reason` is written as one line to the calling task's stderr.
    Refuse {
        /// Why, for the person or agent reading the action's output.
        reason: String,
    },
}

/// Decides nested execs. Called on a pool thread per pending exec; blocking in `decide` holds
/// that exec (and only that one) until it returns.
pub trait ExecDecider: Send + Sync {
    /// The verdict for `exec`.
    fn decide(&self, exec: &ExecEvent, pending: &PendingExec<'_>) -> ExecVerdict;
}

/// Exec governance for one sandbox: the decider and which environment variables it sees.
#[derive(Clone)]
pub struct ExecGovernance {
    /// Asked for every exec after the command's own.
    pub decider: Arc<dyn ExecDecider>,
    /// Name patterns (`*` wildcard, case-insensitive) of the variables put in [`ExecEvent::env`].
    pub env_of_interest: Vec<String>,
}

impl ExecGovernance {
    /// Governance by `decider`, with the built-in variable list ([`builtin_exec_env`]).
    pub fn new(decider: Arc<dyn ExecDecider>) -> Self {
        Self {
            decider,
            env_of_interest: builtin_exec_env(),
        }
    }
}

impl std::fmt::Debug for ExecGovernance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecGovernance")
            .field("env_of_interest", &self.env_of_interest)
            .finish_non_exhaustive()
    }
}

/// What the exec supervisor did for one sandbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecCounts {
    /// Execs put to the decider.
    pub decided: u64,
    /// Of those, let run.
    pub proceeded: u64,
    /// Of those, refused (by the decider, unreadable, or changed while being decided).
    pub refused: u64,
    /// Execs whose task was gone (killed) before the answer.
    pub vanished: u64,
    /// Refusals because path or argv changed between the read and the answer.
    pub changed: u64,
    /// Execs of paths that do not exist (or are no file) inside the sandbox, failed with the
    /// kernel's own error without asking (a shell searching `PATH` tries several).
    pub absent: u64,
    /// Repeats of a refused exec by the same task (the next `PATH` entry), refused again
    /// without asking.
    pub repeated: u64,
    /// Supervisor threads started besides the first (a standby; another only when every
    /// thread there is was busy deciding).
    pub threads_started: u64,
}

/// The exec being decided, for a decider that holds it.
pub struct PendingExec<'a> {
    shared: &'a Shared,
    id: u64,
    pid: i32,
}

impl PendingExec<'_> {
    /// Is the task still waiting in `execve` for this answer? False once it was killed (or the
    /// sandbox ended): a holding decider can stop asking.
    pub fn still_waiting(&self) -> bool {
        sys::notif_id_valid(self.shared.listener.as_raw_fd(), self.id)
    }

    /// The command lines of the calling task (as it is before the exec) and of its ancestors up
    /// to the action itself, nearest first: where a nested command came from (`npm test` → `sh
    /// -c …`). Best effort (at most 16).
    pub fn callers(&self) -> Vec<Vec<String>> {
        let action = self.shared.action_pid.load(Ordering::Relaxed);
        let mut out = Vec::new();
        let mut pid = self.pid;
        while pid > 1 && out.len() < 16 {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                break;
            };
            out.push(
                cmdline
                    .split(|&b| b == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect(),
            );
            if pid == action {
                break;
            }
            pid = parent_pid(pid).unwrap_or(0);
        }
        out
    }
}

fn parent_pid(pid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The running exec supervisor of one sandbox.
pub(crate) struct ExecSupervisor {
    stop: Option<std::fs::File>,
    done: std::sync::mpsc::Receiver<ExecCounts>,
}

impl std::fmt::Debug for ExecSupervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecSupervisor").finish_non_exhaustive()
    }
}

/// Start supervising the sandbox whose command will send its listener over `socket`.
pub(crate) fn start(socket: OwnedFd, governance: ExecGovernance) -> io::Result<ExecSupervisor> {
    let (stop_r, stop_w) = sys::pipe()?;
    let handoff = sys::timerfd()?;
    let (tx, done) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("warden-exec".into())
        .spawn(move || {
            let counts = match receive_listener(&socket, &stop_r) {
                Some(listener) => run_pool(listener, governance, handoff),
                None => ExecCounts::default(),
            };
            let _ = tx.send(counts);
        })?;
    Ok(ExecSupervisor {
        stop: Some(stop_w),
        done,
    })
}

impl ExecSupervisor {
    /// After the sandbox has ended: wait (bounded) until every exec was answered and return
    /// what was done. `None` if the supervisor did not finish in time (it is left behind).
    pub(crate) fn finish(mut self, timeout: std::time::Duration) -> Option<ExecCounts> {
        drop(self.stop.take());
        self.done.recv_timeout(timeout).ok()
    }
}

/// Wait for the listener fd from the sandbox; `None` when the sandbox ended (or the supervisor
/// stopped) without sending one.
fn receive_listener(socket: &OwnedFd, stop: &std::fs::File) -> Option<OwnedFd> {
    loop {
        let ev = sys::poll(
            &[
                (socket.as_raw_fd(), libc::POLLIN),
                (stop.as_raw_fd(), libc::POLLIN),
            ],
            -1,
        )
        .ok()?;
        if ev[0] != 0 {
            return sys::recv_fd(socket.as_raw_fd(), false).ok().flatten();
        }
        if ev[1] != 0 {
            // The sandbox has ended: a listener it sent is already queued, or none is coming.
            return sys::recv_fd(socket.as_raw_fd(), true).ok().flatten();
        }
    }
}

/// How long the receiver decides an exec before the standby takes over receiving.
///
/// Longer than a scheduler tick (4 ms at 250 Hz): the timer is armed for every decided exec
/// (and was disarmed after it, until that was found unneeded), and one that would expire before
/// the CPU's next tick must reprogram the CPU's timer each time — on a virtual machine a trap,
/// ~10 µs per call measured in the supervisor. At 0.5 ms, as before, an exec storm under `--govern` took 1.92 s against 1.79 s
/// at 5 ms (2,000 execs, medians of 8 alternating runs; the supervisor's CPU 170 -> 130 ms).
/// The price: a disk whose flush takes between 0.5 and 5 ms no longer lets another exec be
/// received while one record is flushed (a person asked still is, after 5 ms).
const HANDOFF_AFTER: std::time::Duration = std::time::Duration::from_millis(5);

struct Shared {
    listener: OwnedFd,
    governance: ExecGovernance,
    /// `governance.env_of_interest`, compiled.
    env_of_interest: EnvNames,
    /// Which thread does what (see the module documentation).
    roles: Mutex<Roles>,
    /// Spare threads wait on it to be made the standby (or told the listener ended).
    spare_wanted: std::sync::Condvar,
    /// Armed by the receiver while it decides; wakes the standby when it expires.
    handoff: OwnedFd,
    /// The first notification is the command's own exec: it proceeds without asking.
    first: AtomicBool,
    action_pid: AtomicI32,
    /// The sandbox's root directory, opened from the command's own task at its exec: every
    /// task of the sandbox has it (its seccomp policy denies `chroot`, `pivot_root`, `setns`,
    /// `mount` and new mount namespaces), so an exec's path is looked up in it without opening
    /// `/proc/<pid>/root` each time. A wrong answer could only fail an exec with the kernel's
    /// own error (the file is not there) or put it to the decider.
    root: std::sync::OnceLock<OwnedFd>,
    /// The last refusal (task, argv, reason): the same task trying the same argv from the next
    /// `PATH` entry gets the same answer, without a second decision.
    last_refusal: Mutex<Option<(i32, Vec<String>, String)>>,
    counts: Mutex<ExecCounts>,
    finished: Mutex<Option<std::sync::mpsc::Sender<()>>>,
}

/// The threads' roles. Exactly one thread is the receiver at any time (only it waits for
/// notifications); at most one is the standby.
struct Roles {
    /// The receiving thread's number.
    receiver: u64,
    /// The receiver is deciding an exec (the handoff timer is armed).
    busy: bool,
    /// A thread waits on the handoff timer.
    standby: bool,
    /// The listener has ended: every thread stops.
    ended: bool,
    /// Notifications being handled right now (by the receiver, or by a thread it replaced):
    /// the counts are final only once the listener has ended and this is back to zero.
    in_flight: usize,
    /// The number for the next thread.
    next: u64,
    /// Threads replaced while deciding that found a standby in place when done: they wait to
    /// be made the standby again ([`Roles::standby_asked`]) rather than end, so that a build
    /// whose decisions are often slowed past [`HANDOFF_AFTER`] by the compilers around them
    /// does not start (and end) a thread for every takeover.
    spares: usize,
    /// Spares asked to become the standby and not yet woken.
    standby_asked: usize,
}

/// At most this many spare threads wait; more end.
const MAX_SPARES: usize = 4;

/// What a supervisor thread does next.
enum Role {
    Receiver,
    Standby,
    Spare,
}

fn lock_roles(shared: &Shared) -> std::sync::MutexGuard<'_, Roles> {
    shared.roles.lock().unwrap_or_else(|e| e.into_inner())
}

fn run_pool(listener: OwnedFd, governance: ExecGovernance, handoff: OwnedFd) -> ExecCounts {
    sys::notif_sync_wakeups(listener.as_raw_fd());
    let (tx, rx) = std::sync::mpsc::channel();
    let shared = Arc::new(Shared {
        listener,
        env_of_interest: EnvNames::new(&governance.env_of_interest),
        governance,
        roles: Mutex::new(Roles {
            receiver: 0,
            busy: false,
            standby: false,
            ended: false,
            in_flight: 0,
            next: 1,
            spares: 0,
            standby_asked: 0,
        }),
        spare_wanted: std::sync::Condvar::new(),
        handoff,
        first: AtomicBool::new(true),
        action_pid: AtomicI32::new(0),
        root: std::sync::OnceLock::new(),
        last_refusal: Mutex::new(None),
        counts: Mutex::new(ExecCounts::default()),
        finished: Mutex::new(Some(tx)),
    });
    // This thread is the first receiver, and the standby is started with the first exec that
    // needs a decision: the command's own exec (the only one of `warden run -- true`) is answered
    // without waiting for any thread to start.
    worker(&shared, 0, Role::Receiver);
    let _ = rx.recv();
    *shared.counts.lock().unwrap_or_else(|e| e.into_inner())
}

fn spawn_worker(shared: &Arc<Shared>, me: u64, role: Role) -> io::Result<()> {
    let s = shared.clone();
    std::thread::Builder::new()
        .name("warden-exec".into())
        .spawn(move || worker(&s, me, role))
        .map(|_| count(shared, |c| c.threads_started += 1))
}

fn worker(shared: &Arc<Shared>, me: u64, mut role: Role) {
    sys::block_sigpipe_in_this_thread();
    // Every exec in the sandbox waits for this thread: run it as soon as it is woken, not after
    // the slice of whatever else (a compiler) is running on that CPU (see `SUPERVISOR_SLICE_NS`).
    sys::set_short_slice(SUPERVISOR_SLICE_NS);
    loop {
        let next = match role {
            Role::Receiver => receive(shared, me),
            Role::Standby => stand_by(shared, me),
            Role::Spare => wait_as_spare(shared),
        };
        match next {
            Some(r) => role = r,
            None => return,
        }
    }
}

/// As the receiver: answer notifications until the listener ends (`None`) or another thread
/// took over receiving while this one decided (then: the standby's role if it is free).
fn receive(shared: &Arc<Shared>, me: u64) -> Option<Role> {
    let timer = shared.handoff.as_raw_fd();
    loop {
        let Some(notification) = next_notification(shared.listener.as_raw_fd()) else {
            let mut roles = lock_roles(shared);
            roles.ended = true;
            // Wake the standby and the spares so that they end too.
            let _ = sys::timerfd_set(timer, std::time::Duration::from_nanos(1));
            shared.spare_wanted.notify_all();
            report_if_finished(shared, &roles);
            return None;
        };
        // The command's own exec proceeds without a decision (see `handle`): nothing to hand over.
        let decides = !shared.first.load(Ordering::SeqCst);
        {
            let mut roles = lock_roles(shared);
            roles.busy = true;
            roles.in_flight += 1;
            // The first exec that is decided starts the standby; after a takeover the thread it
            // replaced, once done, becomes the standby; while that one is still held (a person is
            // asked), wake a spare or start another.
            if decides && !roles.standby {
                if roles.spares > roles.standby_asked {
                    roles.standby_asked += 1;
                    roles.standby = true;
                    shared.spare_wanted.notify_one();
                } else {
                    let next = roles.next;
                    roles.next += 1;
                    roles.standby = spawn_worker(shared, next, Role::Standby).is_ok();
                }
            }
        }
        if decides && sys::timerfd_set(timer, HANDOFF_AFTER).is_err() {
            // No timer: hand over at once rather than risk holding up every exec.
            let _ = sys::timerfd_set(timer, std::time::Duration::from_nanos(1));
        }
        handle(shared, &notification);
        let mut roles = lock_roles(shared);
        roles.in_flight -= 1;
        // A thread replaced while it decided may finish after the listener ended.
        report_if_finished(shared, &roles);
        if roles.receiver == me {
            // The timer stays armed: the next exec's arming replaces it (and clears an expiry
            // not yet read), and one that expires after the last exec wakes the standby to find
            // the receiver not busy, as one that expired while this exec finished does. A
            // disarm here was a syscall (a trap on a virtual machine) for every exec.
            roles.busy = false;
            continue;
        }
        if roles.ended {
            return None;
        }
        if roles.standby {
            if roles.spares >= MAX_SPARES {
                return None;
            }
            roles.spares += 1;
            return Some(Role::Spare);
        }
        roles.standby = true;
        return Some(Role::Standby);
    }
}

/// Once the listener has ended and no notification is still being handled, hand the counts
/// to [`run_pool`] (once): the sandbox's last execs were answered before it could end, but a
/// thread replaced while deciding may not have counted its answer yet.
fn report_if_finished(shared: &Shared, roles: &Roles) {
    if roles.ended
        && roles.in_flight == 0
        && let Some(tx) = shared
            .finished
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    {
        let _ = tx.send(());
    }
}

/// As a spare: wait until made the standby (`Some`) or the listener ended (`None`).
fn wait_as_spare(shared: &Shared) -> Option<Role> {
    let mut roles = lock_roles(shared);
    loop {
        if roles.ended {
            roles.spares -= 1;
            return None;
        }
        if roles.standby_asked > 0 {
            roles.standby_asked -= 1;
            roles.spares -= 1;
            return Some(Role::Standby);
        }
        roles = shared
            .spare_wanted
            .wait(roles)
            .unwrap_or_else(|e| e.into_inner());
    }
}

/// As the standby: wait for the handoff timer; when the receiver is still deciding, become the
/// receiver (the replaced thread becomes the standby when done, see [`receive`]). `None` once
/// the listener has ended.
fn stand_by(shared: &Arc<Shared>, me: u64) -> Option<Role> {
    let timer = shared.handoff.as_raw_fd();
    loop {
        if sys::poll(&[(timer, libc::POLLIN)], -1).is_err() {
            // Cannot wait: leave the role to the next thread that can.
            lock_roles(shared).standby = false;
            return None;
        }
        sys::timerfd_drain(timer);
        let mut roles = lock_roles(shared);
        if roles.ended {
            return None;
        }
        if !roles.busy {
            continue;
        }
        roles.receiver = me;
        roles.busy = false;
        roles.standby = false;
        return Some(Role::Receiver);
    }
}

/// The next notification; `None` once no task uses the filter any more.
fn next_notification(listener: RawFd) -> Option<libc::seccomp_notif> {
    loop {
        let ev = sys::poll(&[(listener, libc::POLLIN)], -1).ok()?;
        if ev[0] & libc::POLLIN == 0 {
            // POLLHUP: the sandbox's tasks are gone.
            return None;
        }
        match sys::notif_recv(listener) {
            Ok(n) => return Some(n),
            // The task went away between poll and receive, or a signal interrupted us.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EINTR)) => continue,
            Err(_) => return None,
        }
    }
}

fn count(shared: &Shared, f: impl FnOnce(&mut ExecCounts)) {
    f(&mut shared.counts.lock().unwrap_or_else(|e| e.into_inner()));
}

fn handle(shared: &Shared, n: &libc::seccomp_notif) {
    let fd = shared.listener.as_raw_fd();
    let pid = n.pid as i32;
    if shared.first.swap(false, Ordering::SeqCst) {
        // Only the command's own task has the filter before its first exec: that exec is the
        // action itself, already decided.
        shared.action_pid.store(pid, Ordering::Relaxed);
        // (Opened while the task waits in its exec, so the pid names it; checked below.)
        if let Ok(root) = std::fs::File::open(format!("/proc/{pid}/root"))
            && sys::notif_id_valid(fd, n.id)
        {
            let _ = shared.root.set(root.into());
        }
        let _ = sys::notif_send(fd, n.id, None);
        return;
    }
    let root = shared.root.get().map(AsRawFd::as_raw_fd);
    let read = match read_exec(pid, &n.data, &shared.env_of_interest, root) {
        // A path that is not there fails in the kernel anyway: answer with its error at once
        // (rather than let it continue, which would race with the file being created). Failing
        // is safe whoever the pid names by now.
        Ok(Read::Absent(errno)) => {
            count(shared, |c| c.absent += 1);
            let _ = sys::notif_send(fd, n.id, Some(errno));
            return;
        }
        Ok(Read::Exec(event, pages)) => Ok((event, pages)),
        Err(e) => Err(e),
    };
    // The pid is only meaningful while the notification is: a task killed (and its pid reused)
    // during the read makes what was read worthless.
    if !sys::notif_id_valid(fd, n.id) {
        count(shared, |c| c.vanished += 1);
        return;
    }
    if let Ok((event, _)) = &read {
        let repeat = shared
            .last_refusal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|(p, argv, _)| *p == pid && *argv == event.argv)
            .map(|(_, _, reason)| reason.clone());
        if repeat.is_some() {
            count(shared, |c| c.repeated += 1);
            let _ = sys::notif_send(fd, n.id, Some(libc::EACCES));
            return;
        }
    }
    count(shared, |c| c.decided += 1);
    let verdict = match &read {
        Err(e) => ExecVerdict::Refuse {
            reason: format!("the exec's arguments could not be read ({e})"),
        },
        Ok((event, pages)) => {
            let pending = PendingExec {
                shared,
                id: n.id,
                pid,
            };
            // A decider that panics refuses (the exec must be answered, or its task waits
            // until the sandbox ends).
            let verdict = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                shared.governance.decider.decide(event, &pending)
            }))
            .unwrap_or_else(|_| ExecVerdict::Refuse {
                reason: "the exec decider failed".into(),
            });
            if verdict == ExecVerdict::Proceed && !unchanged(pid, &n.data, event, pages) {
                count(shared, |c| c.changed += 1);
                ExecVerdict::Refuse {
                    reason: "its program or arguments changed while it was being decided".into(),
                }
            } else {
                verdict
            }
        }
    };
    let answered = match &verdict {
        ExecVerdict::Proceed => sys::notif_send(fd, n.id, None),
        ExecVerdict::Refuse { reason } => {
            if let Ok((event, _)) = &read {
                *shared
                    .last_refusal
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) =
                    Some((pid, event.argv.clone(), reason.clone()));
            }
            let program = read
                .as_ref()
                .ok()
                .and_then(|(e, _)| e.argv.first().cloned())
                .unwrap_or_else(|| "a program".into());
            tell(fd, n.id, pid, &program, reason);
            sys::notif_send(fd, n.id, Some(libc::EACCES))
        }
    };
    match (answered, &verdict) {
        (Err(_), _) => count(shared, |c| c.vanished += 1),
        (Ok(()), ExecVerdict::Proceed) => count(shared, |c| c.proceeded += 1),
        (Ok(()), ExecVerdict::Refuse { .. }) => count(shared, |c| c.refused += 1),
    }
}

/// Write `warden: PROGRAM refused: REASON` to the calling task's stderr (its own open file,
/// fetched with `pidfd_getfd`, so a file keeps its offset and a pipe its reader). Best effort.
fn tell(listener: RawFd, id: u64, pid: i32, program: &str, reason: &str) {
    let Ok(pidfd) = sys::pidfd_open(pid) else {
        return;
    };
    // The pidfd names the right task only if the notification is still pending.
    if !sys::notif_id_valid(listener, id) {
        return;
    }
    let Ok(stderr) = sys::pidfd_getfd(pidfd.as_raw_fd(), 2) else {
        return;
    };
    let one_line = |s: &str| s.replace(['\n', '\r'], " ");
    let mut line = format!(
        "warden: {} refused: {}",
        one_line(program),
        one_line(reason)
    );
    // One atomic pipe write (at most PIPE_BUF bytes), never blocking the supervisor for long on a
    // pipe nobody reads; a reader that has gone gives EPIPE (SIGPIPE is blocked in these threads).
    if line.len() > 1000 {
        let mut cut = 1000;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
    }
    line.push('\n');
    let fd = stderr.as_raw_fd();
    if sys::poll(&[(fd, libc::POLLOUT)], 200).is_ok_and(|ev| ev[0] & libc::POLLOUT != 0) {
        sys::write_all_fd(fd, line.as_bytes());
    }
}

/// Is `path` something the task could execute: an existing regular file, seen from the task's
/// own root (`root` when known, see `Shared::root`)? `Err` is the errno the kernel would fail
/// the exec with (ENOENT, ENOTDIR, EACCES for a directory, …). Where this cannot be checked,
/// assume it is.
fn executable_in_task(pid: i32, root: Option<RawFd>, path: &Path) -> Result<(), i32> {
    let opened;
    let root = match root {
        Some(fd) => fd,
        None => {
            let Ok(r) = std::fs::File::open(format!("/proc/{pid}/root")) else {
                return Ok(());
            };
            opened = r;
            opened.as_raw_fd()
        }
    };
    match sys::stat_in_root(root, path) {
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFREG => Ok(()),
        Ok(_) => Err(libc::EACCES),
        Err(e) => match e.raw_os_error() {
            Some(errno @ (libc::ENOENT | libc::ENOTDIR | libc::ELOOP | libc::ENAMETOOLONG)) => {
                Err(errno)
            }
            _ => Ok(()),
        },
    }
}

/// The raw arguments of an exec syscall.
struct ExecArgs {
    syscall: ExecSyscall,
    dirfd: Option<i32>,
    path: u64,
    argv: u64,
    envp: u64,
    flags: u64,
}

fn exec_args(data: &libc::seccomp_data) -> io::Result<ExecArgs> {
    if Some(data.arch) != exec_filter::audit_arch() {
        return Err(io::Error::other("unexpected architecture"));
    }
    match data.nr {
        exec_filter::EXECVE => Ok(ExecArgs {
            syscall: ExecSyscall::Execve,
            dirfd: None,
            path: data.args[0],
            argv: data.args[1],
            envp: data.args[2],
            flags: 0,
        }),
        exec_filter::EXECVEAT => Ok(ExecArgs {
            syscall: ExecSyscall::Execveat,
            dirfd: Some(data.args[0] as i32),
            path: data.args[1],
            argv: data.args[2],
            envp: data.args[3],
            flags: data.args[4],
        }),
        _ => Err(io::Error::other("unexpected syscall")),
    }
}

/// Name patterns of variables (`*` wildcards, ASCII case-insensitive, as
/// [`crate::env_name_matches`]) compiled once per sandbox: every exec's environment is matched
/// against all of them, some fifty names by thirty patterns. Each pattern is filed under the
/// first byte it requires (`GIT_*` under `g`), so a name is tried only against the patterns
/// filed under its own first byte and the few that start with `*`: matching every name against
/// every pattern was a sixth of the supervisor's time in an exec storm.
struct EnvNames {
    /// Patterns by the first byte of their (lower-case, non-empty) first piece.
    by_first: Vec<Vec<Vec<Vec<u8>>>>,
    /// Patterns that start with `*` (or are empty).
    any_first: Vec<Vec<Vec<u8>>>,
}

impl EnvNames {
    /// Each pattern as its literal pieces between the `*`s (lower case): `GIT_*` is
    /// `["git_", ""]`, `*_PAGER` `["", "_pager"]`.
    fn new(patterns: &[String]) -> Self {
        let mut names = Self {
            by_first: vec![Vec::new(); 256],
            any_first: Vec::new(),
        };
        for p in patterns {
            let pieces: Vec<Vec<u8>> = p
                .split('*')
                .map(|piece| piece.to_ascii_lowercase().into_bytes())
                .collect();
            match pieces.first().and_then(|first| first.first()) {
                Some(&b) => names.by_first[usize::from(b)].push(pieces),
                None => names.any_first.push(pieces),
            }
        }
        names
    }

    fn matches(&self, name: &[u8]) -> bool {
        // Lower-cased on the stack: this runs for every variable of every exec.
        let mut short = [0u8; 64];
        let long;
        let lower: &[u8] = match short.get_mut(..name.len()) {
            Some(buf) => {
                buf.copy_from_slice(name);
                buf.make_ascii_lowercase();
                buf
            }
            None => {
                long = name.to_ascii_lowercase();
                &long
            }
        };
        let filed = lower
            .first()
            .map_or(&[][..], |&b| &self.by_first[usize::from(b)][..]);
        filed
            .iter()
            .chain(&self.any_first)
            .any(|pieces| glob_pieces_match(pieces, lower))
    }
}

/// Does `name` match the pattern whose literal pieces between `*`s are `pieces`? The first
/// piece is a prefix, the last a suffix, the ones between found in order, each at its leftmost
/// place (leftmost is always right when `*` is the only wildcard).
fn glob_pieces_match(pieces: &[Vec<u8>], name: &[u8]) -> bool {
    let [first, middle @ .., last] = pieces else {
        // One piece: no `*`, the whole name.
        return pieces.first().is_some_and(|p| same_bytes(p, name));
    };
    if name.len() < first.len() + last.len()
        || !same_bytes(first, &name[..first.len()])
        || !same_bytes(last, &name[name.len() - last.len()..])
    {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for piece in middle.iter().filter(|p| !p.is_empty()) {
        match rest
            .windows(piece.len())
            .position(|w| w == piece.as_slice())
        {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

/// `a == b`, byte by byte: names and pattern pieces are a few bytes long, and most differ at
/// the first, where a call to `memcmp` for each (what slice equality compiles to) cost more than
/// the comparison.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// What reading an exec found.
enum Read {
    /// A path that is not there (or no file) inside the sandbox: the errno the kernel would fail
    /// the exec with.
    Absent(i32),
    /// The exec as the task asked for it, and the pages it was read from (read again after the
    /// decision, [`unchanged`]).
    Exec(ExecEvent, Remote),
}

/// Read the exec of `data` from task `pid`: path and argv first, so that a path that is not
/// there is answered before the environment is read (a compiler driver tries several
/// directories for each program it runs).
fn read_exec(
    pid: i32,
    data: &libc::seccomp_data,
    env_of_interest: &EnvNames,
    root: Option<RawFd>,
) -> io::Result<Read> {
    let a = exec_args(data)?;
    let mut mem = Remote::new(pid);
    // The pages of the path and of both pointer arrays in one call, then the pages of every
    // string, the environment's too, in one more (a path that is not there wastes the
    // environment's few pages; reading them later was a third call for every other exec).
    // Errors here are the reads' below to report.
    mem.fetch([a.path, a.argv, a.envp].into_iter().filter(|&p| p != 0))?;
    let pointers =
        |mem: &mut Remote, at| read_pointers(mem, at, MAX_ARGS).map_or(Vec::new(), |p| p.0);
    let strings: Vec<u64> = std::iter::once(a.path)
        .chain(pointers(&mut mem, a.argv))
        .chain(pointers(&mut mem, a.envp))
        .filter(|&p| p != 0)
        .collect();
    let _ = mem.fetch(strings);
    let (raw_path, argv, mut truncated) = read_path_and_argv(&mut mem, &a)?;
    let relative = raw_path.first() != Some(&b'/');
    let read_cwd = || std::fs::read_link(format!("/proc/{pid}/cwd"));
    let mut cwd = if relative { Some(read_cwd()?) } else { None };
    let path = absolute_path(pid, &a, cwd.as_deref(), &raw_path)?;
    // Only for paths named from the working directory: an `execveat` of a directory or file
    // descriptor, e.g. `fexecve` of a memfd, names something no path reaches.
    if a.dirfd.is_none_or(|d| d == libc::AT_FDCWD)
        && let Err(errno) = executable_in_task(pid, root, &path)
    {
        return Ok(Read::Absent(errno));
    }
    let cwd = match cwd.take() {
        Some(c) => c,
        None => read_cwd()?,
    };
    let env_ptrs = read_pointers(&mut mem, a.envp, MAX_ARGS)?;
    truncated |= env_ptrs.1;
    let wanted = |prefix: &[u8]| {
        prefix
            .iter()
            .position(|&b| b == b'=')
            .is_some_and(|eq| env_of_interest.matches(&prefix[..eq]))
    };
    let (values, cut) = read_strings(
        &mut mem,
        &env_ptrs.0,
        128,
        MAX_ENV_VALUE,
        usize::MAX,
        &wanted,
    )?;
    truncated |= cut;
    let env = values
        .into_iter()
        .flatten()
        .filter_map(|kv| {
            let text = String::from_utf8_lossy(&kv).into_owned();
            let (k, v) = text.split_once('=')?;
            Some((k.to_owned(), v.to_owned()))
        })
        .collect();
    let event = ExecEvent {
        pid: pid as u32,
        syscall: a.syscall,
        path,
        argv: argv
            .iter()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect(),
        cwd,
        env,
        truncated,
    };
    Ok(Read::Exec(event, mem))
}

/// The path and argv bytes as the task passed them.
type RawCommand = (Vec<u8>, Vec<Vec<u8>>, bool);

fn read_path_and_argv(mem: &mut Remote, a: &ExecArgs) -> io::Result<RawCommand> {
    let (argv_ptrs, mut truncated) = read_pointers(mem, a.argv, MAX_ARGS)?;
    let mut addrs = vec![a.path];
    addrs.extend(&argv_ptrs);
    let (mut strings, cut) = read_strings(
        mem,
        &addrs,
        256,
        libc::PATH_MAX as usize + MAX_ARGV_BYTES,
        MAX_ARGV_BYTES,
        &|_| true,
    )?;
    truncated |= cut;
    let path = strings.remove(0).unwrap_or_default();
    Ok((path, strings.into_iter().flatten().collect(), truncated))
}

/// Path and argv are what was decided on: read again after the decision (the pages they were
/// read from in one call, more only if the pointers now lead elsewhere).
fn unchanged(pid: i32, data: &libc::seccomp_data, event: &ExecEvent, before: &Remote) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(a) = exec_args(data) else { return false };
    let mut again = Remote::new(pid);
    if again.fetch(before.readable_pages()).is_err() {
        return false;
    }
    let Ok((path, argv, _)) = read_path_and_argv(&mut again, &a) else {
        return false;
    };
    // The working directory matters only for a relative path (read again only then).
    let same_path = if path.first() == Some(&b'/') {
        Path::new(std::ffi::OsStr::from_bytes(&path)) == event.path
    } else {
        std::fs::read_link(format!("/proc/{pid}/cwd"))
            .and_then(|cwd| absolute_path(pid, &a, Some(&cwd), &path))
            .is_ok_and(|p| p == event.path)
    };
    same_path
        && argv.len() == event.argv.len()
        && argv
            .iter()
            .zip(&event.argv)
            .all(|(raw, seen)| String::from_utf8_lossy(raw) == seen.as_str())
}

/// `raw` made absolute: against the `execveat` directory fd, else the working directory `cwd`
/// (needed only when `raw` is relative).
fn absolute_path(pid: i32, a: &ExecArgs, cwd: Option<&Path>, raw: &[u8]) -> io::Result<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let given = Path::new(std::ffi::OsStr::from_bytes(raw));
    if given.is_absolute() {
        return Ok(given.to_path_buf());
    }
    let base = match (a.dirfd, cwd) {
        (Some(fd), _) if fd != libc::AT_FDCWD => {
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))?
        }
        (_, Some(cwd)) => cwd.to_path_buf(),
        (_, None) => std::fs::read_link(format!("/proc/{pid}/cwd"))?,
    };
    if raw.is_empty() && a.flags & libc::AT_EMPTY_PATH as u64 != 0 {
        return Ok(base);
    }
    Ok(base.join(given))
}

/// The calling task's memory, read a whole page at a time and kept for the rest of one read:
/// an exec's strings (its argv, its environment) mostly share a few pages, and
/// `process_vm_readv` pins every remote range it is given, so one range per page rather than one
/// per string (some fifty for a usual environment) is most of what reading an exec costs.
struct Remote {
    pid: i32,
    /// Page address → its bytes (`None`: unreadable), sorted by address: an exec's strings sit
    /// on a handful of pages, where a binary search beats hashing every lookup.
    pages: Vec<(u64, Option<Box<[u8]>>)>,
}

fn page_of(addr: u64) -> u64 {
    addr & !(PAGE - 1)
}

impl Remote {
    fn new(pid: i32) -> Self {
        Self {
            pid,
            pages: Vec::new(),
        }
    }

    /// The page at `addr` (page aligned), when it was fetched.
    fn page(&self, addr: u64) -> Option<&Option<Box<[u8]>>> {
        self.pages
            .binary_search_by_key(&addr, |(a, _)| *a)
            .ok()
            .map(|i| &self.pages[i].1)
    }

    /// The pages read so far that could be read.
    fn readable_pages(&self) -> Vec<u64> {
        self.pages
            .iter()
            .filter(|(_, p)| p.is_some())
            .map(|&(a, _)| a)
            .collect()
    }

    /// Read the pages holding the addresses `wanted` that were not read yet, in as few calls as
    /// the kernel's limit on ranges allows. A page that cannot be read is remembered as such.
    fn fetch(&mut self, wanted: impl IntoIterator<Item = u64>) -> io::Result<()> {
        const BATCH: usize = 1024;
        let mut missing: Vec<u64> = wanted
            .into_iter()
            .map(page_of)
            .filter(|&p| self.page(p).is_none())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort_unstable();
        missing.dedup();
        let mut rest = &missing[..];
        let mut buf = Vec::new();
        while !rest.is_empty() {
            let batch = &rest[..rest.len().min(BATCH)];
            buf.resize(batch.len() * PAGE as usize, 0);
            let ranges: Vec<(u64, usize)> = batch.iter().map(|&p| (p, PAGE as usize)).collect();
            let got = match sys::process_vm_read(self.pid, &mut buf, &ranges) {
                Ok(n) => n,
                Err(e) if e.raw_os_error() == Some(libc::EFAULT) => 0,
                Err(e) => return Err(e),
            };
            // The kernel never splits a range: it stops at the first one it cannot read.
            let whole = got / PAGE as usize;
            for (i, &p) in batch[..whole].iter().enumerate() {
                let at = i * PAGE as usize;
                self.pages
                    .push((p, Some(buf[at..at + PAGE as usize].into())));
            }
            if let Some(&bad) = batch.get(whole) {
                self.pages.push((bad, None));
            }
            // Past the batch when it was read whole, else past the page that was not.
            let done = if whole == batch.len() {
                whole
            } else {
                whole + 1
            };
            rest = &rest[done..];
        }
        self.pages.sort_unstable_by_key(|(a, _)| *a);
        Ok(())
    }

    /// The bytes from `addr` to the end of its page, once fetched; EFAULT when unreadable.
    fn tail(&self, addr: u64) -> io::Result<&[u8]> {
        match self.page(page_of(addr)) {
            Some(Some(page)) => Ok(&page[(addr % PAGE) as usize..]),
            _ => Err(io::Error::from_raw_os_error(libc::EFAULT)),
        }
    }
}

/// A NULL-terminated pointer array at `addr` (NULL `addr`: empty), at most `max` entries (the
/// second value says whether it was cut).
fn read_pointers(mem: &mut Remote, mut addr: u64, max: usize) -> io::Result<(Vec<u64>, bool)> {
    let mut out = Vec::new();
    if addr == 0 {
        return Ok((out, false));
    }
    loop {
        mem.fetch([addr])?;
        let tail = mem.tail(addr)?;
        let whole = tail.len() - tail.len() % 8;
        for chunk in tail[..whole].chunks_exact(8) {
            let p = u64::from_ne_bytes(chunk.try_into().unwrap_or_default());
            if p == 0 {
                return Ok((out, false));
            }
            if out.len() == max {
                return Ok((out, true));
            }
            out.push(p);
        }
        addr += whole as u64;
        if whole < tail.len() {
            // An unaligned array: this pointer straddles two pages.
            let mut word = [0u8; 8];
            let first = tail.len() - whole;
            word[..first].copy_from_slice(&tail[whole..]);
            mem.fetch([addr + 7])?;
            word[first..].copy_from_slice(&mem.tail(addr + first as u64)?[..8 - first]);
            let p = u64::from_ne_bytes(word);
            if p == 0 {
                return Ok((out, false));
            }
            if out.len() == max {
                return Ok((out, true));
            }
            out.push(p);
            addr += 8;
        }
    }
}

/// Read NUL-terminated strings at `addrs`, the pages of all that are still being read fetched
/// together each round (see [`Remote`]). `wanted` sees the first at most `first` bytes of each
/// (to the end of its first page) and may drop the string (`None`). A string longer than
/// `max_len`, or reading more than `budget` bytes in all, cuts (second value). An unreadable
/// string is an error (the kernel would fail the exec with EFAULT).
fn read_strings(
    mem: &mut Remote,
    addrs: &[u64],
    first: usize,
    max_len: usize,
    budget: usize,
    wanted: &dyn Fn(&[u8]) -> bool,
) -> io::Result<(Vec<Option<Vec<u8>>>, bool)> {
    let mut out: Vec<Option<Vec<u8>>> = vec![Some(Vec::new()); addrs.len()];
    // (index, next address, first chunk read yet, finished)
    let mut active: Vec<(usize, u64, bool, bool)> = addrs
        .iter()
        .enumerate()
        .map(|(i, &a)| (i, a, false, false))
        .collect();
    let mut cut = false;
    let mut total = 0usize;
    while !active.is_empty() {
        mem.fetch(active.iter().map(|e| e.1))?;
        for entry in &mut active {
            let (idx, addr, started, _) = *entry;
            let data = mem.tail(addr)?;
            let end = data.iter().position(|&b| b == 0);
            let take = &data[..end.unwrap_or(data.len())];
            // Judged before it is copied: most of an environment is not wanted.
            if !started && !wanted(&take[..take.len().min(first)]) {
                out[idx] = None;
            }
            let Some(s) = out[idx].as_mut() else {
                entry.3 = true;
                continue;
            };
            s.extend_from_slice(take);
            total += take.len();
            let mut finished = end.is_some();
            if s.len() > max_len {
                s.truncate(max_len);
                cut = true;
                finished = true;
            }
            *entry = (idx, addr + data.len() as u64, true, finished);
        }
        active.retain(|e| !e.3);
        if total > budget {
            cut = true;
            for &(idx, _, _, _) in &active {
                if let Some(s) = out[idx].as_mut() {
                    s.clear();
                }
            }
            break;
        }
    }
    Ok((out, cut))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two pages of our own memory, the second one unreadable (`PROT_NONE`).
    struct Guarded(*mut u8);

    impl Guarded {
        fn new() -> Self {
            // SAFETY: an anonymous private mapping of two pages, owned by this value.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    2 * PAGE as usize,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(p, libc::MAP_FAILED);
            // SAFETY: the second page of the mapping just made.
            let r = unsafe {
                libc::mprotect(
                    p.cast::<u8>().add(PAGE as usize).cast(),
                    PAGE as usize,
                    libc::PROT_NONE,
                )
            };
            assert_eq!(r, 0);
            Self(p.cast())
        }

        /// Put `bytes` so that they end `from_end` bytes before the unreadable page; their
        /// address.
        fn put(&self, bytes: &[u8], from_end: usize) -> u64 {
            let at = PAGE as usize - from_end - bytes.len();
            // SAFETY: `at..at + len` lies within the first (writable) page.
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.0.add(at), bytes.len()) };
            self.0 as u64 + at as u64
        }
    }

    impl Drop for Guarded {
        fn drop(&mut self) {
            // SAFETY: the mapping made in `new`.
            unsafe { libc::munmap(self.0.cast(), 2 * PAGE as usize) };
        }
    }

    fn me() -> i32 {
        std::process::id() as i32
    }

    #[test]
    fn compiled_env_patterns_match_as_env_name_matches_does() {
        let mut patterns = builtin_exec_env();
        patterns.extend(["*", "A*B*C", "**x", "git_*_dir", "exact"].map(String::from));
        let names = [
            "GIT_DIR",
            "git_dir",
            "GIT_",
            "GIT",
            "XGIT_DIR",
            "PAGER",
            "GIT_PAGER",
            "MANPAGER",
            "PAGERX",
            "PATH",
            "PATHS",
            "npm_lifecycle_event",
            "NPM_LIFECYCLE_EVENT",
            "TF_CLI_ARGS",
            "TF_CLI_ARGS_apply",
            "HOME",
            "",
            "ABC",
            "AxBxC",
            "ACB",
            "x",
            "xx",
            "GIT_WORK_DIR",
            "GIT__DIR",
            "exact",
            "EXACT",
            "exactly",
            "_EDITOR",
            "EDITOR",
        ];
        for p in &patterns {
            let one = EnvNames::new(std::slice::from_ref(p));
            for n in names {
                assert_eq!(
                    one.matches(n.as_bytes()),
                    crate::env_name_matches(p, n),
                    "pattern {p:?}, name {n:?}"
                );
            }
        }
        // Together (filed by first byte): a name matches when any pattern does.
        let builtin = builtin_exec_env();
        for set in [&patterns[..], &builtin[..]] {
            let all = EnvNames::new(set);
            for n in names {
                assert_eq!(
                    all.matches(n.as_bytes()),
                    set.iter().any(|p| crate::env_name_matches(p, n)),
                    "patterns {set:?}, name {n:?}"
                );
            }
        }
    }

    #[test]
    fn pages_are_fetched_past_the_kernel_batch() {
        // More pages than one `process_vm_readv` takes (1024 ranges): every one is read.
        let pages = 1100;
        let buf: Vec<u8> = (0..pages * PAGE as usize)
            .map(|i| (i / PAGE as usize) as u8)
            .collect();
        let base = buf.as_ptr() as u64;
        let mut mem = Remote::new(me());
        let addrs: Vec<u64> = (0..pages as u64).map(|i| base + i * PAGE).collect();
        mem.fetch(addrs.iter().copied()).expect("readable");
        for (i, &a) in addrs.iter().enumerate() {
            assert_eq!(mem.tail(a).expect("fetched")[0], i as u8, "page {i}");
        }
    }

    #[test]
    fn a_string_ending_just_before_unreadable_memory_reads_cleanly() {
        let g = Guarded::new();
        let at = g.put(b"last-string\0", 0);
        let (s, cut) = read_strings(
            &mut Remote::new(me()),
            &[at],
            256,
            1 << 20,
            1 << 20,
            &|_| true,
        )
        .expect("readable");
        assert_eq!(s, vec![Some(b"last-string".to_vec())]);
        assert!(!cut);
    }

    #[test]
    fn a_string_running_into_unreadable_memory_is_an_error() {
        let g = Guarded::new();
        let at = g.put(b"no-terminator", 0);
        let e = read_strings(
            &mut Remote::new(me()),
            &[at],
            256,
            1 << 20,
            1 << 20,
            &|_| true,
        )
        .expect_err("unterminated");
        assert_eq!(e.raw_os_error(), Some(libc::EFAULT));
    }

    #[test]
    fn strings_on_one_page_are_one_range_and_unwanted_ones_are_dropped() {
        let page: Vec<u8> = b"PATH=/bin\0HOME=/root\0GIT_DIR=x\0".to_vec();
        let base = page.as_ptr() as u64;
        let addrs = [base, base + 10, base + 21];
        let mut mem = Remote::new(me());
        let (s, _) = read_strings(&mut mem, &addrs, 128, 1 << 20, usize::MAX, &|p| {
            !p.starts_with(b"HOME=")
        })
        .expect("readable");
        assert_eq!(
            s,
            vec![
                Some(b"PATH=/bin".to_vec()),
                None,
                Some(b"GIT_DIR=x".to_vec())
            ]
        );
        // At most two pages (the buffer may straddle one boundary), not one range per string.
        assert!(mem.pages.len() <= 2, "{}", mem.pages.len());
    }

    #[test]
    fn an_unaligned_pointer_array_across_pages_and_one_cut_by_unreadable_memory() {
        // Pointers at an odd address, the second straddling the page boundary of a normal
        // (two-page readable) buffer.
        let mut buf = vec![0u8; 3 * PAGE as usize];
        let boundary = (page_of(buf.as_ptr() as u64) + PAGE - buf.as_ptr() as u64) as usize;
        let at = boundary + PAGE as usize - 12;
        for (i, v) in [0x1111u64, 0x2222, 0].iter().enumerate() {
            buf[at + 8 * i..at + 8 * i + 8].copy_from_slice(&v.to_ne_bytes());
        }
        let addr = buf.as_ptr() as u64 + at as u64;
        let (ptrs, cut) = read_pointers(&mut Remote::new(me()), addr, 100).expect("readable");
        assert_eq!((ptrs, cut), (vec![0x1111, 0x2222], false));
        let (ptrs, cut) = read_pointers(&mut Remote::new(me()), addr, 1).expect("readable");
        assert_eq!((ptrs, cut), (vec![0x1111], true));
        // The same array without its terminating NULL, running into unreadable memory.
        let g = Guarded::new();
        let mut raw = Vec::new();
        raw.extend_from_slice(&0x1111u64.to_ne_bytes());
        raw.extend_from_slice(&0x2222u64.to_ne_bytes()[..4]);
        let at = g.put(&raw, 0);
        let e = read_pointers(&mut Remote::new(me()), at, 100).expect_err("unterminated");
        assert_eq!(e.raw_os_error(), Some(libc::EFAULT));
    }
}
