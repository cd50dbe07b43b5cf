//! One module per subcommand (and `share_source`, the options `shares` and `cost` share).

pub mod build;
pub mod cost;
pub mod demo;
pub mod html_report;
pub mod init;
pub mod lint;
pub mod report;
pub mod routes;
pub mod share_source;
pub mod shares;
pub mod validate;
