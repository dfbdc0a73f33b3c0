import CEdge
import EdgeCore

/// Writes a value to a /proc/sys file (no O_CREAT: an unknown key must fail, not create a file).
/// O_NONBLOCK and a type check: whatever sits at the path, a FIFO or a device must not block the
/// loop in open() or write(), nor take the value.
public func writeSysctl(_ path: String, _ value: String) throws(HostError) {
  let f = try FileDescriptor.open(at: AT_FDCWD, path, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)
  let st: FileStat
  do throws(HostError) { st = try f.stat() } catch { throw HostError(error.errno, "stat", path) }
  if st.kind != .regular { throw HostError(.invalid, "write (\(fileTypeName(f.raw)), not a regular file)", path) }
  let line = Array((value + "\n").utf8)
  do { try withBytes(line) { (raw) throws(HostError) in try f.writeAll(raw) } } catch {
    throw HostError(error.errno, "write", path)
  }
}
