//! One module per subcommand.

pub mod build;
pub mod cost;
pub mod demo;
pub mod html_report;
pub mod init;
pub mod lint;
pub mod report;
pub mod routes;
pub mod shares;
pub mod validate;
