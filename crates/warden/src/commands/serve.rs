//! `warden serve`: the approval server (HTTP JSON API, web UI, SSE, webhooks) over SQLite or
//! PostgreSQL.

use crate::exit::{CliError, CmdResult};
use crate::policy_load;
use crate::record::ApprovalAudit;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use warden_approvals::{Event, PgStore, ServeOptions, SqliteStore, Store, routing::parse_duration};

/// How often `--audit-log` is sealed while records are being written.
const SEAL_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Arguments of `warden serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Database: a SQLite file path or `sqlite:PATH` (created if missing), or
    /// `postgres://user@host:port/db` (several replicas may share one PostgreSQL database).
    #[arg(long, value_name = "URL", default_value = "sqlite:warden-approvals.db")]
    pub db: String,
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8420")]
    pub listen: String,
    /// Governance file that classifies every filed action (its tier, category and rule decide
    /// routing, whatever the filer claims) and whose `[approvals]` section routes requests
    /// (default: the layered policy of the current directory's workspace).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// How long a granted approval stays usable, e.g. `10m`.
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub approval_ttl: String,
    /// Append every event (request, vote, decision, expiry, execution) as a JSON line to FILE.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Write every request, vote, decision, expiry, use and execution as `approval` records to
    /// this hash-chained audit log (the format of `warden audit`; `warden audit verify --log PATH`
    /// checks it). Signing key and checkpoint interval come from the policy's `[audit]` section.
    /// Its head is sealed within a second of every write (the note kept under
    /// `~/.config/warden/heads/`), so records cut off its end are named by `verify`.
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key). Without it the server speaks
    /// plain HTTP: keep it on loopback or behind a TLS-terminating reverse proxy.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Admin token to create on first start (else a random one is printed once on stdout).
    #[arg(long, env = "WARDEN_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}

/// Run the server until killed.
pub fn run(args: ServeArgs) -> CmdResult {
    let ttl = parse_duration(&args.approval_ttl)
        .map_err(|e| CliError::bad_input(miette::miette!("--approval-ttl: {e}")))?;
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::failure(miette::miette!("current directory: {e}")))?;
    let workspace = policy_load::find_workspace(&cwd);
    let policy = policy_load::load(args.policy.as_deref(), &workspace)?;
    for w in policy.lint_warnings() {
        stderr_line!("warden serve: warning: {w}");
    }
    let store: Arc<dyn Store> =
        if args.db.starts_with("postgres://") || args.db.starts_with("postgresql://") {
            Arc::new(PgStore::connect(&args.db).map_err(|e| {
                // The URL may carry a password: never echo it.
                CliError::failure(miette::miette!("cannot connect to PostgreSQL: {e}"))
            })?)
        } else {
            let path = PathBuf::from(args.db.strip_prefix("sqlite:").unwrap_or(&args.db));
            Arc::new(SqliteStore::open(&path).map_err(|e| {
                CliError::failure(miette::miette!(
                    "cannot open database {}: {e}",
                    path.display()
                ))
            })?)
        };
    let events_file = match &args.events {
        Some(p) => Some(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| CliError::failure(miette::miette!("{}: {e}", p.display())))?,
        )),
        None => None,
    };
    let audit = match &args.audit_log {
        Some(p) => Some(Arc::new(ApprovalAudit::open(
            p,
            &workspace,
            &policy.config().audit,
        )?)),
        None => None,
    };
    if let Some(audit) = &audit {
        // The log's head is sealed (anchored outside the log) within a second of each write, so
        // records cut off its end do not go unnoticed; a quiet server seals nothing.
        let audit = Arc::clone(audit);
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(SEAL_EVERY);
                if let Err(e) = audit.seal_if_written() {
                    stderr_line!(
                        "warden serve: audit log: cannot seal the head: {:?}",
                        e.report
                    );
                }
            }
        });
    }
    let sink_store = store.clone();
    let sink = Arc::new(move |ev: &Event| {
        if let Some(f) = &events_file {
            let line = serde_json::to_string(ev).unwrap_or_default();
            let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
            let _ = writeln!(f, "{line}");
            let _ = f.flush();
        }
        if let Some(audit) = &audit {
            // The request as stored after the event: the record names its action and digest.
            let recorded = match sink_store.get_request(ev.request_id()) {
                Ok(Some(r)) => audit.record(ev, &r).map_err(|e| format!("{:?}", e.report)),
                Ok(None) => Err(format!("request {} vanished", ev.request_id())),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = recorded {
                stderr_line!("warden serve: audit log: cannot record {ev:?}: {e}");
            }
        }
    });
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            warden_tls::server_config(cert, key)
                .map_err(|e| CliError::bad_input(miette::miette!("TLS: {e}")))?,
        ),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    // A token the operator chose is never echoed: it is a secret and they already have it.
    let token_supplied = args.admin_token.is_some();
    let approvals = policy.config().approvals.clone();
    let policy = Arc::new(policy);
    // The server's own reading of every filed action, as the sandboxed run would be classified.
    let classifier: warden_approvals::Classifier = Arc::new(move |action, workspace, cwd| {
        let ctx = warden_policy::Context {
            workspace: warden_policy::normalise_path(workspace),
            cwd: warden_policy::normalise_path(cwd),
            home: policy_load::home(),
            sandboxed: true,
        };
        // With lookahead, but only through a directory marked as a workspace: the requester
        // names it, and what is read ahead shows in the reasons it gets back.
        policy.classify_with(
            action,
            &ctx,
            &warden_govern::WorkspaceFiles::claimed(workspace),
        )
    });
    let opts = ServeOptions {
        listen: args.listen,
        store,
        approvals,
        classifier,
        approval_ttl: ttl,
        bootstrap_token: args.admin_token,
        events: sink,
        on_ready: Box::new(move |addr, token| {
            match token {
                Some(_) if token_supplied => {
                    println!("admin token: created from --admin-token / WARDEN_ADMIN_TOKEN");
                }
                Some(t) => println!("admin token (shown once): {t}"),
                None => {}
            }
            stderr_line!("warden serve: listening on {scheme}://{addr}");
            let _ = std::io::stdout().flush();
        }),
        tls,
    };
    warden_approvals::serve_blocking(opts)
        .map_err(|e| CliError::failure(miette::miette!("{e}")))?;
    Ok(ExitCode::SUCCESS)
}
