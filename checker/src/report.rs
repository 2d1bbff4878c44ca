//! Counterexample reports: how a [`Witness`](crate::verdict::Witness) is
//! shown to people.
//!
//! - [`text`] explains one witness in plain words for a terminal: which part
//!   failed, the end of the longest linearizable prefix, the state it leaves
//!   the model in, and why none of the remaining operations can come next.
//! - [`html`] renders a self-contained page (inline CSS, a little vanilla JS
//!   and inline SVG; nothing is fetched) with a timeline per witness, a
//!   stepper through the longest linearization, and tables of the blocked
//!   operations and of the linearization itself.
//!
//! Both take the witness as the checker produced it and never fail; data
//! from the history (values, keys, states) is escaped wherever it is shown.

pub mod html;
pub mod text;
