//! The command line: parsing, reading the inputs, writing the answer and the exit status.
//! `main.rs` only calls [`run`], so that tests can run the command in-process.

use crate::{check, edit, observe::Observations, suggest};
use clap::{Parser, Subcommand};
use fnshield::Env;
use fnshield::{Policy, Replay, Shield};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// Read fnshield's event lines from logs (files or stdin) and turn them into configuration.
///
/// Inputs may be: the function's stdout lines, the text or JSON log format, `aws logs tail`,
/// `sam logs` or `cargo lambda watch` output, or a CloudWatch Logs Insights CSV or JSON
/// export. Lines that are not fnshield events are skipped and counted.
#[derive(Parser)]
#[command(name = "fnshield", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print a commented fnshield.toml that allows exactly what the logs show.
    Suggest {
        /// Print only what this existing configuration lacks, as a unified diff against it
        /// (apply it with `patch -p0` or `git apply`).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The function's tmp root (`read_write_tmp.root`), when it is not /tmp. With
        /// --config, the file's root is used.
        #[arg(
            long,
            value_name = "DIR",
            default_value = "/tmp",
            conflicts_with = "config"
        )]
        tmp_root: String,
        /// An environment variable of the function (LAMBDA_TASK_ROOT, SHIELD_*), as KEY=VALUE;
        /// repeatable. Only these are used; this shell's environment is not.
        #[arg(long = "env", value_name = "KEY=VALUE")]
        envs: Vec<String>,
        /// Log files; none or `-` reads stdin.
        files: Vec<PathBuf>,
    },
    /// Replay the logs against a configuration; exit 1 if anything would be blocked.
    Check {
        /// The configuration to check (TOML or JSON, as the function reads it).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// An environment variable of the function (LAMBDA_TASK_ROOT, SHIELD_*), as KEY=VALUE;
        /// repeatable. Only these are used; this shell's environment is not.
        #[arg(long = "env", value_name = "KEY=VALUE")]
        envs: Vec<String>,
        /// Log files; none or `-` reads stdin.
        files: Vec<PathBuf>,
    },
}

/// Exit status: success (for `check`: nothing would be blocked).
pub const OK: u8 = 0;
/// Exit status of `check` when something would be blocked.
pub const WOULD_BLOCK: u8 = 1;
/// Exit status for errors (bad arguments, unreadable input or configuration).
pub const ERROR: u8 = 2;

/// Run the command with `args` (the first is the program name), reading `-` (or no file) from
/// `stdin`, writing the answer to `stdout` and warnings and the summary to `stderr`. Returns
/// the exit status: [`OK`], [`WOULD_BLOCK`] or [`ERROR`].
pub fn run(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    stdin: &mut dyn BufRead,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            return if e.use_stderr() {
                let _ = write!(stderr, "{}", e.render());
                ERROR
            } else {
                let _ = write!(stdout, "{}", e.render());
                OK
            };
        }
    };
    let mut io = Io {
        stdin,
        stdout,
        stderr,
    };
    match execute(cli, &mut io) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(io.stderr, "fnshield: error: {e}");
            ERROR
        }
    }
}

struct Io<'a> {
    stdin: &'a mut dyn BufRead,
    stdout: &'a mut dyn Write,
    stderr: &'a mut dyn Write,
}

fn env_of(pairs: &[String]) -> Result<Env, String> {
    let mut out = Vec::new();
    for p in pairs {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| format!("--env `{p}` is not KEY=VALUE"))?;
        out.push((k.to_owned(), v.to_owned()));
    }
    Ok(Env::from_pairs(out))
}

/// Load a configuration as the function would, with `envs` as its environment.
fn load(config: &Path, envs: &[String]) -> Result<Policy, String> {
    // The builder reads a relative path against $LAMBDA_TASK_ROOT; the user means ours.
    let path = std::path::absolute(config).map_err(|e| format!("{}: {e}", config.display()))?;
    if !path.is_file() {
        return Err(format!("{}: no such configuration file", config.display()));
    }
    Shield::builder()
        .config_file(path)
        .env(env_of(envs)?)
        .resolv_conf("")
        .build_policy()
        .map_err(|e| e.to_string())
}

