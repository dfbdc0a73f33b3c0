import CEdge
import EdgeCore

/// What lstat says about a path, reduced to what convergence compares. A value, so that the
/// kept-file check allocates nothing.
public struct FileStat: Equatable, Sendable {
  public enum Kind: UInt8, Sendable { case regular, directory, symlink, other }

  public var kind: Kind
  /// Permission bits only (mode & 0o7777).
  public var permissions: UInt32
  public var uid: UInt32
  public var gid: UInt32
  public var identity: FileIdentity

  init(_ st: stat) {
    switch st.st_mode & mode_t(S_IFMT) {
    case mode_t(S_IFREG): kind = .regular
    case mode_t(S_IFDIR): kind = .directory
    case mode_t(S_IFLNK): kind = .symlink
    default: kind = .other
    }
    permissions = UInt32(st.st_mode & 0o7777)
    uid = UInt32(st.st_uid)
    gid = UInt32(st.st_gid)
    var s = st
    identity = FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
                            mtime: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(edge_stat_mtime_ns(&s)),
                            ctime: Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(edge_stat_ctime_ns(&s)))
  }

  /// lstat(2) of a NUL-terminated host path: never follows a symlink in the last component.
  /// Returns nil when the path does not exist (ENOENT, or ENOTDIR for a file in the way of a
  /// parent). This is the whole cost of a kept-file check: one syscall, no allocation.
  public static func lstat(_ path: UnsafePointer<CChar>) throws(HostError) -> FileStat? {
    var st = stat()
    switch valueOrErrno({ system_lstat(path, &st) }) {
    case .success: return FileStat(st)
    case .failure(let e):
      if e == .noEntry || e == .notDirectory { return nil }
      throw HostError(e, "lstat", String(cString: path))
    }
  }

  /// stat(2): follows symlinks (for files the agent reads, like its policy, not ones it manages).
  public static func following(_ path: String) throws(HostError) -> FileStat? {
    var st = CEdge.stat()
    let r = pathCall(path) { p in system_stat(p, &st) }
    switch r {
    case .success: return FileStat(st)
    case .failure(let e):
      if e == .noEntry || e == .notDirectory { return nil }
      throw HostError(e, "stat", path)
    }
  }

  public static func lstat(_ path: String) throws(HostError) -> FileStat? {
    let r: Result<FileStat?, HostError> = path.withCString { p in
      do throws(HostError) { return .success(try lstat(p)) } catch { return .failure(error) }
    }
    return try r.get()
  }
}
