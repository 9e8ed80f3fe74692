//! The `allmenning` command-line tool, as a library so that its pieces can be tested (and
//! reused by the end-to-end tests): the commands, the checkout logic and the node client.

pub mod client;
pub mod commands;
pub mod conflicts;
pub mod error;
pub mod output;
pub mod parse;
pub mod walk;
pub mod workdir;
