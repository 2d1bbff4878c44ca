//! Skeptic's checker: histories, sequential models, and a linearizability
//! search that explains every violation.
//!
//! The pipeline is: read a file ([`format`](mod@format)) into a validated [`History`],
//! split it into independent parts by key, check each part against a
//! sequential [`model`] with the [`search`], and turn the outcome into a
//! [`Verdict`] whose witnesses [`report`] explains in words (the HTML page
//! of a counterexample is drawn by the `results` crate).
//!
//! This crate is pure: no async runtime, no network, no HTML.

pub mod check;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod format;
pub mod generate;
pub mod history;
pub mod model;
pub mod report;
pub mod search;
pub mod spec;
pub mod value;
pub mod verdict;

pub use check::{check_history, CheckOptions, CheckReport};
pub use history::{History, HistoryError, Operation, Outcome, Process, Record, RecordType};
pub use model::ModelKind;
pub use value::Value;
pub use verdict::{Blocked, OpView, Step, Verdict, Witness};
