import CEdge
import EdgeCore

/// lstat of managed paths beneath a root through the last parent directory used, kept open:
/// checks in plan order mostly share parents, so most cost one fstatat instead of openat2,
/// fstat and close. The parent is opened beneath the root as `Directory.statBeneath` resolves
/// it (RESOLVE_IN_ROOT; without openat2, a walk that refuses symlinks), so the answer is the
/// same, never an object outside the root. For one pass of checks: a directory moved while it
/// is open is seen where it was opened, as a run's open directories are for its repairs.
public struct ParentCursor: ~Copyable {
  /// The open parent, owned; nil before the first lookup and after one whose parent was absent.
  var parent: FileDescriptor? = nil
  /// Its descriptor, -1 with `parent` nil (reading it through the Optional would consume it).
  var parentFD: CInt = -1
  /// The parent's path bytes (leading '/'); capacity for a whole path, so reuse never allocates.
  var key: [UInt8]

  public init() {
    key = []
    key.reserveCapacity(4097)
  }

  /// lstat of `path` (NUL-terminated, `count` bytes before the NUL, leading '/') beneath `root`;
  /// nil when it or its parent does not exist. `path` is briefly cut at its last '/' and restored.
  /// Errors: as `Directory.statBeneath`.
  public mutating func stat(_ path: UnsafeMutablePointer<CChar>, count: Int, in root: borrowing Directory) throws(HostError) -> FileStat? {
    var slash = count - 1
    while slash > 0 && path[slash] != CChar(bitPattern: UInt8(ascii: "/")) { slash -= 1 }
    if slash <= 0 { return try root.statBeneath(path) }
    if parentFD < 0 || !sameParent(path, slash) {
      parent = nil
      parentFD = -1
      key.removeAll(keepingCapacity: true)
      path[slash] = 0
      let r = root.openBeneath(path, EDGE_O_PATH | O_DIRECTORY, followLast: true)
      path[slash] = CChar(bitPattern: UInt8(ascii: "/"))
      switch consume r {
      case .success(let f):
        parentFD = f.raw
        parent = consume f
        for i in 0..<slash { key.append(UInt8(bitPattern: path[i])) }
      case .failure(let e) where e == .noEntry || e == .notDirectory: return nil
      case .failure(let e): throw HostError(e, "open directory", root.hostPath(String(cString: path)))
      }
    }
    var st = CEdge.stat()
    let rc = system_fstatat(parentFD, path + slash + 1, &st, AT_SYMLINK_NOFOLLOW)
    if rc == 0 { return FileStat(st) }
    let e = Errno.current
    if e == .noEntry || e == .notDirectory { return nil }
    throw HostError(e, "lstat", root.hostPath(String(cString: path)))
  }

  /// Opens `path` for reading (never through a last symlink), as found by the `stat` just made
  /// of it: through the parent that call left open, so the file read is the one it saw there.
  /// Errors: the open's errno; ENOENT when `stat` did not leave this path's parent open.
  public mutating func openForReading(_ path: UnsafeMutablePointer<CChar>, count: Int,
                                      in root: borrowing Directory) -> Result<FileDescriptor, Errno> {
    let flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC
    var slash = count - 1
    while slash > 0 && path[slash] != CChar(bitPattern: UInt8(ascii: "/")) { slash -= 1 }
    if slash <= 0 { return root.openBeneath(path, flags) }
    guard parentFD >= 0, sameParent(path, slash) else { return .failure(.noEntry) }
    switch valueOrErrno({ system_openat(parentFD, path + slash + 1, flags, 0) }) {
    case .success(let fd): return .success(FileDescriptor(adopting: fd))
    case .failure(let e): return .failure(e)
    }
  }

  private func sameParent(_ path: UnsafeMutablePointer<CChar>, _ slash: Int) -> Bool {
    if key.count != slash { return false }
    for i in 0..<slash where key[i] != UInt8(bitPattern: path[i]) { return false }
    return true
  }
}
