//! Where the project and its Python environment are.

use std::path::{Path, PathBuf};

/// The dora CLI version the nodes are built against (node and daemon wire formats must match).
pub const DORA_VERSION: &str = "1.1.0";
/// The torch version tch 0.26 builds against.
pub const TORCH_VERSION: &str = "2.13.0";

/// The project root: `WDP_HOME`, else the first folder upwards from `start` (then from the
/// working directory) that holds the project's `scripts/setup.sh`.
pub fn root(start: Option<&Path>) -> Option<PathBuf> {
    if let Ok(home) = std::env::var("WDP_HOME") {
        return Some(PathBuf::from(home));
    }
    let cwd = std::env::current_dir().ok();
    let starts = start
        .and_then(|p| p.canonicalize().ok())
        .into_iter()
        .chain(cwd);
    for s in starts {
        if let Some(found) = s
            .ancestors()
            .find(|dir| dir.join("scripts/setup.sh").is_file() && dir.join("Cargo.toml").is_file())
        {
            return Some(found.to_path_buf());
        }
    }
    None
}

/// The project's Python virtual environment.
pub fn venv(root: &Path) -> PathBuf {
    std::env::var("WDP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join(".venv"))
}

/// torch's library folder inside the venv (libtorch for tch-based nodes), if torch is there.
pub fn torch_lib(venv: &Path) -> Option<PathBuf> {
    let lib = venv.join("lib");
    std::fs::read_dir(&lib)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("python"))
        })
        .map(|p| p.join("site-packages/torch/lib"))
        .find(|p| p.is_dir())
}

/// PATH and LD_LIBRARY_PATH with the venv's binaries and torch's libraries first.
pub fn node_environment(venv: &Path) -> Vec<(String, String)> {
    let join = |first: PathBuf, var: &str| {
        let mut parts = vec![first];
        if let Some(old) = std::env::var_os(var) {
            parts.extend(std::env::split_paths(&old));
        }
        std::env::join_paths(parts)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut env = vec![
        ("PATH".to_owned(), join(venv.join("bin"), "PATH")),
        (
            "VIRTUAL_ENV".to_owned(),
            venv.to_string_lossy().into_owned(),
        ),
    ];
    if let Some(torch) = torch_lib(venv) {
        env.push(("LD_LIBRARY_PATH".to_owned(), join(torch, "LD_LIBRARY_PATH")));
    }
    env
}
