//! `warden doctor`: what this machine enforces for this workspace, and why not — the kernel's
//! isolation features and a real sandbox start, the policy layers in force, the agent hooks and
//! whether they point at this binary and policy, the approval server, the OTLP collector and the
//! network allowlist with where each host came from. Enforcement that silently is not working is
//! the failure this command exists to surface: exit 1 names every problem with its fix.

use crate::agents::installed::{AGENTS, AgentConfig, Invocation, flag_value};
use crate::exit::{CliError, CmdResult};
use crate::policy_load;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use warden_policy::{Context, Layer, Policy, PolicySource};

/// The `schema` value of `warden doctor --json`; bumped only when a field changes meaning or
/// goes away (new fields may be added without a bump).
pub const SCHEMA: &str = "warden-doctor/1";

/// How long a network check (approval server, OTLP collector) may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Arguments of `warden doctor`.
#[derive(clap::Args, Debug)]
pub struct DoctorArgs {
    /// Governance file to use as the repository layer (default: <workspace>/.warden/policy.toml).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Workspace to examine (default: the nearest directory with `.git` or `.warden`).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// One JSON object on stdout (schema `warden-doctor/1`, see docs/doctor.md).
    #[arg(long)]
    pub json: bool,
}

/// How bad a problem is: an `error` means something the policy asks for is not enforced (exit
/// 1); a `warning` is a degradation or a risk that does not stop enforcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Severity {
    Error,
    Warning,
}

/// One finding with its fix.
#[derive(Debug, Serialize)]
struct Problem {
    /// The check that found it (`kernel.landlock`, `agent.claude-code`, `approval-server`, …).
    check: String,
    severity: Severity,
    problem: String,
    fix: String,
}

#[derive(Debug, Serialize)]
struct WardenInfo {
    version: &'static str,
    executable: String,
    /// The init every sandbox starts (the small `warden-sandbox-init` or `warden` itself).
    sandbox_init: String,
}

#[derive(Debug, Serialize)]
struct Kernel {
    /// The probe's report (`warden_sandbox::Capabilities`).
    #[serde(flatten)]
    capabilities: warden_sandbox::Capabilities,
    /// The namespaces a sandbox creates (all come with the user namespace).
    namespaces: Vec<&'static str>,
    /// `v2`, `v1-pids` or `none`: what bounds an action's processes and memory besides rlimits.
    cgroup: &'static str,
}

#[derive(Debug, Serialize)]
struct SandboxCheck {
    /// What `warden run` would refuse to start without `--allow-degraded`.
    refused: Vec<String>,
    /// What it runs without (weaker, noted in each outcome record).
    degraded: Vec<String>,
    /// A real sandbox started for `true`: `ok`, `failed` or `skipped` (when refused anyway).
    trial: &'static str,
    /// The trial's error, or its notes.
    trial_detail: Vec<String>,
    /// Where an approved action's new paths outside the workspace are staged (the overlay's
    /// upper layer), and whether they can be: `ok` or why not.
    staging_dir: String,
    staging: String,
}

#[derive(Debug, Serialize)]
struct LayerInfo {
    /// `built-in`, `organisation` or `repository`.
    layer: &'static str,
    file: String,
    sha256: String,
    /// Keys this layer locks against the layers above it (organisation files).
    locks: Vec<String>,
}

#[derive(Debug, Serialize)]
struct PolicyInfo {
    /// The merged policy's digest (what audit records and approvals are bound to); absent when
    /// it does not load.
    digest: Option<String>,
    layers: Vec<LayerInfo>,
}

#[derive(Debug, Serialize)]
struct InvocationInfo {
    place: String,
    argv: Vec<String>,
    /// The program, resolved on `PATH` when it has no slash.
    program: Option<String>,
    points_at_this_warden: bool,
    /// The governance file this invocation uses.
    policy: Option<String>,
    uses_this_policy: bool,
}

#[derive(Debug, Serialize)]
struct AgentInfo {
    agent: &'static str,
    config: String,
    /// `absent` (no configuration file), `not-governed` (a file without Warden in it),
    /// `installed` (Warden's hooks there and pointing here), `broken` (present but wrong).
    status: &'static str,
    invocations: Vec<InvocationInfo>,
}

