//! `featgen routes` (being implemented: see issue 5).

use crate::Status;
use crate::config::Config;

/// Arguments of `featgen routes`.
#[derive(clap::Args, Debug)]
pub struct RoutesArgs {}

/// Runs `featgen routes`.
pub fn run(_config: &Config, _args: &RoutesArgs) -> Status {
    eprintln!("error: `featgen routes` is not implemented yet");
    Status::Error
}
