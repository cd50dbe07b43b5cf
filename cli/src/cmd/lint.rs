//! `featgen lint` (being implemented: see issue 5).

use crate::Status;
use crate::config::Config;

/// Arguments of `featgen lint`.
#[derive(clap::Args, Debug)]
pub struct LintArgs {}

/// Runs `featgen lint`.
pub fn run(_config: &Config, _args: &LintArgs) -> Status {
    eprintln!("error: `featgen lint` is not implemented yet");
    Status::Error
}
