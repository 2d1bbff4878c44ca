//! The bundled Paxos-replicated key-value store (filled by the target-kv issue).
