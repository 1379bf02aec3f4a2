//! `sandbox_exec [--govern] -- ARGV…`: runs ARGV in the sandbox with the current directory as
//! workspace, either plainly or with every exec put to a decider that lets everything proceed.
//! For `bench/exec.sh`: the cost of exec notification itself, without the governor's
//! classification and records (which `warden sandbox --govern` adds). Prints the exec counts to
//! stderr when governed.

use std::sync::Arc;
use warden_sandbox::{
    ExecDecider, ExecEvent, ExecGovernance, ExecVerdict, PendingExec, SandboxProfile, SpawnOptions,
    spawn,
};

struct ProceedAll;

impl ExecDecider for ProceedAll {
    fn decide(&self, _: &ExecEvent, _: &PendingExec<'_>) -> ExecVerdict {
        ExecVerdict::Proceed
    }
}

fn main() {
    // Without `warden-sandbox-init` beside the build, the sandbox is started through this
    // executable itself (`__sandbox-init`): be the init then, rather than start another sandbox.
    if std::env::args().nth(1).as_deref() == Some(warden_sandbox::INIT_ARG) {
        warden_sandbox::init_main();
    }
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let govern = args.first().is_some_and(|a| a == "--govern");
    if govern {
        args.remove(0);
    }
    if args.first().is_some_and(|a| a == "--") {
        args.remove(0);
    }
    if args.is_empty() {
        eprintln!("usage: sandbox_exec [--govern] -- ARGV...");
        std::process::exit(2);
    }
    let cwd = std::env::current_dir().expect("cwd");
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let profile = SandboxProfile::new(args, cwd, home.into(), std::env::vars().collect());
    let init = std::env::current_exe()
        .ok()
        .and_then(|e| Some(e.parent()?.parent()?.join("warden-sandbox-init")))
        .filter(|p| p.exists());
    let opts = SpawnOptions {
        init_exe: init,
        exec: govern.then(|| ExecGovernance::new(Arc::new(ProceedAll))),
        ..Default::default()
    };
    let running = match spawn(&profile, &opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sandbox_exec: {e}");
            std::process::exit(1);
        }
    };
    match running.wait() {
        Ok(info) => {
            if let Some(c) = info.execs {
                eprintln!(
                    "sandbox_exec: execs {c:?}; this process's CPU {:.1} ms",
                    own_cpu_ms()
                );
            }
            std::process::exit(info.shell_code());
        }
        Err(e) => {
            eprintln!("sandbox_exec: {e}");
            std::process::exit(1);
        }
    }
}

/// The CPU time of this process (the supervisor's threads, exited ones included; not the
/// sandboxed command), from `/proc/self/stat` (clock ticks of 10 ms).
fn own_cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_comm = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    // Fields 14 and 15 (utime, stime); `after_comm` starts at field 3.
    let ticks: f64 = after_comm
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<f64>().ok())
        .sum();
    ticks * 10.0
}
