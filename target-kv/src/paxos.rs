//! The consensus core: Multi-Paxos (a stable leader) or per-slot Basic
//! Paxos, as a sans-IO state machine.
//!
//! [`Replica::step`] takes one [`Input`] (a message, a timer firing, a
//! client request) with the current time, and appends [`Output`]s: records
//! to persist, messages to send, replies, timers to set. It never reads a
//! clock, touches a socket or a file: the tokio server and the stateright
//! model drive the very same code.
//!
//! **Outputs must be carried out in order, and every [`Output::Persist`]
//! must be durable before any later [`Output::Send`] or [`Output::Reply`]
//! leaves the node**: an acceptor's promise or accepted reply is only as
//! good as the record behind it.

mod acceptor;
mod planted;
mod replica;
pub mod sim;
mod types;

pub use acceptor::Acceptor;
pub use planted::PlantedBug;
pub use replica::{Replica, Role, ID_COUNTER_BITS};
pub use types::{
    Ballot, Batch, Config, ErrorCode, Input, Mode, Msg, NodeId, NodeSet, Output, ReadMode, Record,
    Reply, RequestId, Slot, Snapshot, Timer, NODE_ID_MAX,
};
