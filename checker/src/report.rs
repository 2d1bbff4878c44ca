//! Counterexample reports: how a [`Witness`](crate::verdict::Witness) is
//! explained to people.
//!
//! - [`text`] explains one witness in plain words for a terminal: which part
//!   failed, the end of the longest linearizable prefix, the state it leaves
//!   the model in, and why none of the remaining operations can come next.
//!   Its helpers (the part's name, the operations by id, an operation in
//!   words) are public for other renderings of the same witness.
//!
//! It takes the witness as the checker produced it and never fails. The
//! HTML counterexample page is not here (this crate stays a pure library):
//! it lives in the `results` crate, as `results::counterexample`.

pub mod text;
