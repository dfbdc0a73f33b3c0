// EdgeHost: the host's side of convergence. Typed syscall wrappers (Errno, HostError), file
// status and the stat fingerprint, atomic file replacement, directories, links, users and groups
// read from the managed root's /etc, SHA-256 (libsodium), clocks, and spawning through the C shim.
//
// Imports EdgeCore, CEdge and CEdgeSupport; never EdgeStore, EdgeLoop or above. Every call is
// synchronous and runs on the caller's thread (the agent's loop). Paths passed in are host paths:
// the caller has already joined the managed root.
