//! Skeptic's harness: runs a workload against a cluster while a nemesis
//! injects faults, records the history, checks it and reports.
//!
//! The pieces are public so you can drive your own store from Rust:
//! - [`db`]: cluster control (the bundled store, etcd, an external cluster);
//! - [`client`]: protocol clients with honest outcome mapping;
//! - the `workloads` crate: operation streams, their meaning and checkers.

pub mod bench;
pub mod campaign;
pub mod client;
pub mod config;
pub mod db;
pub mod error;
pub mod nemesis;
pub mod net;
pub mod progress;
pub mod recorder;
pub mod report;
pub mod run;
pub mod serve;
pub mod sim;
pub mod summary;