#[derive(Debug, Serialize)]
struct ApprovalInfo {
    /// `WARDEN_SERVER` is set.
    configured: bool,
    url: Option<String>,
    token_set: bool,
    /// The server answered `GET /whoami` and accepted the token.
    token_accepted: Option<bool>,
    /// Who the token is (`name`, `role`, `groups`).
    identity: Option<serde_json::Value>,
    /// `none` (plain HTTP), `verified`, `failed` or `unknown` (not reached).
    tls: Option<&'static str>,
}

#[derive(Debug, Serialize)]
struct OtlpInfo {
    configured: bool,
    traces_endpoint: Option<String>,
    logs_endpoint: Option<String>,
    reachable: Option<bool>,
}

#[derive(Debug, Serialize)]
struct NetRule {
    action: &'static str,
    target: String,
    methods: Vec<String>,
    /// `policy`, `forge-list`, `discovered-registry`, `git-remote`, `builtin-deny`, `other`.
    origin: warden_proxy::RuleOrigin,
    /// The file, key, variable or tool it was read from.
    source: String,
    id: String,
}

#[derive(Debug, Serialize)]
struct Report {
    schema: &'static str,
    ok: bool,
    workspace: String,
    warden: WardenInfo,
    kernel: Kernel,
    sandbox: SandboxCheck,
    policy: PolicyInfo,
    agents: Vec<AgentInfo>,
    approval_server: ApprovalInfo,
    otlp: OtlpInfo,
    network: Vec<NetRule>,
    problems: Vec<Problem>,
}

/// Collects problems as the checks run.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, check: &str, severity: Severity, problem: String, fix: impl Into<String>) {
        self.0.push(Problem {
            check: check.to_owned(),
            severity,
            problem,
            fix: fix.into(),
        });
    }
    fn error(&mut self, check: &str, problem: String, fix: impl Into<String>) {
        self.add(check, Severity::Error, problem, fix);
    }
    fn warn(&mut self, check: &str, problem: String, fix: impl Into<String>) {
        self.add(check, Severity::Warning, problem, fix);
    }
}

fn sha256_of(text: &str) -> String {
    let d = Sha256::digest(text.as_bytes());
    let mut out = String::from("sha256:");
    for b in d {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn layer_name(l: Layer) -> &'static str {
    match l {
        Layer::Builtin => "built-in",
        Layer::Organisation => "organisation",
        Layer::Repository => "repository",
    }
}

/// The strings of `key` (an array) in the TOML `table`.
fn toml_strings(table: &dyn toml_edit::TableLike, key: &str) -> Vec<String> {
    table
        .get(key)
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The `[network]` patterns and rule ids/hosts a layer names (to say which file allowed a host).
fn network_names(text: &str) -> Vec<String> {
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
        return Vec::new();
    };
    let Some(net) = doc.get("network").and_then(|n| n.as_table_like()) else {
        return Vec::new();
    };
    let mut out = toml_strings(net, "allow");
    out.extend(toml_strings(net, "deny"));
    if let Some(rules) = net.get("rule").and_then(|r| r.as_array_of_tables()) {
        for r in rules {
            for k in ["id", "host"] {
                if let Some(v) = r.get(k).and_then(|v| v.as_str()) {
                    out.push(v.to_owned());
                }
            }
        }
    }
    out
}

/// The fix for a feature the kernel lacks.
fn kernel_fix(f: warden_sandbox::Feature) -> &'static str {
    use warden_sandbox::Feature as F;
    match f {
        F::UserNamespaces => {
            "allow unprivileged user namespaces: `sysctl -w user.max_user_namespaces=15000` (Debian \
             also `kernel.unprivileged_userns_clone=1`; Ubuntu 24.04+ \
             `kernel.apparmor_restrict_unprivileged_userns=0` or an AppArmor profile for warden); \
             in a container, start it with user namespaces allowed"
        }
        F::Landlock => {
            "boot a kernel with Landlock enabled (5.13+, CONFIG_SECURITY_LANDLOCK=y and `landlock` \
             in the `lsm=` boot parameter), or lower `[sandbox] landlock_min_abi`; \
             `warden run --allow-degraded` runs without it (recorded in each outcome)"
        }
        F::Seccomp => {
            "use a kernel built with CONFIG_SECCOMP_FILTER=y (in a container: do not forbid \
             seccomp to it); `--allow-degraded` runs without it (recorded)"
        }
        F::ExecNotify => {
            "use Linux 5.5+ on x86_64, aarch64 or riscv64 (seccomp user notification); \
             `--allow-degraded` runs without governing the programs a command starts (recorded)"
        }
        F::Cgroup2 => {
            "mount a cgroup v2 hierarchy with the pids and memory controllers delegated \
             (systemd: `systemd.unified_cgroup_hierarchy=1`, or run warden in a delegated unit)"
        }
    }
}

