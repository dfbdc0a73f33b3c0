import CEdge

/// An open file descriptor that closes itself exactly once. Non-copyable, so ownership is plain:
/// `borrowing` uses it, `consuming close()` or the end of scope closes it.
@frozen
public struct FileDescriptor: ~Copyable {
  public let raw: CInt

  public init(adopting raw: CInt) { self.raw = raw }

  deinit { _ = system_close(raw) }

  /// Opens `name` relative to `dir` (AT_FDCWD for the working directory). O_CLOEXEC is always
  /// added: no fd of the agent's may leak into a service.
  public static func open(at dir: CInt, _ name: String, _ flags: CInt, mode: UInt32 = 0) throws(HostError) -> FileDescriptor {
    let r = pathCall(name) { p in system_openat(dir, p, flags | O_CLOEXEC, mode_t(mode)) }
    switch r {
    case .success(let fd): return FileDescriptor(adopting: fd)
    case .failure(let e): throw HostError(e, "open", name)
    }
  }

  /// Reads up to `buffer.count` bytes; 0 at end of file.
  public func read(into buffer: UnsafeMutableRawBufferPointer) throws(HostError) -> Int {
    switch valueOrErrno({ system_read(raw, buffer.baseAddress!, buffer.count) }) {
    case .success(let n): return n
    case .failure(let e): throw HostError(e, "read")
    }
  }

  /// Writes all of `bytes`, looping over short writes.
  public func writeAll(_ bytes: UnsafeRawBufferPointer) throws(HostError) {
    var done = 0
    while done < bytes.count {
      guard let base = bytes.baseAddress else { return }
      switch valueOrErrno({ system_write(raw, base + done, bytes.count - done) }) {
      case .success(let n): done += n
      case .failure(let e): throw HostError(e, "write")
      }
    }
  }

  public func sync() throws(HostError) {
    if case .failure(let e) = valueOrErrno({ system_fsync(raw) }) { throw HostError(e, "fsync") }
  }

  /// Flushes the whole filesystem that holds this fd: one call instead of one fsync per file.
  public func syncFilesystem() throws(HostError) {
    if case .failure(let e) = valueOrErrno({ system_syncfs(raw) }) { throw HostError(e, "syncfs") }
  }

  public func stat() throws(HostError) -> FileStat {
    var st = CEdge.stat()
    if case .failure(let e) = valueOrErrno({ system_fstat(raw, &st) }) { throw HostError(e, "fstat") }
    return FileStat(st)
  }

  public func setMode(_ mode: UInt32) throws(HostError) {
    if case .failure(let e) = valueOrErrno({ system_fchmod(raw, mode_t(mode)) }) { throw HostError(e, "chmod") }
  }

  /// Changes owner and group; -1 leaves one as it is.
  public func setOwner(uid: Int, gid: Int) throws(HostError) {
    let u = uid < 0 ? uid_t.max : uid_t(uid), g = gid < 0 ? gid_t.max : gid_t(gid)
    if case .failure(let e) = valueOrErrno({ system_fchown(raw, u, g) }) { throw HostError(e, "chown") }
  }

  /// Gives up ownership without closing.
  public consuming func release() -> CInt {
    let r = raw
    discard self
    return r
  }
}
