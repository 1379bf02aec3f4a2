//! MCP (Model Context Protocol): `warden mcp`'s tools for any MCP-capable agent. `tools` maps
//! each tool call to an action (and what an approval binds it to), hands it to the governed path
//! and turns the verdict into the tool's reply; `server` is the protocol surface (tool schemas,
//! stdio and streamable HTTP); `paths` confines file tools to the workspace.

pub mod paths;
pub mod server;
pub mod tools;
