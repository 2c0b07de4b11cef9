//! `fnshield suggest` and `fnshield check`: from staging alerts to a least-privilege policy.
//! See the README's "From staging to production".

use std::process::ExitCode;

fn main() -> ExitCode {
    let stdin = std::io::stdin();
    let code = fnshield_cli::cmd::run(
        std::env::args_os(),
        &mut stdin.lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    ExitCode::from(code)
}
