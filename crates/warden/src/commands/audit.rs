//! `warden audit`: verify, read, checkpoint, sign and export the write-ahead audit log.

use crate::exit::{CliError, CmdResult};
use crate::policy_load;
use crate::record::{self, IntentMeta, Outcome, Recorder};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use warden_audit::{NoteSigner, NoteVerifier, OtlpSettings, VerifyOptions};
use warden_policy::Action;
use warden_policy::sections::AuditConfig;

/// Arguments of `warden audit`.
#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    /// Workspace root (default: the nearest directory with `.git` or `.warden`).
    #[arg(long, global = true, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// The log file (default: from `[audit] path`, else `<workspace>/.warden/audit/audit.jsonl`).
    #[arg(long, global = true, value_name = "PATH")]
    pub log: Option<PathBuf>,
    /// Governance file to use as the repository layer (default: <workspace>/.warden/policy.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    #[command(subcommand)]
    pub command: AuditCommand,
}

/// The subcommands of `warden audit`.
#[derive(clap::Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the hash chain, sequence, intents before outcomes, checkpoints and signatures.
    #[command(
        after_help = "Exit status: 0 when the log verifies, 1 naming the first broken record."
    )]
    Verify(VerifyArgs),
    /// Print the last records (readable, or JSON lines), optionally following new ones.
    Tail(TailArgs),
    /// Print one record by sequence number.
    Show(ShowArgs),
    /// Create the Ed25519 checkpoint signing key (outside the workspace, mode 0600).
    Keygen(KeygenArgs),
    /// Seal the log now: append a checkpoint, move the head anchor to it, and print the
    /// checkpoint's signed note (save it to check later with --against).
    Checkpoint(CheckpointArgs),
    /// Truncate a torn final line left by a crash (recording that) and report.
    Recover,
    /// Print an RFC 6962 inclusion proof (JSON) of record SEQ in the tree of the first
    /// `--size` records (default: all), e.g. the size of a saved checkpoint.
    Proof(ProofArgs),
    /// Export records after the cursor to an OTLP/HTTP collector, once.
    Export(ExportArgs),
    /// Append intent/outcome pairs as fast as possible (for crash and load tests).
    #[command(name = "__stress", hide = true)]
    Stress(StressArgs),
}

/// `warden audit verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// Verifier key (file, or the key text `name+id+base64`) that must have signed checkpoints.
    #[arg(long, value_name = "PUB")]
    pub key: Option<String>,
    /// A checkpoint note saved earlier; the log must still contain exactly what it covered.
    #[arg(long, value_name = "FILE")]
    pub against: Option<PathBuf>,
    /// The head anchor to check the log against (default: the one Warden keeps for this log
    /// under `~/.config/warden/heads/`, written by every seal).
    #[arg(long, value_name = "FILE", conflicts_with = "no_anchor")]
    pub anchor: Option<PathBuf>,
    /// Do not check the head anchor (e.g. an auditor handed only the log): records cut off the
    /// log's end then go unnoticed unless --against covers them.
    #[arg(long)]
    pub no_anchor: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `warden audit tail`.
#[derive(clap::Args, Debug)]
pub struct TailArgs {
    /// How many records.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub lines: usize,
    /// Keep printing records as they are appended.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Print records as JSON lines.
    #[arg(long)]
    pub json: bool,
}

/// `warden audit show`.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// Sequence number.
    pub seq: u64,
}

/// `warden audit keygen`.
#[derive(clap::Args, Debug)]
pub struct KeygenArgs {
    /// Key name (appears in signatures). Default: `warden-<hostname>`.
    #[arg(long)]
    pub name: Option<String>,
    /// Where to write the secret key (default: `[audit] signing_key`, else
    /// `~/.config/warden/audit.key`); the verifier key goes to `<out>.pub`.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Replace an existing key.
    #[arg(long)]
    pub force: bool,
}

