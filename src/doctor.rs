//! `wdp doctor`: checks the set-up and says what to do about each problem.

use crate::project;
use eyre::Result;
use std::path::Path;
use std::process::{Command, ExitCode};

struct Check {
    name: &'static str,
    outcome: Result<String, String>,
}

pub fn doctor() -> Result<ExitCode> {
    let mut checks = Vec::new();
    let root = project::root(None);
    checks.push(Check {
        name: "project",
        outcome: root
            .as_ref()
            .map(|r| r.display().to_string())
            .ok_or_else(|| "not inside the project: cd into it or set WDP_HOME".to_owned()),
    });
    if let Some(root) = &root {
        let venv = project::venv(root);
        checks.push(check_venv(&venv));
        checks.push(check_dora(&venv));
        checks.push(check_python_module(&venv, "dora", "dora-rs"));
        checks.push(check_torch(&venv));
        checks.push(check_nodes(root));
    }
    checks.push(check_shm());
    let mut failed = 0;
    for c in &checks {
        match &c.outcome {
            Ok(detail) => println!("ok    {:<10} {detail}", c.name),
            Err(problem) => {
                failed += 1;
                println!("FAIL  {:<10} {problem}", c.name);
            }
        }
    }
    if failed == 0 {
        println!("all {} checks passed", checks.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{failed} of {} checks failed", checks.len());
        Ok(ExitCode::FAILURE)
    }
}

fn check_venv(venv: &Path) -> Check {
    let python = venv.join("bin/python");
    Check {
        name: "venv",
        outcome: if python.is_file() {
            Ok(venv.display().to_string())
        } else {
            Err(format!(
                "{} missing: run scripts/setup.sh",
                python.display()
            ))
        },
    }
}

fn output(program: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {} failed: {}",
            program.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn check_dora(venv: &Path) -> Check {
    let outcome = output(&venv.join("bin/dora"), &["--version"]).and_then(|v| {
        let version = v.split_whitespace().last().unwrap_or_default().to_owned();
        if version == project::DORA_VERSION {
            Ok(format!("dora-rs-cli {version}"))
        } else {
            Err(format!(
                "dora CLI is {version}, the nodes use {}: pip install dora-rs-cli=={} in the venv",
                project::DORA_VERSION,
                project::DORA_VERSION
            ))
        }
    });
    Check {
        name: "dora",
        outcome,
    }
}

fn check_python_module(venv: &Path, module: &str, package: &'static str) -> Check {
    let code = format!("import {module}");
    Check {
        name: package,
        outcome: output(&venv.join("bin/python"), &["-c", &code])
            .map(|_| format!("python module `{module}` imports"))
            .map_err(|e| format!("{e}: pip install {package} in the venv")),
    }
}

fn check_torch(venv: &Path) -> Check {
    let outcome = output(
        &venv.join("bin/python"),
        &["-c", "import torch; print(torch.__version__)"],
    )
    .and_then(|v| {
        let base = v.split('+').next().unwrap_or_default();
        if base == project::TORCH_VERSION {
            Ok(format!(
                "torch {v}, libtorch at {}",
                project::torch_lib(venv)
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ))
        } else {
            Err(format!(
                "torch is {v}, tch 0.26 needs {}: pip install torch=={}",
                project::TORCH_VERSION,
                project::TORCH_VERSION
            ))
        }
    });
    Check {
        name: "torch",
        outcome,
    }
}

fn check_nodes(root: &Path) -> Check {
    let release = root.join("target/release");
    let missing: Vec<&str> = ["csi-source", "csi-recorder"]
        .into_iter()
        .filter(|n| !release.join(n).is_file())
        .collect();
    Check {
        name: "nodes",
        outcome: if missing.is_empty() {
            Ok(format!("built in {}", release.display()))
        } else {
            Err(format!(
                "not built: {} (run scripts/setup.sh or cargo build --release)",
                missing.join(", ")
            ))
        },
    }
}

fn check_shm() -> Check {
    let shm = Path::new("/dev/shm");
    let probe = shm.join(format!("wdp-doctor-{}", std::process::id()));
    let outcome = std::fs::write(&probe, [0u8; 4096])
        .map(|()| {
            let _ = std::fs::remove_file(&probe);
            "/dev/shm is writable".to_owned()
        })
        .map_err(|e| {
            format!("/dev/shm is not writable ({e}): dora's zero-copy messages need shared memory")
        });
    Check {
        name: "shm",
        outcome,
    }
}
