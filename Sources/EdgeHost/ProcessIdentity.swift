import CEdge
import CEdgeSupport

/// Who this process is and what it was built against.

public func processID() -> Int32 { getpid() }

public func effectiveUID() -> UInt32 { UInt32(geteuid()) }
public func effectiveGID() -> UInt32 { UInt32(getegid()) }

/// "glibc" or "musl": the C library this binary was built against.
public func libcName() -> String { edge_libc_is_glibc() != 0 ? "glibc" : "musl" }

/// Ends the process with `code`. C: `exit`
public func exitProcess(_ code: Int32) -> Never { exit(code) }

/// A write to a socket or pipe whose reader is gone fails with EPIPE instead of killing the
/// process with SIGPIPE. Without it, a client that sent a request to the relay, the collector or
/// /metrics and reset the connection before the answer killed the agent (exit 141). Children
/// get the default back: spawn resets every signal in the child before its exec.
public func ignoreBrokenPipes() { edge_ignore_sigpipe() }