/// `warden audit checkpoint`.
#[derive(clap::Args, Debug)]
pub struct CheckpointArgs {
    /// Also write the signed note to FILE.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `warden audit proof`.
#[derive(clap::Args, Debug)]
pub struct ProofArgs {
    /// Sequence number of the record.
    pub seq: u64,
    /// Tree size (default: every record in the log).
    #[arg(long)]
    pub size: Option<u64>,
}

/// `warden audit export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Base URL of an OTLP/HTTP collector (default: `OTEL_EXPORTER_OTLP_*`, then `[audit.otlp]`).
    #[arg(long, value_name = "URL")]
    pub otlp: Option<String>,
    /// `http/protobuf` or `http/json`.
    #[arg(long, value_name = "P")]
    pub protocol: Option<String>,
    /// Cursor file (default: `<log>.otlp-cursor`).
    #[arg(long, value_name = "FILE")]
    pub cursor: Option<PathBuf>,
}

/// `warden audit __stress`.
#[derive(clap::Args, Debug)]
pub struct StressArgs {
    /// Intent/outcome pairs per writer (0: until killed).
    #[arg(long, default_value_t = 100)]
    pub count: u64,
    /// Concurrent writer threads.
    #[arg(long, default_value_t = 1)]
    pub writers: usize,
}

struct Ctx {
    workspace: PathBuf,
    cfg: AuditConfig,
    policy: Option<warden_policy::Policy>,
    log: PathBuf,
}

fn ctx(args: &AuditArgs) -> Result<Ctx, CliError> {
    let here = std::env::current_dir().map_err(|e| {
        CliError::failure(miette::miette!("cannot read the current directory: {e}"))
    })?;
    let workspace = match &args.workspace {
        Some(w) => policy_load::absolute(w)?,
        None => policy_load::find_workspace(&here),
    };
    let policy = policy_load::load(args.policy.as_deref(), &workspace)?;
    let cfg = policy.config().audit.clone();
    let log = match &args.log {
        Some(l) => policy_load::absolute(l)?,
        None => record::log_path(&workspace, &cfg),
    };
    Ok(Ctx {
        workspace,
        cfg,
        policy: Some(policy),
        log,
    })
}

fn fail(msg: impl std::fmt::Display) -> CliError {
    CliError::failure(miette::miette!("{msg}"))
}

fn bad(msg: impl std::fmt::Display) -> CliError {
    CliError::bad_input(miette::miette!("{msg}"))
}

/// Run `warden audit`.
pub fn run(args: AuditArgs) -> CmdResult {
    let c = ctx(&args)?;
    match args.command {
        AuditCommand::Verify(a) => verify(&c, a),
        AuditCommand::Tail(a) => tail(&c, a),
        AuditCommand::Show(a) => show(&c, a),
        AuditCommand::Keygen(a) => keygen(&c, a),
        AuditCommand::Checkpoint(a) => checkpoint(&c, a),
        AuditCommand::Recover => recover(&c),
        AuditCommand::Proof(a) => proof(&c, a),
        AuditCommand::Export(a) => export(&c, a),
        AuditCommand::Stress(a) => stress(c, a),
    }
}

fn need_log(c: &Ctx) -> Result<(), CliError> {
    if c.log.exists() {
        Ok(())
    } else {
        Err(bad(format!("no audit log at {}", c.log.display())))
    }
}

fn read_key(k: &str) -> Result<NoteVerifier, CliError> {
    let text = match std::fs::read_to_string(k) {
        Ok(t) => t,
        Err(_) if k.contains('+') && !Path::new(k).exists() => k.to_owned(),
        Err(e) => return Err(bad(format!("cannot read key {k}: {e}"))),
    };
    NoteVerifier::parse(&text).map_err(|e| bad(format!("verifier key {k}: {e}")))
}

