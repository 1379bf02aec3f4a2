//! Finding and reading the governance files for a workspace, and the classification context.

use crate::exit::CliError;
use std::path::{Path, PathBuf};
use warden_policy::{Context, Layer, Policy, PolicySource};

/// Environment variable naming the organisation's governance file.
pub const ORG_POLICY_ENV: &str = "WARDEN_ORG_POLICY";
/// Default location of the organisation's governance file.
pub const ORG_POLICY_DEFAULT: &str = "/etc/warden/policy.toml";

/// The repository layer's path inside a workspace.
pub fn repo_policy_path(workspace: &Path) -> PathBuf {
    workspace.join(".warden").join("policy.toml")
}

fn read_source(path: &Path, layer: Layer) -> Result<PolicySource, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::bad_input(miette::miette!(
            "cannot read governance file {}: {e}",
            path.display()
        ))
    })?;
    Ok(PolicySource {
        name: path.display().to_string(),
        text,
        layer,
    })
}

/// The layers for `workspace`: the organisation file (if any), then `explicit` or the
/// repository's `.warden/policy.toml` (if any). The built-in default is added by `Policy::load`.
pub fn sources(explicit: Option<&Path>, workspace: &Path) -> Result<Vec<PolicySource>, CliError> {
    let mut out = Vec::new();
    let org = std::env::var_os(ORG_POLICY_ENV)
        .map(PathBuf::from)
        .filter(|p| !p.as_os_str().is_empty())
        .or_else(|| Some(PathBuf::from(ORG_POLICY_DEFAULT)).filter(|p| p.is_file()));
    if let Some(org) = org {
        out.push(read_source(&org, Layer::Organisation)?);
    }
    match explicit {
        Some(p) => out.push(read_source(p, Layer::Repository)?),
        None => {
            let repo = repo_policy_path(workspace);
            if repo.is_file() {
                out.push(read_source(&repo, Layer::Repository)?);
            }
        }
    }
    Ok(out)
}

/// Load the layered policy for `workspace`.
pub fn load(explicit: Option<&Path>, workspace: &Path) -> Result<Policy, CliError> {
    let sources = sources(explicit, workspace)?;
    Policy::load(&sources).map_err(|e| CliError::bad_input(miette::Report::new(e)))
}

/// Absolute form of `p` relative to the current directory.
pub fn absolute(p: &Path) -> Result<PathBuf, CliError> {
    std::path::absolute(p)
        .map_err(|e| CliError::bad_input(miette::miette!("bad path {}: {e}", p.display())))
}

/// The workspace for `cwd`: the nearest enclosing directory with a `.git` or `.warden`, else `cwd`.
pub fn find_workspace(cwd: &Path) -> PathBuf {
    let mut dir = Some(cwd);
    while let Some(d) = dir {
        if d.join(".git").exists() || d.join(".warden").is_dir() {
            return d.to_path_buf();
        }
        dir = d.parent();
    }
    cwd.to_path_buf()
}

/// The user's home directory (the governed path's own reading of it).
pub use warden_govern::record::home;

/// Build the classification context from optional `--workspace` and `--cwd` flags.
pub fn context(
    workspace: Option<&Path>,
    cwd: Option<&Path>,
    sandboxed: bool,
) -> Result<Context, CliError> {
    let here = std::env::current_dir().map_err(|e| {
        CliError::failure(miette::miette!("cannot read the current directory: {e}"))
    })?;
    let cwd = match cwd {
        Some(c) => absolute(c)?,
        None => here,
    };
    let workspace = match workspace {
        Some(w) => absolute(w)?,
        None => find_workspace(&cwd),
    };
    Ok(Context {
        workspace: warden_policy::normalise_path(&workspace),
        cwd: warden_policy::normalise_path(&cwd),
        home: home(),
        sandboxed,
    })
}