fn check_kernel(policy: &Policy, ctx: &Context, problems: &mut Problems) -> (Kernel, SandboxCheck) {
    let caps = warden_sandbox::probe();
    let profile = warden_govern::execute::profile_for(policy, ctx, vec!["true".to_owned()]);
    // `warden run` governs every program its command starts, so exec notification is required.
    let missing = caps.missing_features(Some(&profile), true);
    let mut refused = Vec::new();
    for (feature, what) in &missing {
        let check = match feature {
            warden_sandbox::Feature::UserNamespaces => "kernel.namespaces",
            warden_sandbox::Feature::Landlock => "kernel.landlock",
            warden_sandbox::Feature::Seccomp => "kernel.seccomp",
            warden_sandbox::Feature::ExecNotify => "kernel.exec-notify",
            warden_sandbox::Feature::Cgroup2 => "kernel.cgroup",
        };
        problems.error(
            check,
            format!("`warden run` refuses to start: {what}"),
            kernel_fix(*feature),
        );
        refused.push(what.clone());
    }
    let mut degraded = Vec::new();
    for gap in &caps.landlock_gaps {
        let what = format!("Landlock cannot enforce {gap}");
        problems.warn(
            "kernel.landlock",
            what.clone(),
            "a newer kernel (Landlock ABI 6 covers everything Warden asks for)",
        );
        degraded.push(what);
    }
    let cgroup = if caps.cgroup2 {
        "v2"
    } else if caps.cgroup1_pids {
        "v1-pids"
    } else {
        "none"
    };
    if !caps.cgroup2 {
        let what = if caps.cgroup1_pids {
            "no cgroup v2 with pids and memory: an action's memory is bounded per process \
             (RLIMIT_AS), not as a whole; processes by rlimits and the v1 pids controller"
        } else {
            "no usable cgroup: an action's processes and memory are bounded by rlimits only \
             (per process, and root is exempt from RLIMIT_NPROC)"
        };
        problems.warn(
            "kernel.cgroup",
            what.to_owned(),
            kernel_fix(warden_sandbox::Feature::Cgroup2),
        );
        degraded.push(what.to_owned());
    }
    if !caps.pretended_missing.is_empty() {
        problems.warn(
            "kernel.pretend",
            format!(
                "{} pretends these are missing: {}",
                warden_sandbox::PRETEND_MISSING_ENV,
                caps.pretended_missing.join(", ")
            ),
            format!(
                "unset {} (a test switch)",
                warden_sandbox::PRETEND_MISSING_ENV
            ),
        );
    }
    // A real start: what the probe cannot see (a mount refused by a container runtime, an
    // AppArmor rule, a missing program) shows here.
    let (trial, trial_detail) = if !refused.is_empty() {
        ("skipped", Vec::new())
    } else {
        let out = warden_govern::execute::execute(
            policy,
            profile,
            false,
            warden_govern::OutputMode::Capture { limit: 4096 },
            None,
            None,
        );
        match out {
            Ok(e) if e.exit_code == Some(0) => ("ok", e.notes),
            Ok(e) => {
                let mut detail = vec![format!(
                    "`true` ended with {} {}",
                    e.exit_code
                        .map_or("signal".to_owned(), |c| format!("status {c}")),
                    String::from_utf8_lossy(&e.stderr).trim()
                )];
                detail.extend(e.notes);
                problems.error(
                    "sandbox.start",
                    format!("a sandbox ran `true` but it failed: {}", detail[0]),
                    "run `warden sandbox -- true` to see the whole message",
                );
                ("failed", detail)
            }
            Err(e) => {
                problems.error(
                    "sandbox.start",
                    format!("a sandbox cannot be started here: {e}"),
                    "run `warden sandbox -- true` to see the whole message; in a container, \
                     allow it to create namespaces and mount (e.g. no seccomp or AppArmor \
                     profile forbidding unshare and mount)",
                );
                ("failed", vec![e.to_string()])
            }
        }
    };
    let (staging_dir, staging) = warden_sandbox::staging_check();
    let staging = match staging {
        Ok(()) => "ok".to_owned(),
        Err(why) => {
            problems.warn(
                "sandbox.staging",
                format!(
                    "an approved write to a new path outside the workspace fails: the staging \
                     directory {} cannot hold an overlay's upper layer ({why})",
                    staging_dir.display()
                ),
                "set TMPDIR to a directory on ext4, XFS, Btrfs or tmpfs (Linux 6.6 or later for \
                 tmpfs), not on an overlay",
            );
            why
        }
    };
    let namespaces = if caps.user_namespaces {
        vec!["user", "mount", "pid", "net", "ipc", "uts"]
    } else {
        Vec::new()
    };
    (
        Kernel {
            capabilities: caps,
            namespaces,
            cgroup,
        },
        SandboxCheck {
            refused,
            degraded,
            trial,
            trial_detail,
            staging_dir: staging_dir.display().to_string(),
            staging,
        },
    )
}