fn verify(c: &Ctx, a: VerifyArgs) -> CmdResult {
    need_log(c)?;
    let key = a.key.as_deref().map(read_key).transpose()?;
    let against = match &a.against {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .map_err(|e| bad(format!("cannot read {}: {e}", p.display())))?,
        ),
        None => None,
    };
    let anchor = if a.no_anchor {
        None
    } else {
        let path = match &a.anchor {
            Some(p) => policy_load::absolute(p)?,
            None => record::anchor_path(&c.log),
        };
        Some(warden_audit::Anchor::load(&path).map_err(fail)?)
    };
    let opts = VerifyOptions {
        key,
        against,
        anchor,
    };
    let report = warden_audit::verify(&c.log, &opts).map_err(fail)?;
    if a.json {
        let text = serde_json::to_string_pretty(&report).map_err(fail)?;
        println!("{text}");
    } else {
        for u in &report.outcome_unknown {
            println!(
                "record {}: intent{} has no outcome: outcome unknown",
                u.seq,
                u.tool
                    .as_deref()
                    .map(|t| format!(" ({t})"))
                    .unwrap_or_default()
            );
        }
        if report.ok {
            println!(
                "ok: {} records, {} checkpoints, {} after the last checkpoint, head {}, root {}",
                report.records,
                report.checkpoints,
                report.after_last_checkpoint,
                report.head,
                report.root
            );
            match report.anchored {
                Some(n) => {
                    println!("head anchored: the log extends its sealed head of {n} records")
                }
                None => println!("head not anchored: records cut off the end would go unnoticed"),
            }
        }
    }
    match report.problems.first() {
        None => Ok(ExitCode::SUCCESS),
        Some(first) => {
            if !a.json {
                // Plain lines (not wrapped by the report renderer), first broken record first.
                for p in report.problems.iter().take(20) {
                    stderr_line!("error: {p}");
                }
            }
            Err(fail(format!(
                "audit log {} does not verify: {first}",
                c.log.display()
            )))
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` from Unix nanoseconds.
fn fmt_time(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let ms = (ns / 1_000_000) % 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

fn summary(r: &serde_json::Value, unknown: bool) -> String {
    let g = |k: &str| r.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
    let n = |k: &str| r.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
    let kind = g("kind");
    let what = match kind.as_str() {
        "intent" => {
            let action = match r.get("action") {
                Some(a) => match (a.get("argv"), a.get("script")) {
                    (Some(argv), _) => argv
                        .as_array()
                        .map(|v| {
                            v.iter()
                                .filter_map(|x| x.as_str())
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .unwrap_or_default(),
                    (_, Some(s)) => s.as_str().unwrap_or("").to_owned(),
                    _ => a.to_string(),
                },
                None => String::new(),
            };
            format!(
                "{} tier={} rule={} {}{}",
                g("tool"),
                g("tier"),
                g("rule"),
                action,
                if unknown { "  [outcome unknown]" } else { "" }
            )
        }
        "outcome" => {
            let status = match (r.get("exit_code"), r.get("signal")) {
                (_, Some(s)) => format!("signal {s}"),
                (Some(c), _) => format!("exit {c}"),
                _ => "did not run".into(),
            };
            format!(
                "intent {} {status} in {} ms",
                n("intent_seq"),
                n("duration_ns") / 1_000_000
            )
        }
        "approval" => format!("intent {} {} {}", n("intent_seq"), g("event"), g("by")),
        "network" => format!(
            "intent {} {} {}:{} {}",
            n("intent_seq"),
            if r.get("allowed").and_then(serde_json::Value::as_bool) == Some(true) {
                "allow"
            } else {
                "deny"
            },
            g("host"),
            n("port"),
            g("rule")
        ),
        "checkpoint" => format!(
            "size {} root {}{}",
            n("size"),
            g("root"),
            if r.get("signed") == Some(&serde_json::Value::Bool(true)) {
                " (signed)"
            } else {
                ""
            }
        ),
        "recovery" => format!("{} ({} bytes)", g("event"), n("truncated_bytes")),
        _ => String::new(),
    };
    format!(
        "{:>6}  {}  {:<10} {}",
        n("seq"),
        fmt_time(n("ts_ns")),
        kind,
        what
    )
}

fn open_intents(records: &[serde_json::Value]) -> std::collections::HashSet<u64> {
    let mut open = std::collections::HashSet::new();
    for r in records {
        let seq = r
            .get("seq")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        match r.get("kind").and_then(|k| k.as_str()) {
            Some("intent") => {
                open.insert(seq);
            }
            Some("outcome") => {
                if let Some(i) = r.get("intent_seq").and_then(serde_json::Value::as_u64) {
                    open.remove(&i);
                }
            }
            _ => {}
        }
    }
    open
}

fn tail(c: &Ctx, a: TailArgs) -> CmdResult {
    need_log(c)?;
    let (lines, _) = warden_audit::log::read_lines(&c.log).map_err(fail)?;
    let records: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    let open = open_intents(&records);
    let start = lines.len().saturating_sub(a.lines);
    let mut out = std::io::stdout().lock();
    for (line, r) in lines[start..].iter().zip(
        records
            .iter()
            .skip(records.len().saturating_sub(lines.len() - start)),
    ) {
        if a.json {
            let _ = out.write_all(line);
            let _ = out.write_all(b"\n");
        } else {
            let seq = r
                .get("seq")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            let _ = writeln!(out, "{}", summary(r, open.contains(&seq)));
        }
    }
    let _ = out.flush();
    if !a.follow {
        return Ok(ExitCode::SUCCESS);
    }
    let mut offset = std::fs::metadata(&c.log).map(|m| m.len()).unwrap_or(0);
    let mut pending = Vec::new();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let data = std::fs::read(&c.log).map_err(fail)?;
        if (data.len() as u64) < offset {
            offset = 0;
        }
        pending.extend_from_slice(&data[offset as usize..]);
        offset = data.len() as u64;
        while let Some(i) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=i).collect();
            let line = &line[..line.len() - 1];
            if a.json {
                let _ = out.write_all(line);
                let _ = out.write_all(b"\n");
            } else if let Ok(r) = serde_json::from_slice::<serde_json::Value>(line) {
                let _ = writeln!(out, "{}", summary(&r, false));
            }
        }
        let _ = out.flush();
    }
}

fn show(c: &Ctx, a: ShowArgs) -> CmdResult {
    need_log(c)?;
    let records = warden_audit::log::read_records(&c.log).map_err(fail)?;
    let Some(r) = records
        .iter()
        .find(|r| r.get("seq").and_then(serde_json::Value::as_u64) == Some(a.seq))
    else {
        return Err(bad(format!("no record {} in {}", a.seq, c.log.display())));
    };
    println!("{}", serde_json::to_string_pretty(r).map_err(fail)?);
    if r.get("kind").and_then(|k| k.as_str()) == Some("intent") {
        let outcome = records.iter().find(|o| {
            o.get("kind").and_then(|k| k.as_str()) == Some("outcome")
                && o.get("intent_seq").and_then(serde_json::Value::as_u64) == Some(a.seq)
        });
        match outcome {
            Some(o) => stderr_line!(
                "outcome: record {}",
                o.get("seq").unwrap_or(&serde_json::Value::Null)
            ),
            None => stderr_line!("outcome unknown (no outcome record names this intent)"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn keygen(c: &Ctx, a: KeygenArgs) -> CmdResult {
    let out = a
        .out
        .clone()
        .map(|p| policy_load::absolute(&p))
        .transpose()?
        .unwrap_or_else(|| record::key_path(&c.cfg));
    if out.starts_with(&c.workspace) {
        return Err(bad(format!(
            "refusing to write the signing key inside the workspace ({}); keep it outside, e.g. under ~/.config/warden/",
            out.display()
        )));
    }
    if out.exists() && !a.force {
        return Err(bad(format!(
            "{} exists (use --force to replace it)",
            out.display()
        )));
    }
    let name = a.name.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        format!("warden-{}", host.trim())
    });
    let signer = NoteSigner::generate(&name).map_err(|e| bad(format!("key name: {e}")))?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail(format!("create {}: {e}", dir.display())))?;
        use std::os::unix::fs::PermissionsExt as _;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    write_secret(&out, &signer.to_text())?;
    let mut pubp = out.as_os_str().to_owned();
    pubp.push(".pub");
    let pubp = PathBuf::from(pubp);
    std::fs::write(&pubp, format!("{}\n", signer.verifier_text()))
        .map_err(|e| fail(format!("write {}: {e}", pubp.display())))?;
    stderr_line!(
        "signing key: {} (mode 0600)\nverifier key: {}",
        out.display(),
        pubp.display()
    );
    println!("{}", signer.verifier_text());
    Ok(ExitCode::SUCCESS)
}

fn write_secret(path: &Path, text: &str) -> Result<(), CliError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| fail(format!("create {}: {e}", path.display())))?;
    f.write_all(format!("{text}\n").as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| fail(format!("write {}: {e}", path.display())))
}

fn checkpoint(c: &Ctx, a: CheckpointArgs) -> CmdResult {
    let log = record::open_log(&c.workspace, &c.cfg, Some(&c.log))?;
    // A seal: the checkpoint record, and the head anchor moved to it.
    let sealed = log.seal().map_err(fail)?;
    let (rec, note) = (sealed.appended, sealed.checkpoint);
    if let Some(out) = &a.out {
        std::fs::write(out, &note).map_err(|e| fail(format!("write {}: {e}", out.display())))?;
    }
    stderr_line!(
        "checkpoint record {} written to {}",
        rec.seq,
        c.log.display()
    );
    print!("{note}");
    Ok(ExitCode::SUCCESS)
}

fn recover(c: &Ctx) -> CmdResult {
    need_log(c)?;
    let before = warden_audit::log::read_lines(&c.log).map_err(fail)?.1;
    record::open_log(&c.workspace, &c.cfg, Some(&c.log))?;
    println!(
        "{}",
        if before {
            "torn final line truncated and recorded"
        } else {
            "log is intact"
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn proof(c: &Ctx, a: ProofArgs) -> CmdResult {
    need_log(c)?;
    let p = warden_audit::inclusion_proof(&c.log, a.seq, a.size).map_err(|e| match e {
        warden_audit::AuditError::Invalid(m) => bad(m),
        other => fail(other),
    })?;
    println!("{}", serde_json::to_string_pretty(&p).map_err(fail)?);
    Ok(ExitCode::SUCCESS)
}

fn export(c: &Ctx, a: ExportArgs) -> CmdResult {
    need_log(c)?;
    let env = |k: &str| std::env::var(k).ok();
    let settings = OtlpSettings::resolve(&c.cfg.otlp, &env, a.otlp.as_deref(), a.protocol.as_deref())
        .map_err(|e| bad(e.to_string()))?
        .ok_or_else(|| bad("no OTLP endpoint: pass --otlp URL, set OTEL_EXPORTER_OTLP_ENDPOINT or [audit.otlp] endpoint"))?;
    let cursor = match a.cursor {
        Some(p) => warden_audit::Cursor::at(p),
        None => warden_audit::Cursor::for_log(&c.log),
    };
    let exporter = warden_audit::Exporter::with_cursor(&c.log, cursor, settings);
    let n = exporter.export_pending().map_err(fail)?;
    println!("exported {n} records");
    Ok(ExitCode::SUCCESS)
}

fn stress(c: Ctx, a: StressArgs) -> CmdResult {
    let Some(policy) = c.policy else {
        return Err(fail("no policy"));
    };
    let policy = std::sync::Arc::new(policy);
    // Write to the log given by --log even when the policy names another.
    let rec = Recorder::open_at(&c.workspace, &policy, Some(&c.log))?;
    let ctx = policy_load::context(Some(&c.workspace), Some(&c.workspace), true)?;
    let started = Instant::now();
    // Tell a driving test that the log is open and writing starts now.
    println!("ready");
    let _ = std::io::stdout().flush();
    let mut threads = Vec::new();
    for w in 0..a.writers.max(1) {
        let rec = rec.clone();
        let policy = std::sync::Arc::clone(&policy);
        let ctx = ctx.clone();
        let count = a.count;
        threads.push(std::thread::spawn(move || -> Result<u64, String> {
            let mut i = 0u64;
            while count == 0 || i < count {
                let action = Action::Exec {
                    argv: vec!["cargo".into(), "test".into(), format!("w{w}-{i}")],
                    cwd: None,
                };
                let decision = policy.classify(&action, &ctx);
                let meta = IntentMeta {
                    session: Some(format!("stress-{w}")),
                    ..Default::default()
                };
                let id = rec
                    .intent(&action, &decision, &meta)
                    .map_err(|e| e.to_string())?;
                let outcome = Outcome {
                    exit_code: Some(0),
                    duration: Duration::from_micros(10),
                    ..Default::default()
                };
                rec.outcome(&id, &outcome).map_err(|e| e.to_string())?;
                i += 1;
            }
            Ok(i)
        }));
    }
    let mut total = 0;
    for t in threads {
        total += t
            .join()
            .map_err(|_| fail("writer panicked"))?
            .map_err(fail)?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{total} pairs ({} records) in {secs:.3} s: {:.0} records/s",
        total * 2,
        (total * 2) as f64 / secs
    );
    Ok(ExitCode::SUCCESS)
}
