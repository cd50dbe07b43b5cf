//! One module per subcommand.

pub mod build;
pub mod demo;
pub mod init;
pub mod lint;
pub mod report;
pub mod routes;
pub mod validate;
