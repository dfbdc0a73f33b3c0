import CEdge
import EdgeCore

/// Reads a whole file (a policy, a config) into memory, refusing files larger than `limit`
/// bytes so a hostile or mistaken input cannot exhaust memory.
public func readWholeFile(_ path: String, limit: Int = 64 << 20) throws(HostError) -> [UInt8] {
  let f = try FileDescriptor.open(at: AT_FDCWD, path, O_RDONLY)
  let st: FileStat
  do throws(HostError) { st = try f.stat() } catch { throw HostError(error.errno, "stat", path) }
  if st.kind == .directory { throw HostError(.isDirectory, "read", path) }
  if st.identity.size > Int64(limit) { throw HostError(Errno(rawValue: EFBIG), "read (larger than \(limit >> 20) MiB)", path) }
  var out = [UInt8](repeating: 0, count: Int(st.identity.size))
  var filled = 0
  while true {
    if filled == out.count { out.append(contentsOf: [UInt8](repeating: 0, count: 4096)) }
    if out.count > limit { throw HostError(Errno(rawValue: EFBIG), "read (larger than \(limit >> 20) MiB)", path) }
    let n: Int
    do throws(HostError) {
      n = try withMutableBytes(&out) { (raw) throws(HostError) -> Int in
        try f.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[filled...]))
      }
    } catch { throw HostError(error.errno, "read", path) }
    if n == 0 { break }
    filled += n
  }
  out.removeSubrange(filled...)
  return out
}
