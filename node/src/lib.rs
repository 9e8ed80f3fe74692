//! The Allmenning node: the I/O shell around the sans-IO protocol.
//!
//! A municipality runs one of these on its own server. It owns the libp2p swarm (`net`), the
//! sled database (`store`), the home directory with key and configuration (`home`) and the local
//! control socket the CLI talks to (`control`). `node::run` ties them together in a single event
//! loop that feeds the protocol engine and carries out what it asks.

pub mod control;
pub mod home;
mod net;
mod node;
mod portal;
pub mod search;
pub mod store;

pub use node::{run, NodeError, NodeOptions};
