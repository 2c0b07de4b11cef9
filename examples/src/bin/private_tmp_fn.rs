//! `shielded_fn` in its own mount namespace with a private, empty `/tmp` (a tmpfs), for the
//! end-to-end wipe test (`tests/wipe_private_tmp.rs`). Needs root (CI runs as root).
//!
//! Before the shield starts it creates what a developer's `/tmp` holds: `/tmp/important.txt`,
//! `/tmp/other-project/src/main.rs` and a listening socket `/tmp/tmux-0/default`. Then it runs
//! [`examples::function_main`] with the default tmp root, `/tmp` — this process's private one,
//! never the machine's: if any step of the isolation fails, it exits before the shield exists.
use std::os::unix::net::UnixListener;

fn isolate() -> Result<UnixListener, String> {
    use nix::mount::{mount, MsFlags};
    use nix::sched::{unshare, CloneFlags};
    unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("unshare(CLONE_NEWNS): {e}"))?;
    // Nothing mounted here propagates back to the machine.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("make / private: {e}"))?;
    mount(
        Some("tmpfs"),
        "/tmp",
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("size=16m,mode=1777"),
    )
    .map_err(|e| format!("mount tmpfs on /tmp: {e}"))?;
    // Belt and braces: /tmp must now be the empty tmpfs, or nothing runs.
    let empty = std::fs::read_dir("/tmp")
        .map_err(|e| e.to_string())?
        .next()
        .is_none();
    if !empty {
        return Err("/tmp is not the fresh private tmpfs".into());
    }
    std::fs::write("/tmp/important.txt", b"keep me").map_err(|e| e.to_string())?;
    std::fs::create_dir_all("/tmp/other-project/src").map_err(|e| e.to_string())?;
    std::fs::write("/tmp/other-project/src/main.rs", b"fn main() {}").map_err(|e| e.to_string())?;
    std::fs::create_dir_all("/tmp/tmux-0").map_err(|e| e.to_string())?;
    UnixListener::bind("/tmp/tmux-0/default").map_err(|e| e.to_string())
}

fn main() -> Result<(), lambda_runtime::Error> {
    let socket = match isolate() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("private_tmp_fn: cannot isolate /tmp, not starting: {e}");
            std::process::exit(3);
        }
    };
    let result = examples::function_main();
    drop(socket);
    result
}
