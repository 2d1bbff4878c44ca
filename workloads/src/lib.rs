//! Skeptic's workloads: what the clients of a test do, and how what they
//! saw is judged.
//!
//! A [`Workload`] brings three things, as in Jepsen:
//! - a seeded operation stream per client thread ([`Workload::next_op`],
//!   drawn through an [`OpStream`]): the same seed gives each thread the
//!   same functions and values; the keys they land on follow the progress
//!   of the thread's group ([`keys::KeyCursor`]), as in Jepsen;
//! - the mapping of each history operation onto a store's primitive
//!   key-value calls ([`Workload::execute`] over a [`store::KvClient`]),
//!   turning replies into honest completions: a definite refusal is `fail`,
//!   anything that may have taken effect is `info`;
//! - the checkers that judge the recorded history ([`Workload::check`]).
//!
//! This crate does no I/O of its own: the harness supplies the client.

pub mod keys;
pub mod kv;
pub mod register;
pub mod set;
pub mod store;
mod workload;

pub use workload::{
    make, CheckerResult, CheckerVerdict, Completion, Invocation, OpStream, Workload, WorkloadKind,
    WorkloadOptions,
};
