/// A failed call on the host: the errno, what was being done, and on which path. The message
/// reads as s6's do: "unable to <operation> <path>: <strerror>".
public struct HostError: Error, Sendable, CustomStringConvertible {
  public var errno: Errno
  public var operation: String
  public var path: String

  public init(_ errno: Errno, _ operation: String, _ path: String = "") {
    self.errno = errno
    self.operation = operation
    self.path = path
  }

  public var description: String {
    path.isEmpty ? "unable to \(operation): \(errno)" : "unable to \(operation) \(path): \(errno)"
  }
}

/// For what must not happen: EBADF or EFAULT from a syscall is our bug, not the host's. Writes
/// the message to stderr and exits 111, because a trap prints nothing in an -Osize build.
public func die(_ message: String) -> Never {
  writeStderr("edgeagent: fatal: \(message)\n")
  exitProcess(111)
}
