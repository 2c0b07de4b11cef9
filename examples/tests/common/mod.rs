//! Shared by the end-to-end test files: a task root with a policy file, and a function binary
//! started under a fresh Runtime API emulator.
// Each test binary uses a different subset.
#![allow(dead_code)]

use fnshield_tests::emulator::{Emulator, FunctionProcess};
use std::path::{Path, PathBuf};

/// A task root and the tmp root its policy names.
pub struct Setup {
    /// `$LAMBDA_TASK_ROOT`, holding `bootstrap`, `fnshield.toml` and `schemas/`.
    pub task: PathBuf,
    /// The tmp root of this setup.
    pub tmp: PathBuf,
}

/// A task root under the temp directory (`fnshield-<name>-<pid>`) whose `fnshield.toml` gives
/// it its own tmp root with the tmp policy off, the event sinks `sinks` (a TOML list), plus
/// `extra_toml`.
pub fn setup(name: &str, sinks: &str, extra_toml: &str) -> Setup {
    let base = std::env::temp_dir().join(format!("fnshield-{name}-{}", std::process::id()));
    let task = base.join("task");
    let tmp = base.join("tmp");
    std::fs::create_dir_all(task.join("schemas")).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(task.join("bootstrap"), b"code").unwrap();
    std::fs::write(
        task.join("fnshield.toml"),
        format!(
            "[read_write_tmp]\nroot = \"{}\"\nmode = \"allow\"\n[events]\nsinks = {sinks}\n{extra_toml}",
            tmp.display()
        ),
    )
    .unwrap();
    Setup { task, tmp }
}

/// Start the function binary `bin` with `LAMBDA_TASK_ROOT` = the setup's task root, plus
/// `envs`, under a fresh emulator.
pub async fn start(
    s: &Setup,
    bin: &str,
    function_name: &str,
    envs: &[(&str, &str)],
) -> (Emulator, FunctionProcess) {
    let emu = Emulator::builder()
        .function_name(function_name)
        .start()
        .await;
    let mut all = vec![("LAMBDA_TASK_ROOT", s.task.to_str().unwrap())];
    all.extend_from_slice(envs);
    let p = emu.spawn_function(Path::new(bin), &all).await;
    (emu, p)
}
