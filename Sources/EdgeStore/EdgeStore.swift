// EdgeStore: the agent's state in one LMDB environment (DESIGN.md §4): desired and actual state,
// the stat cache, blobs, services, the event ring, reports and the teams' bundles, in named databases. It is the state's one
// owner: the directory's layout (StateLayout), the single-writer lock (StateLock), and every
// `meta` record with its encoding (MetaKey, read and written only through Meta.swift's typed
// accessors, which throw a `StoreError` naming the key for a value that does not decode).
//
// Imports EdgeCore (record formats) and CEdge (lmdb.h); never EdgeHost or anything above it.
// One writer, the agent's loop thread; any number of read-only readers in other processes
// (`edgeagent status`), which LMDB serves without locks. An environment is never used across
// fork(): services are spawned by a C shim that execs at once.
