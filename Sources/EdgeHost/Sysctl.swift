import CEdge
import EdgeCore

/// Writes a value to a /proc/sys file (no O_CREAT: an unknown key must fail, not create a file).
public func writeSysctl(_ path: String, _ value: String) throws(HostError) {
  let f = try FileDescriptor.open(at: AT_FDCWD, path, O_WRONLY | O_TRUNC | O_NOFOLLOW)
  let line = Array((value + "\n").utf8)
  do { try withBytes(line) { (raw) throws(HostError) in try f.writeAll(raw) } } catch {
    throw HostError(error.errno, "write", path)
  }
}
