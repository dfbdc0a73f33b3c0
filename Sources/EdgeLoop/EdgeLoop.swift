// EdgeLoop: libuv for the agent. The loop, timers, signals, file watches, child reaping and TCP,
// each a final class that owns its uv handle and frees it in the close callback.
//
// Imports EdgeHost and CEdge. Runs on one thread; handles are created, used and closed there.
