//! The bundled Paxos-replicated key-value store: a replicated state
//! machine ([`kv`]) ordered by a sans-IO consensus core ([`paxos`]), with
//! durable storage ([`storage`]).

pub mod clock;
pub mod http;
pub mod kv;
pub mod loopback;
pub mod node;
pub mod paxos;
pub mod server;
pub mod shell;
pub mod storage;
pub mod transport;
