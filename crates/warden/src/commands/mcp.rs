//! `warden mcp`: an MCP server whose tools (`exec`, `read_file`, `write_file`, `edit_file`,
//! `list_dir`, `http_request`, `approval_status`) all take the governed path, for any
//! MCP-capable agent. Over stdio by default, or streamable HTTP with `--listen`.

use crate::agents::mcp::{server, tools};
use crate::exit::{CliError, CmdResult};
use crate::policy_load;
use rmcp::ServiceExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `warden mcp`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Approvals: with WARDEN_SERVER and WARDEN_TOKEN set, `sync` actions wait \
for an approver and `async` ones return a ticket; without them such actions are refused (an MCP \
server has no terminal to prompt on)."
)]
pub struct McpArgs {
    /// Governance file to use as the repository layer (default: <workspace>/.warden/policy.toml).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Workspace root the tools are confined to (default: the nearest directory with `.git`
    /// or `.warden`).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Serve streamable HTTP on this address (path `/mcp`) instead of stdio, e.g. 127.0.0.1:8421.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// Bearer token HTTP clients must present (required to listen on a non-loopback address).
    #[arg(long, env = "WARDEN_MCP_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[command(flatten)]
    pub degraded: super::flags::Degraded,
    /// Most bytes of file content, command output or response body in one tool result.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    pub max_output: usize,
}

fn failure(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::failure(miette::miette!("{what}: {e}"))
}

/// Run `warden mcp`.
pub fn run(args: McpArgs) -> CmdResult {
    let ctx = policy_load::context(args.workspace.as_deref(), None, true)?;
    let policy_file = match &args.policy {
        Some(p) => Some(policy_load::absolute(p)?),
        None => None,
    };
    let gov = Arc::new(tools::Tools::new(
        &ctx.workspace,
        policy_file,
        args.degraded.allow_degraded,
        args.max_output,
    )?);
    if let Some(addr) = args.listen
        && !addr.ip().is_loopback()
        && args.token.is_none()
    {
        return Err(CliError::bad_input(miette::miette!(
            help = "set --token (or WARDEN_MCP_TOKEN), or listen on 127.0.0.1",
            "refusing to serve governed tools on {addr} without a bearer token"
        )));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| failure("cannot start the async runtime", e))?;
    runtime.block_on(async move {
        match args.listen {
            None => serve_stdio(gov).await,
            Some(addr) => serve_http(gov, addr, args.token).await,
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn serve_stdio(gov: Arc<tools::Tools>) -> Result<(), CliError> {
    let service = server::WardenTools::new(gov)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| failure("MCP handshake on stdio failed", e))?;
    service
        .waiting()
        .await
        .map_err(|e| failure("MCP server", e))?;
    Ok(())
}

async fn serve_http(
    gov: Arc<tools::Tools>,
    addr: std::net::SocketAddr,
    token: Option<String>,
) -> Result<(), CliError> {
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    };
    let mut config = StreamableHttpServerConfig::default();
    if !addr.ip().is_loopback() {
        // Reached by name from elsewhere; the bearer token is the gate.
        config = config.disable_allowed_hosts();
    }
    let service = StreamableHttpService::new(
        move || Ok(server::WardenTools::new(Arc::clone(&gov))),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let expected = token.map(|t| format!("Bearer {t}"));
    let router =
        axum::Router::new()
            .nest_service("/mcp", service)
            .layer(axum::middleware::from_fn(
                move |req: axum::extract::Request, next: axum::middleware::Next| {
                    let expected = expected.clone();
                    async move {
                        if let Some(want) = expected {
                            let got = req
                                .headers()
                                .get(axum::http::header::AUTHORIZATION)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("");
                            if !constant_time_eq(got.as_bytes(), want.as_bytes()) {
                                return axum::response::IntoResponse::into_response((
                                    axum::http::StatusCode::UNAUTHORIZED,
                                    [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
                                    "missing or wrong bearer token\n",
                                ));
                            }
                        }
                        next.run(req).await
                    }
                },
            ));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| failure(&format!("cannot listen on {addr}"), e))?;
    let local = listener
        .local_addr()
        .map_err(|e| failure("listener address", e))?;
    stderr_line!("warden mcp: listening on http://{local}/mcp");
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| failure("MCP HTTP server", e))
}

/// Compare secrets without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
