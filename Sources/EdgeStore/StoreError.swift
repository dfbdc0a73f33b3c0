import CEdge
import EdgeCore

/// What went wrong in the store. LMDB's own codes (-30799 and up) and errno values are kept
/// apart from record format errors; `description` names the operation.
public enum StoreError: Error, Sendable, CustomStringConvertible {
  /// An LMDB call failed: its return code (an MDB_ code or an errno) and what was being done.
  case lmdb(code: Int32, operation: String)
  /// A stored record could not be decoded.
  case record(RecordError, key: String)
  /// The state directory holds no environment (read-only open of a state never written).
  case noState(path: String)
  /// Another process (a daemon, or an `apply` while it runs) holds the state directory's lock;
  /// `pid` is what it wrote in the lock file, 0 when it has not written it yet.
  case held(path: String, pid: Int32)

  public var isMapFull: Bool {
    if case .lmdb(let code, _) = self { return code == MDB_MAP_FULL }
    return false
  }

  public var description: String {
    switch self {
    case .lmdb(let code, let op):
      return "unable to \(op): \(String(cString: mdb_strerror(code)))"
    case .record(let e, let key):
      return "unable to read record \"\(key)\": \(e)"
    case .noState(let path):
      return "no state in \(path) (run `edgeagent apply` first, or pass --state)"
    case .held(let path, let pid):
      return "state dir \(path) is held by \(pid > 0 ? "pid \(pid)" : "another process")"
        + " (one daemon or apply per state directory)"
    }
  }
}

@inline(__always)
func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws(StoreError) {
  if rc != 0 { throw .lmdb(code: rc, operation: operation()) }
}
