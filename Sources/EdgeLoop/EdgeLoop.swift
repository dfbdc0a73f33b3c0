// EdgeLoop: libuv for the agent. The loop, timers, signals, file watches, child reaping, TCP and
// UDP, each a final class that owns its uv handle and frees it in the close callback; on top of
// them the HTTP client and the host name lookup (hosts file, then DNS), both asynchronous.
//
// Imports EdgeCore, EdgeHost and CEdge. Runs on one thread; handles are created, used and closed there.