/// `program` as a path: itself when it has a slash (relative ones from `base`), else found on
/// `PATH`.
fn resolve_program(program: &str, base: &Path) -> Option<PathBuf> {
    if program.contains('/') {
        let p = base.join(program);
        return p.exists().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn check_agent(
    cfg: &AgentConfig,
    workspace: &Path,
    our_policy: &Path,
    exe: &Path,
    problems: &mut Problems,
) -> AgentInfo {
    let path = (cfg.path)(workspace);
    let check = format!("agent.{}", cfg.agent);
    let reinstall = format!(
        "run `{} init {} --force` in {}",
        exe.display(),
        cfg.init,
        workspace.display()
    );
    let mut info = AgentInfo {
        agent: cfg.agent,
        config: path.display().to_string(),
        status: "absent",
        invocations: Vec::new(),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return info,
        Err(e) => {
            info.status = "broken";
            problems.error(
                &check,
                format!("cannot read {}: {e}", path.display()),
                "make it readable",
            );
            return info;
        }
    };
    let found: Vec<Invocation> = match (cfg.invocations)(&text) {
        Ok(f) => f,
        Err(e) => {
            info.status = "broken";
            problems.error(
                &check,
                format!(
                    "{} is unreadable ({e}): the agent may not start, and Warden's hooks are not \
                     in force",
                    path.display()
                ),
                format!("fix the file, then {reinstall}"),
            );
            return info;
        }
    };
    if found.is_empty() && !cfg.primary {
        // A secondary route's file (Codex's project config) written for other reasons.
        return info;
    }
    if found.is_empty() {
        info.status = "not-governed";
        problems.warn(
            &check,
            format!(
                "{} exists but runs no Warden hook: {} works here ungoverned",
                path.display(),
                cfg.agent
            ),
            format!(
                "run `{} init {}` in {}",
                exe.display(),
                cfg.init,
                workspace.display()
            ),
        );
        return info;
    }
    let mut broken = false;
    for req in cfg.required {
        if !found.iter().any(|i| i.place == *req) {
            broken = true;
            problems.error(
                &check,
                format!(
                    "{} has Warden hooks but none at `{req}`: tool calls go ungoverned",
                    path.display()
                ),
                reinstall.clone(),
            );
        }
    }
    for inv in found {
        let program = inv.argv.first().and_then(|p| resolve_program(p, workspace));
        let points_here = program.as_deref().is_some_and(|p| same_file(p, exe));
        if !points_here {
            broken = true;
            problems.error(
                &check,
                format!(
                    "{} `{}` runs {}, not this warden ({})",
                    path.display(),
                    inv.place,
                    match &program {
                        Some(p) => p.display().to_string(),
                        None => format!(
                            "`{}`, which does not exist",
                            inv.argv.first().map_or("", String::as_str)
                        ),
                    },
                    exe.display()
                ),
                reinstall.clone(),
            );
        }
        // Which workspace and policy the invocation governs with.
        let inv_workspace = flag_value(&inv.argv, "--workspace")
            .map(|w| workspace.join(w))
            .unwrap_or_else(|| workspace.to_path_buf());
        if !same_file(&inv_workspace, workspace) {
            broken = true;
            problems.error(
                &check,
                format!(
                    "{} `{}` governs workspace {}, not {}",
                    path.display(),
                    inv.place,
                    inv_workspace.display(),
                    workspace.display()
                ),
                reinstall.clone(),
            );
        }
        let inv_policy = flag_value(&inv.argv, "--policy")
            .map(|p| workspace.join(p))
            .unwrap_or_else(|| policy_load::repo_policy_path(&inv_workspace));
        let uses_this_policy = same_file(&inv_policy, our_policy);
        if !uses_this_policy {
            broken = true;
            problems.error(
                &check,
                format!(
                    "{} `{}` decides with {}, not {}",
                    path.display(),
                    inv.place,
                    inv_policy.display(),
                    our_policy.display()
                ),
                format!(
                    "{reinstall}, or pass the same --policy to `warden doctor` if that file is \
                     meant"
                ),
            );
        }
        info.invocations.push(InvocationInfo {
            place: inv.place,
            argv: inv.argv,
            program: program.map(|p| p.display().to_string()),
            points_at_this_warden: points_here,
            policy: Some(inv_policy.display().to_string()),
            uses_this_policy,
        });
    }
    info.status = if broken { "broken" } else { "installed" };
    info
}

fn check_approval_server(problems: &mut Problems) -> ApprovalInfo {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let url = var("WARDEN_SERVER");
    let token = var("WARDEN_TOKEN");
    let mut info = ApprovalInfo {
        configured: url.is_some(),
        url: url.clone(),
        token_set: token.is_some(),
        token_accepted: None,
        identity: None,
        tls: None,
    };
    let Some(url) = url else {
        return info;
    };
    let Some(token) = token else {
        problems.error(
            "approval-server",
            format!("WARDEN_SERVER names {url} but WARDEN_TOKEN is not set: approvals cannot be filed"),
            "set WARDEN_TOKEN to a token made with `warden approvals token create --role requester`",
        );
        return info;
    };
    let https = url.starts_with("https://");
    if !https {
        info.tls = Some("none");
        let loopback = ["http://127.", "http://localhost", "http://[::1]"]
            .iter()
            .any(|p| url.starts_with(p));
        if !loopback {
            problems.warn(
                "approval-server.tls",
                format!("{url} is plain HTTP: the token crosses the network unencrypted"),
                "serve over TLS (`warden serve --tls-cert FILE --tls-key FILE`) and use https://",
            );
        }
    }
    let client = crate::approval_server::Client::with_timeout(&url, &token, PROBE_TIMEOUT);
    match client.get("/whoami") {
        Ok(who) => {
            info.token_accepted = Some(true);
            info.identity = Some(who);
            if https {
                info.tls = Some("verified");
            }
        }
        Err(crate::approval_server::ClientError::Status { status, msg })
            if status == 401 || status == 403 =>
        {
            info.token_accepted = Some(false);
            if https {
                info.tls = Some("verified");
            }
            problems.error(
                "approval-server.token",
                format!("{url} refuses WARDEN_TOKEN ({status}: {msg})"),
                "set WARDEN_TOKEN to a live token of this server (`warden approvals token create` \
                 with an admin token)",
            );
        }
        Err(crate::approval_server::ClientError::Unreachable { msg, .. })
            if https && is_tls_failure(&msg) =>
        {
            info.tls = Some("failed");
            problems.error(
                "approval-server.tls",
                format!("{url}: its TLS certificate does not verify ({msg})"),
                format!(
                    "set {} to the CA certificate that issued the server's, or give the server \
                     a certificate for this host name from a CA the system trusts",
                    warden_tls::CA_FILE_ENV
                ),
            );
        }
        Err(e) => {
            if https {
                info.tls = Some("unknown");
            }
            problems.error(
                "approval-server",
                format!("{e}"),
                "start `warden serve` there, or correct WARDEN_SERVER",
            );
        }
    }
    info
}

fn is_tls_failure(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    ["certificate", "unknownissuer", "tls", "handshake"]
        .iter()
        .any(|k| m.contains(k))
}

fn check_otlp(policy: &Policy, problems: &mut Problems) -> OtlpInfo {
    let env = |k: &str| std::env::var(k).ok();
    let settings =
        match warden_audit::OtlpSettings::resolve(&policy.config().audit.otlp, &env, None, None) {
            Ok(s) => s,
            Err(e) => {
                problems.error(
                    "otlp",
                    format!("[audit.otlp] cannot be used: {e}"),
                    "correct [audit.otlp] or the OTEL_EXPORTER_OTLP_* variables",
                );
                None
            }
        };
    let Some(s) = settings else {
        return OtlpInfo {
            configured: false,
            traces_endpoint: None,
            logs_endpoint: None,
            reachable: None,
        };
    };
    let agent: ureq::Agent = warden_tls::agent_builder()
        .http_status_as_error(false)
        .timeout_global(Some(PROBE_TIMEOUT))
        .build()
        .into();
    // An empty export: a valid request for any OTLP/HTTP collector, which answers 2xx.
    let (content_type, body): (&str, &[u8]) = match s.protocol {
        warden_audit::otlp::Protocol::Json => ("application/json", b"{}"),
        warden_audit::otlp::Protocol::Protobuf => ("application/x-protobuf", b""),
    };
    let mut req = agent
        .post(&s.traces_endpoint)
        .header("Content-Type", content_type);
    for (k, v) in &s.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let fix = "start the collector or correct [audit.otlp] endpoint / OTEL_EXPORTER_OTLP_ENDPOINT; \
               nothing is lost meanwhile (records ship from the log once it answers, or with \
               `warden audit export`)";
    let reachable = match req.send(body) {
        Ok(r) if r.status().is_success() => true,
        Ok(r) => {
            problems.error(
                "otlp",
                format!(
                    "the OTLP collector at {} answered {} to an empty export",
                    s.traces_endpoint,
                    r.status()
                ),
                fix,
            );
            true
        }
        Err(e) => {
            problems.error(
                "otlp",
                format!(
                    "the OTLP collector at {} is unreachable: {e}",
                    s.traces_endpoint
                ),
                fix,
            );
            false
        }
    };
    OtlpInfo {
        configured: true,
        traces_endpoint: Some(s.traces_endpoint),
        logs_endpoint: Some(s.logs_endpoint),
        reachable: Some(reachable),
    }
}

fn check_network(
    policy: &Policy,
    sources: &[PolicySource],
    workspace: &Path,
    problems: &mut Problems,
) -> Vec<NetRule> {
    let cfg =
        match warden_proxy::ProxyConfig::from_network_config(&policy.config().network, workspace) {
            Ok(c) => c,
            Err(e) => {
                problems.error(
                    "network",
                    format!("the network allowlist cannot be built: {e}"),
                    "correct the [network] section (`warden policy lint`)",
                );
                return Vec::new();
            }
        };
    let named: Vec<(String, Vec<String>)> = sources
        .iter()
        .map(|s| (s.name.clone(), network_names(&s.text)))
        .collect();
    cfg.rules()
        .iter()
        .map(|r| {
            let origin = r.origin();
            let source = if origin == warden_proxy::RuleOrigin::Policy {
                // The highest layer that names the pattern decided it.
                let key = ["allow:", "deny:", "rule:"]
                    .iter()
                    .find_map(|p| r.id.strip_prefix(p))
                    .unwrap_or(&r.id);
                named
                    .iter()
                    .rev()
                    .find(|(_, names)| names.iter().any(|n| n == key))
                    .map_or_else(|| "policy".to_owned(), |(file, _)| file.clone())
            } else {
                r.source.clone()
            };
            NetRule {
                action: match r.action {
                    warden_proxy::RuleAction::Allow => "allow",
                    warden_proxy::RuleAction::Deny => "deny",
                },
                target: r.target.to_string(),
                methods: r.methods.clone(),
                origin,
                source,
                id: r.id.clone(),
            }
        })
        .collect()
}

/// Run `warden doctor`.
pub fn run(args: DoctorArgs) -> CmdResult {
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| CliError::failure(miette::miette!("cannot find warden's executable: {e}")))?;
    let ctx = policy_load::context(args.workspace.as_deref(), None, true)?;
    let workspace = ctx.workspace.clone();
    let mut problems = Problems::default();

    // The policy: each layer's file and digest, then the merged policy.
    let explicit = args
        .policy
        .as_deref()
        .map(policy_load::absolute)
        .transpose()?;
    let mut sources = vec![PolicySource::builtin()];
    let mut policy = Policy::builtin();
    let mut digest = None;
    match policy_load::sources(explicit.as_deref(), &workspace) {
        Ok(s) => {
            sources.extend(s);
            match Policy::load(&sources[1..]) {
                Ok(p) => {
                    digest = Some(p.digest().to_owned());
                    for w in p.lint_warnings() {
                        problems.warn("policy.lint", w, "see `warden policy lint`");
                    }
                    policy = p;
                }
                Err(e) => problems.error(
                    "policy",
                    format!(
                        "the governance files do not load, so every warden command refuses: {e}"
                    ),
                    "run `warden policy lint` and correct the file it names",
                ),
            }
        }
        Err(e) => problems.error(
            "policy",
            format!("{:?}", e.report),
            "make the governance file readable, or unset WARDEN_ORG_POLICY",
        ),
    }
    let layers = sources
        .iter()
        .map(|s| LayerInfo {
            layer: layer_name(s.layer),
            file: s.name.clone(),
            sha256: sha256_of(&s.text),
            locks: if s.layer == Layer::Organisation {
                s.text
                    .parse::<toml_edit::DocumentMut>()
                    .map(|d| toml_strings(d.as_table(), "lock"))
                    .unwrap_or_default()
            } else {
                Vec::new()
            },
        })
        .collect();
    let our_policy = explicit.unwrap_or_else(|| policy_load::repo_policy_path(&workspace));

    let (sandbox_init, init_note) = warden_sandbox::choose_init(&exe);
    if let Some(note) = init_note {
        problems.warn(
            "install.sandbox-init",
            note,
            "make it a regular file owned by root (or you), not writable by group or others, in \
             such a directory",
        );
    } else if sandbox_init == exe {
        problems.warn(
            "install.sandbox-init",
            format!(
                "no {} next to {}: every sandbox start re-executes warden (slower)",
                warden_sandbox::INIT_BINARY_NAME,
                exe.display()
            ),
            "install the warden package (`cargo install --path crates/warden` or the .deb), \
             which puts it there",
        );
    }

    let (kernel, sandbox) = check_kernel(&policy, &ctx, &mut problems);
    let agents = AGENTS
        .iter()
        .map(|a| check_agent(a, &workspace, &our_policy, &exe, &mut problems))
        .collect();
    let approval_server = check_approval_server(&mut problems);
    let otlp = check_otlp(&policy, &mut problems);
    let network = check_network(&policy, &sources, &workspace, &mut problems);

    let ok = !problems.0.iter().any(|p| p.severity == Severity::Error);
    let report = Report {
        schema: SCHEMA,
        ok,
        workspace: workspace.display().to_string(),
        warden: WardenInfo {
            version: env!("CARGO_PKG_VERSION"),
            executable: exe.display().to_string(),
            sandbox_init: sandbox_init.display().to_string(),
        },
        kernel,
        sandbox,
        policy: PolicyInfo { digest, layers },
        agents,
        approval_server,
        otlp,
        network,
        problems: problems.0,
    };
    if args.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| CliError::failure(miette::miette!("cannot encode the report: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", render(&report));
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::FAILURE)
    })
}

