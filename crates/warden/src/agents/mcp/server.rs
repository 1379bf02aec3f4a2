//! The MCP face of the governed tools: `rmcp` tool definitions (names, descriptions, JSON input
//! schemas) that hand each call to the [`Tools`] on a blocking thread and turn its reply into
//! MCP content (text) plus structured content.

use super::tools::{HttpRequest, Reply, Tools};
use rmcp::handler::server::{router::tool::ToolRouter, wrapper::Parameters};
use rmcp::model::{CallToolResult, ContentBlock, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
use std::sync::Arc;

/// Arguments of `exec`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct ExecArgs {
    /// The command as an argument vector, run without a shell (give this or `command`).
    #[serde(default)]
    pub argv: Option<Vec<String>>,
    /// The command as a shell string, run with `/bin/sh -c` (give this or `argv`).
    #[serde(default)]
    pub command: Option<String>,
    /// Directory to start in, relative to the workspace (default: the workspace root).
    #[serde(default)]
    pub cwd: Option<String>,
    /// Why you want to run it (recorded in the audit log and shown to approvers).
    #[serde(default)]
    pub rationale: Option<String>,
}

/// Arguments of `read_file`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct ReadArgs {
    /// Path relative to the workspace (or absolute inside it).
    pub path: String,
    /// Why (recorded and shown to approvers).
    #[serde(default)]
    pub rationale: Option<String>,
    /// Ticket of an approval granted for this exact call.
    #[serde(default)]
    pub ticket: Option<String>,
}

/// Arguments of `write_file`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct WriteArgs {
    /// Path relative to the workspace (or absolute inside it); parent directories are created.
    pub path: String,
    /// The complete new content of the file.
    pub content: String,
    /// Why (recorded and shown to approvers).
    #[serde(default)]
    pub rationale: Option<String>,
    /// Ticket of an approval granted for this exact call.
    #[serde(default)]
    pub ticket: Option<String>,
}

/// Arguments of `edit_file`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct EditArgs {
    /// Path relative to the workspace (or absolute inside it).
    pub path: String,
    /// Exact text to replace; must occur once unless `replace_all`.
    pub old_string: String,
    /// Replacement text.
    pub new_string: String,
    /// Replace every occurrence.
    #[serde(default)]
    pub replace_all: bool,
    /// Why (recorded and shown to approvers).
    #[serde(default)]
    pub rationale: Option<String>,
    /// Ticket of an approval granted for this exact call.
    #[serde(default)]
    pub ticket: Option<String>,
}

/// Arguments of `list_dir`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct ListArgs {
    /// Directory relative to the workspace (default: the workspace root).
    #[serde(default)]
    pub path: Option<String>,
    /// Why (recorded).
    #[serde(default)]
    pub rationale: Option<String>,
}

/// Arguments of `http_request`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct HttpArgs {
    #[serde(flatten)]
    pub request: HttpRequest,
    /// Why (recorded and shown to approvers).
    #[serde(default)]
    pub rationale: Option<String>,
    /// Ticket of an approval granted for this exact call.
    #[serde(default)]
    pub ticket: Option<String>,
}

/// Arguments of `approval_status`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct StatusArgs {
    /// The ticket id a pending call returned.
    pub ticket: String,
}

/// The MCP server: one per connection (stdio) or session (HTTP), sharing one [`Tools`].
#[derive(Clone)]
pub struct WardenTools {
    gov: Arc<Tools>,
    tool_router: ToolRouter<Self>,
}

fn to_result(r: Reply) -> CallToolResult {
    let mut out = if r.is_error {
        CallToolResult::error(vec![ContentBlock::text(r.text)])
    } else {
        CallToolResult::success(vec![ContentBlock::text(r.text)])
    };
    out.structured_content = Some(r.structured);
    out
}

impl WardenTools {
    async fn blocking(
        &self,
        f: impl FnOnce(&Tools) -> Reply + Send + 'static,
    ) -> Result<CallToolResult, ErrorData> {
        let gov = Arc::clone(&self.gov);
        tokio::task::spawn_blocking(move || f(&gov))
            .await
            .map(to_result)
            .map_err(|e| ErrorData::internal_error(format!("tool task failed: {e}"), None))
    }
}

#[tool_router]
impl WardenTools {
    /// A server for `gov`.
    pub fn new(gov: Arc<Tools>) -> Self {
        Self {
            gov,
            tool_router: Self::tool_router(),
        }
    }

    #[tool(
        description = "Run a command in the workspace under Warden: classified by the governance policy, recorded in the audit log, approved if its tier asks for it, and run in the sandbox (writes confined to the workspace, network only through Warden's egress proxy). Give `argv` or `command`. A denied command is an error naming the rule; one that needs asynchronous approval returns status `pending` with a ticket for `approval_status`."
    )]
    async fn exec(&self, Parameters(a): Parameters<ExecArgs>) -> Result<CallToolResult, ErrorData> {
        self.blocking(move |g| g.exec(a.argv, a.command, a.cwd, a.rationale))
            .await
    }

    #[tool(
        description = "Read a text file inside the workspace (governed: classified, recorded; credential files need approval)."
    )]
    async fn read_file(
        &self,
        Parameters(a): Parameters<ReadArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.blocking(move |g| g.read_file(&a.path, a.rationale, a.ticket))
            .await
    }

    #[tool(
        description = "Create or replace a file inside the workspace (governed; paths outside the workspace, through symlinks, and Warden's own files are refused)."
    )]
    async fn write_file(
        &self,
        Parameters(a): Parameters<WriteArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.blocking(move |g| g.write_file(&a.path, &a.content, a.rationale, a.ticket))
            .await
    }

    #[tool(
        description = "Replace an exact string in a file inside the workspace (once, or every occurrence with replace_all); governed like write_file."
    )]
    async fn edit_file(
        &self,
        Parameters(a): Parameters<EditArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.blocking(move |g| {
            g.edit_file(
                &a.path,
                &a.old_string,
                &a.new_string,
                a.replace_all,
                a.rationale,
                a.ticket,
            )
        })
        .await
    }

    #[tool(description = "List a directory inside the workspace (governed read).")]
    async fn list_dir(
        &self,
        Parameters(a): Parameters<ListArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.blocking(move |g| g.list_dir(a.path.as_deref().unwrap_or("."), a.rationale))
            .await
    }

    #[tool(
        description = "Send an HTTP request through Warden's egress proxy: only hosts the network policy allows are reached; write methods to other hosts need approval."
    )]
    async fn http_request(
        &self,
        Parameters(a): Parameters<HttpArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.blocking(move |g| g.http_request(a.request, a.rationale, a.ticket))
            .await
    }

    #[tool(
        description = "Status of an approval ticket returned by a pending call: pending, approved, denied, expired or consumed, with votes and any outcome."
    )]
    async fn approval_status(
        &self,
        Parameters(a): Parameters<StatusArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.blocking(move |g| g.approval_status(&a.ticket)).await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for WardenTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(rmcp::model::Implementation::new(
                "warden",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "Governed tools: every call is classified by the repository's governance policy, \
recorded in a tamper-evident audit log before it runs, approved when its tier asks for it, and \
confined to the workspace (commands run in Warden's sandbox). Use these tools instead of any \
built-in shell or file tools.",
            )
    }
}
