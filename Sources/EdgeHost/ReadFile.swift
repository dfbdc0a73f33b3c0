import CEdge
import EdgeCore

/// Reads a whole file (a policy, a config) into memory, refusing files larger than `limit`
/// bytes so a hostile or mistaken input cannot exhaust memory.
///
/// Only a regular file is read: the daemon reads on its loop (PID 1's reaping and supervision
/// stop while it waits), and a FIFO, a device or a socket at a path it is given would block it
/// in open() or read() for as long as the other end likes. The open is O_NONBLOCK (a FIFO
/// without a writer opens at once) and O_NOCTTY (a terminal must never become PID 1's
/// controlling one), and the type is checked on the open fd, before any read.
/// `anyKind` is for the one-shot CLI (`apply <(generate)`), which blocks nobody but its caller.
public func readWholeFile(_ path: String, limit: Int = 64 << 20, anyKind: Bool = false) throws(HostError) -> [UInt8] {
  var st: FileStat? = nil
  return try readWholeFile(path, limit: limit, anyKind: anyKind, stat: &st)
}

/// `readWholeFile`, and in `stat` the file as it was when opened, before the read: the bytes are
/// that file's, or newer than it says if it was written meanwhile, never older. (An identity
/// taken after the run instead could be a newer file's, and vouch for it with the old bytes.)
public func readWholeFile(_ path: String, limit: Int = 64 << 20, anyKind: Bool = false,
                          stat: inout FileStat?) throws(HostError) -> [UInt8] {
  let f = try FileDescriptor.open(at: AT_FDCWD, path, anyKind ? O_RDONLY : O_RDONLY | O_NONBLOCK | O_NOCTTY)
  return try readWhole(f, path: path, limit: limit, anyKind: anyKind, stat: &stat)
}

/// Reads an open file from its offset to the end, at most `limit` bytes; `path` names it in errors.
public func readWhole(_ f: borrowing FileDescriptor, path: String, limit: Int, anyKind: Bool = false) throws(HostError) -> [UInt8] {
  var st: FileStat? = nil
  return try readWhole(f, path: path, limit: limit, anyKind: anyKind, stat: &st)
}

func readWhole(_ f: borrowing FileDescriptor, path: String, limit: Int, anyKind: Bool,
               stat: inout FileStat?) throws(HostError) -> [UInt8] {
  let st: FileStat
  do throws(HostError) { st = try f.stat() } catch { throw HostError(error.errno, "stat", path) }
  stat = st
  if st.kind == .directory { throw HostError(.isDirectory, "read", path) }
  if st.kind != .regular && !anyKind { throw HostError(.invalid, "read (\(fileTypeName(f.raw)), not a regular file)", path) }
  if st.identity.size > Int64(limit) { throw HostError(.tooLarge, "read (larger than \(limit >> 20) MiB)", path) }
  // One byte past the size, for the read that finds the end: growing the array for it doubled
  // it (a 15 MB policy was read into 31 MB). A /proc file says size 0: 4 KiB then.
  let size = Int(st.identity.size)
  var out = [UInt8](repeating: 0, count: size == 0 ? 4096 : size + 1)
  var filled = 0
  while true {
    // Room for one more read past the size: the file may have grown.
    if filled == out.count { out.append(contentsOf: [UInt8](repeating: 0, count: 4096)) }
    let n: Int
    do throws(HostError) {
      n = try withMutableBytes(&out) { (raw) throws(HostError) -> Int in
        try f.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[filled...]))
      }
    } catch { throw HostError(error.errno, "read", path) }
    if n == 0 { break }
    filled += n
    if filled > limit { throw HostError(.tooLarge, "read (larger than \(limit >> 20) MiB)", path) }
  }
  out.removeSubrange(filled...)
  return out
}

/// "a FIFO", "a character device", ... for a refusal's message (FileStat keeps only the kinds
/// convergence compares).
func fileTypeName(_ fd: CInt) -> String {
  var st = CEdge.stat()
  guard system_fstat(fd, &st) == 0 else { return "not a regular file" }
  switch st.st_mode & mode_t(S_IFMT) {
  case mode_t(S_IFIFO): return "a FIFO"
  case mode_t(S_IFCHR): return "a character device"
  case mode_t(S_IFBLK): return "a block device"
  case mode_t(S_IFSOCK): return "a socket"
  default: return "an unknown file type"
  }
}

/// Writes a whole file (for temporary files of tests and benchmarks; managed files go through
/// AtomicWrite).
public func writeWholeFile(_ path: String, _ bytes: [UInt8], mode: UInt32 = 0o644) throws(HostError) {
  let f = try FileDescriptor.open(at: AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
  do { try withBytes(bytes) { (raw) throws(HostError) in try f.writeAll(raw) } } catch {
    throw HostError(error.errno, "write", path)
  }
}

public func makeDirectory(_ path: String, mode: UInt32 = 0o755) throws(HostError) {
  if path.withCString({ system_mkdir($0, mode_t(mode)) }) != 0 && Errno.current != .exists { throw HostError(.current, "create directory", path) }
}

public func sleepNanoseconds(_ ns: UInt64) {
  var ts = timespec(tv_sec: time_t(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
  var left = timespec()
  while system_nanosleep(&ts, &left) != 0 && Errno.current == .interrupted { ts = left }
}