fn mark(good: bool) -> &'static str {
    if good { "ok  " } else { "FAIL" }
}

/// The report for a person.
fn render(r: &Report) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let _ = writeln!(t, "warden {} at {}", r.warden.version, r.warden.executable);
    let _ = writeln!(t, "workspace {}", r.workspace);
    let _ = writeln!(t, "sandbox init {}", r.warden.sandbox_init);

    let c = &r.kernel.capabilities;
    let _ = writeln!(t, "\nKernel");
    let _ = writeln!(
        t,
        "  {} namespaces: {}",
        mark(c.user_namespaces),
        if c.user_namespaces {
            r.kernel.namespaces.join(", ")
        } else {
            "none (no user namespaces)".to_owned()
        }
    );
    let _ = writeln!(
        t,
        "  {} Landlock ABI {}",
        mark(c.landlock_abi > 0),
        c.landlock_abi
    );
    let _ = writeln!(t, "  {} seccomp filters", mark(c.seccomp));
    let _ = writeln!(
        t,
        "  {} seccomp user notification (governs the programs a command runs)",
        mark(c.exec_notify)
    );
    let _ = writeln!(
        t,
        "  {} cgroup: {}",
        if c.cgroup2 { "ok  " } else { "warn" },
        r.kernel.cgroup
    );
    let _ = writeln!(
        t,
        "  {} sandbox trial (`true` in a real sandbox): {}",
        match r.sandbox.trial {
            "ok" => "ok  ",
            "skipped" => "--  ",
            _ => "FAIL",
        },
        r.sandbox.trial
    );
    let _ = writeln!(
        t,
        "  {} staging of approved new paths in {}: {}",
        if r.sandbox.staging == "ok" {
            "ok  "
        } else {
            "warn"
        },
        r.sandbox.staging_dir,
        r.sandbox.staging
    );

    let _ = writeln!(
        t,
        "\nPolicy {}",
        r.policy.digest.as_deref().unwrap_or("(does not load)")
    );
    for l in &r.policy.layers {
        let _ = write!(t, "  {:<13} {}  {}", l.layer, l.file, l.sha256);
        if !l.locks.is_empty() {
            let _ = write!(t, "  locks: {}", l.locks.join(", "));
        }
        t.push('\n');
    }

    let _ = writeln!(t, "\nAgents");
    for a in &r.agents {
        let _ = writeln!(t, "  {:<12} {:<13} {}", a.agent, a.status, a.config);
        for i in &a.invocations {
            let _ = writeln!(
                t,
                "    {} {} runs {}",
                mark(i.points_at_this_warden && i.uses_this_policy),
                i.place,
                i.program.clone().unwrap_or_else(|| format!(
                    "{} (which does not exist)",
                    i.argv.first().map_or("", String::as_str)
                ))
            );
        }
    }

    let _ = writeln!(t, "\nApproval server");
    let a = &r.approval_server;
    match &a.url {
        None => {
            let _ = writeln!(
                t,
                "  --   none configured (WARDEN_SERVER, WARDEN_TOKEN): approvals are asked at \
                 the terminal, or deferred/refused when unattended"
            );
        }
        Some(url) => {
            let _ = writeln!(
                t,
                "  {} {url}  token {}  TLS {}",
                mark(a.token_accepted == Some(true)),
                match a.token_accepted {
                    Some(true) => "accepted",
                    Some(false) => "refused",
                    None if a.token_set => "not checked",
                    None => "not set",
                },
                a.tls.unwrap_or("-")
            );
        }
    }

    let _ = writeln!(t, "\nOTLP export");
    match &r.otlp.traces_endpoint {
        None => {
            let _ = writeln!(
                t,
                "  --   none configured ([audit.otlp] endpoint, OTEL_EXPORTER_OTLP_ENDPOINT)"
            );
        }
        Some(e) => {
            let _ = writeln!(
                t,
                "  {} {e}",
                mark(
                    r.otlp.reachable == Some(true) && !r.problems.iter().any(|p| p.check == "otlp")
                )
            );
        }
    }

    let _ = writeln!(t, "\nNetwork allowlist (deny wins)");
    for n in &r.network {
        let methods = if n.methods.is_empty() {
            String::new()
        } else {
            format!(" {}", n.methods.join(","))
        };
        let origin = serde_json::to_value(n.origin)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = writeln!(
            t,
            "  {:<5} {}{methods}  [{origin}] {}",
            n.action, n.target, n.source
        );
    }

    if r.problems.is_empty() {
        let _ = writeln!(
            t,
            "\nNo problems: everything the policy asks for is enforced."
        );
    } else {
        let errors = r
            .problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count();
        let _ = writeln!(
            t,
            "\nProblems: {errors} error(s), {} warning(s)",
            r.problems.len() - errors
        );
        for p in &r.problems {
            let sev = match p.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let _ = writeln!(t, "  {sev} [{}] {}", p.check, p.problem);
            let _ = writeln!(t, "    fix: {}", p.fix);
        }
        if r.ok {
            let _ = writeln!(
                t,
                "Everything the policy asks for is enforced (the warnings are degradations)."
            );
        }
    }
    t
}
