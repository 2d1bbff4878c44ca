//! `skeptic campaign`: a matrix of tests and simulator ranges from a TOML
//! file ([`spec`]), run as separate `skeptic` processes ([`runner`]), with
//! a summary, JSON and JUnit ([`report`]). One machine runs the whole file
//! or a shard of it (`--shard K/N`); `skeptic campaign merge` combines the
//! shards' results, so CI's own matrix spreads a campaign over machines.

pub mod report;
pub mod runner;
pub mod spec;
