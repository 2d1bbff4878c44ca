//! The bundled Paxos-replicated key-value store: a replicated state
//! machine ([`kv`]) ordered by a sans-IO consensus core ([`paxos`]), with
//! durable storage ([`storage`]).

pub mod kv;
pub mod paxos;
pub mod storage;
