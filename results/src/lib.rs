//! The results store: where a test run's files go and what a person reads
//! afterwards.
//!
//! - [`store`]: one directory per run (`<root>/<test>/<timestamp>/`) with
//!   `latest` symlinks, and atomic writes of the files in it.
//! - [`timestamp`]: the UTC timestamp that names a run directory, computed
//!   with the standard library only.
//! - [`plots`]: latency and throughput over time as SVG documents, with the
//!   faults shaded behind.
//! - [`report`]: the self-contained HTML page for a run: verdict, summary,
//!   checkers, plots and a timeline of operations and faults.
//! - [`counterexample`]: the self-contained HTML page for a checker's
//!   counterexample: a zoomable timeline per failing part, a stepper
//!   through the longest linearization, and tables.
//! - [`html`]: escaping text for HTML, SVG and XML, which all of these use.
//! - [`junit`]: a JUnit XML document so CI dashboards can show verdicts.
//!
//! Nothing here runs a test or checks a history: the harness hands in what
//! happened and this crate records and draws it.

#![warn(missing_docs)]

pub mod counterexample;
pub mod html;
pub mod junit;
mod numbers;
pub mod plots;
pub mod report;
pub mod store;
pub mod timestamp;

pub use junit::{junit_xml, JunitCase};
pub use plots::{latency_svg, throughput_svg, FaultSpan, OpSample, PlotError, SampleOutcome};
pub use report::{render, CheckerSection, ReportInput};
pub use store::{RunDir, StoreError};