fn read_all(files: &[PathBuf], input: &mut dyn BufRead) -> Result<(Observations, String), String> {
    let mut obs = Observations::default();
    let stdin = [PathBuf::from("-")];
    let files = if files.is_empty() { &stdin[..] } else { files };
    for f in files {
        let r = if f.as_os_str() == "-" {
            obs.read(&mut *input)
        } else {
            let file = std::fs::File::open(f).map_err(|e| format!("{}: {e}", f.display()))?;
            obs.read(BufReader::with_capacity(1 << 18, file))
        };
        r.map_err(|e| format!("{}: {e}", f.display()))?;
    }
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            if f.as_os_str() == "-" {
                "stdin".to_owned()
            } else {
                f.display().to_string()
            }
        })
        .collect();
    Ok((obs, names.join(", ")))
}

fn out(o: &mut dyn Write, text: &str) -> Result<(), String> {
    o.write_all(text.as_bytes())
        .and_then(|()| o.flush())
        .map_err(|e| format!("writing the output: {e}"))
}

fn execute(cli: Cli, io: &mut Io<'_>) -> Result<u8, String> {
    match cli.command {
        Command::Suggest {
            config: None,
            tmp_root,
            envs,
            files,
        } => {
            env_of(&envs)?;
            let root = normal_root(&tmp_root)?;
            let (obs, sources) = read_all(&files, io.stdin)?;
            let s = suggest::suggest(&obs, &root, None);
            out(io.stdout, &suggest::render(&s, &obs, &root, &sources))?;
            for w in &s.warnings {
                let _ = writeln!(io.stderr, "fnshield: warning: {w}");
            }
            let _ = writeln!(io.stderr, "fnshield: {}", obs.summary());
            Ok(OK)
        }
        Command::Suggest {
            config: Some(config),
            envs,
            files,
            ..
        } => {
            if config.extension().is_some_and(|e| e == "json") {
                return Err(format!(
                    "{}: --config with suggest edits TOML files; run suggest without --config \
                     and merge the result into the JSON file by hand",
                    config.display()
                ));
            }
            let policy = load(&config, &envs)?;
            let root = policy.tmp_root().display().to_string();
            let (obs, _) = read_all(&files, io.stdin)?;
            let s = suggest::suggest(&obs, &root, Some(&Replay::new(&policy)));
            let old = std::fs::read_to_string(&config)
                .map_err(|e| format!("{}: {e}", config.display()))?;
            let new =
                edit::apply(&old, &s).map_err(|e| format!("{}: {}", config.display(), e.0))?;
            out(
                io.stdout,
                &edit::diff(&config.display().to_string(), &old, &new),
            )?;
            for w in &s.warnings {
                let _ = writeln!(io.stderr, "fnshield: warning: {w}");
            }
            let _ = writeln!(io.stderr, "fnshield: {}", obs.summary());
            Ok(OK)
        }
        Command::Check {
            config,
            envs,
            files,
        } => {
            let policy = load(&config, &envs)?;
            let (obs, _) = read_all(&files, io.stdin)?;
            let outcome = check::replay(&obs, &Replay::new(&policy));
            out(
                io.stdout,
                &check::render(&outcome, &obs, &config.display().to_string()),
            )?;
            Ok(if outcome.blocked.is_empty() {
                OK
            } else {
                WOULD_BLOCK
            })
        }
    }
}

fn normal_root(root: &str) -> Result<String, String> {
    if !root.starts_with('/') {
        return Err(format!("--tmp-root `{root}` is not an absolute path"));
    }
    let parts: Vec<&str> = root
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.is_empty() || parts.contains(&"..") {
        return Err(format!(
            "--tmp-root `{root}`: expected a directory other than `/`, without `..`"
        ));
    }
    Ok(format!("/{}", parts.join("/")))
}
