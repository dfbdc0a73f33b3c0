import CEdge
import EdgeHost

/// A libuv call failed. libuv's negative status becomes an `Errno` here, once.
public struct LoopError: Error, Sendable, CustomStringConvertible {
  public var errno: Errno
  public var operation: String

  public init(status: Int32, _ operation: String) {
    self.errno = Errno(rawValue: -status)
    self.operation = operation
  }

  public var description: String { "unable to \(operation): \(errno)" }
}

@inline(__always)
func check(_ status: Int32, _ operation: @autoclosure () -> String) throws(LoopError) {
  if status < 0 { throw LoopError(status: status, operation()) }
}
