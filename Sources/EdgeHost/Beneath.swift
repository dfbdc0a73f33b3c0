import CEdge
import EdgeCore

/// Reading a managed path beneath the root, never out of it: what every check does, so that a
/// check looks at the same object its repair would change.
///
/// A path is resolved from the root's fd with openat2(RESOLVE_IN_ROOT), as `Directory.open`
/// resolves a repair's parent: a symlink in a parent (`ROOT/etc -> /elsewhere`) resolves as if
/// the root were `/`, so it can name only objects inside the root. `symlinks: false` adds
/// RESOLVE_NO_SYMLINKS, for trees that never hold one (/proc/sys): any symlink is then ELOOP.
/// Without openat2 (ENOSYS; EPERM from a seccomp filter) the parents are opened one by one
/// with O_NOFOLLOW, which refuses a symlinked parent with ELOOP: stricter, never looser.
/// The last component is never followed.
extension Directory {
  /// Opens `path` beneath this directory (a leading '/' means this directory) with `flags`,
  /// O_NOFOLLOW (unless `followLast`, which follows a last symlink inside the root too) and
  /// O_CLOEXEC added. Returns the errno unchanged: the caller names the path.
  public func openBeneath(_ path: UnsafePointer<CChar>, _ flags: CInt, symlinks: Bool = true,
                          followLast: Bool = false) -> Result<FileDescriptor, Errno> {
    let all = flags | O_CLOEXEC | (followLast ? 0 : O_NOFOLLOW)
    var resolve = UInt64(RESOLVE_IN_ROOT) | UInt64(RESOLVE_NO_MAGICLINKS)
    if !symlinks { resolve |= UInt64(RESOLVE_NO_SYMLINKS) }
    // EAGAIN: a rename or mount raced the lookup (RESOLVE_IN_ROOT then refuses to guess); the
    // kernel asks for a retry.
    for _ in 0..<8 {
      switch valueOrErrno({ system_openat2(fd.raw, path, all, resolve) }) {
      case .success(let f): return .success(FileDescriptor(adopting: f))
      case .failure(let e) where e == .noSys || e == .permission: return walkBeneath(path, all | O_NOFOLLOW)
      case .failure(let e) where e == .wouldBlock: continue
      case .failure(let e): return .failure(e)
      }
    }
    return .failure(.wouldBlock)
  }

  /// The fallback: each parent with O_PATH | O_DIRECTORY | O_NOFOLLOW, then the last component.
  /// Allocates (only kernels without openat2 come here).
  func walkBeneath(_ path: UnsafePointer<CChar>, _ flags: CInt) -> Result<FileDescriptor, Errno> {
    let parts = String(cString: path).utf8.split(separator: UInt8(ascii: "/")).map { String(decoding: $0, as: UTF8.self) }
    var current: FileDescriptor
    switch valueOrErrno({ system_openat(fd.raw, ".", EDGE_O_PATH | O_DIRECTORY | O_CLOEXEC, 0) }) {
    case .success(let f): current = FileDescriptor(adopting: f)
    case .failure(let e): return .failure(e)
    }
    for (i, name) in parts.enumerated() {
      // ".." could climb out of the root: RESOLVE_IN_ROOT would stop it at the root, here it is refused.
      if name == ".." { return .failure(.permission) }
      if name == "." { continue }
      let last = i == parts.count - 1
      let f = last ? flags : EDGE_O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
      let r = pathCall(name) { n in system_openat(current.raw, n, f, 0) }
      switch r {
      case .success(let next): current = FileDescriptor(adopting: next)
      case .failure(let e) where e == .notDirectory && !last:
        // O_DIRECTORY | O_NOFOLLOW on a symlink says ENOTDIR: say ELOOP, as openat2 would for
        // a refused symlink, so that it is not taken for an absent file.
        var st = CEdge.stat()
        let isLink = name.withCString { n in system_fstatat(current.raw, n, &st, AT_SYMLINK_NOFOLLOW) } == 0
          && st.st_mode & mode_t(S_IFMT) == mode_t(S_IFLNK)
        return .failure(isLink ? .tooManyLinks : e)
      case .failure(let e): return .failure(e)
      }
    }
    if parts.isEmpty {
      // The directory itself: the loop above opened it with O_PATH only.
      return valueOrErrno({ system_openat(fd.raw, ".", flags, 0) }).map { FileDescriptor(adopting: $0) }
    }
    return .success(current)
  }

  /// lstat of `path` beneath this directory: the object itself, a symlink included. Nil when
  /// it does not exist (ENOENT, or ENOTDIR for a file in the way of a parent). Three calls
  /// (openat2 O_PATH, fstat, close) and no allocation.
  /// Errors: ELOOP without openat2 when a parent is a symlink; EACCES; anything else fstat says.
  public func statBeneath(_ path: UnsafePointer<CChar>) throws(HostError) -> FileStat? {
    switch openBeneath(path, EDGE_O_PATH) {
    case .success(let f):
      do throws(HostError) { return try f.stat() } catch { throw HostError(error.errno, "lstat", hostPath(path)) }
    case .failure(let e) where e == .noEntry || e == .notDirectory: return nil
    case .failure(let e): throw HostError(e, "lstat", hostPath(path))
    }
  }

  /// readlink of `path` beneath this directory into `buffer`: its length, or nil when it is
  /// not a symlink or cannot be read.
  public func readLinkBeneath(_ path: UnsafePointer<CChar>, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
    guard case .success(let f) = openBeneath(path, EDGE_O_PATH) else { return nil }
    // An empty name reads the link an O_PATH | O_NOFOLLOW fd refers to (Linux 2.6.39+).
    let n = buffer.withMemoryRebound(to: CChar.self) { b in
      "".withCString { empty in system_readlinkat(f.raw, empty, b.baseAddress!, b.count) }
    }
    return n < 0 ? nil : n
  }

  /// Reads a whole small file beneath this directory, refusing anything but a regular file
  /// (a FIFO or device there must not block or feed the agent).
  /// Errors: ENOENT when absent; ELOOP through a refused symlink; EFBIG past `limit` bytes.
  /// `followLast` follows a symlink in the last component (inside the root, like any other).
  public func readBeneath(_ path: String, limit: Int, symlinks: Bool = true, followLast: Bool = false) throws(HostError) -> [UInt8] {
    let f = try openBeneathOrThrow(path, O_RDONLY | O_NONBLOCK | O_NOCTTY, symlinks: symlinks, followLast: followLast, operation: "open")
    return try readWhole(f, path: hostPath(path), limit: limit)
  }

  /// Writes `bytes` to an existing regular file beneath this directory, truncating it (no
  /// O_CREAT: an unknown /proc/sys key must fail, not make a file).
  public func writeBeneath(_ path: String, _ bytes: [UInt8], symlinks: Bool = true) throws(HostError) {
    let f = try openBeneathOrThrow(path, O_WRONLY | O_TRUNC | O_NONBLOCK | O_NOCTTY, symlinks: symlinks, followLast: false, operation: "open")
    do { try withBytes(bytes) { (raw) throws(HostError) in try f.writeAll(raw) } } catch {
      throw HostError(error.errno, "write", hostPath(path))
    }
  }

  private func openBeneathOrThrow(_ path: String, _ flags: CInt, symlinks: Bool, followLast: Bool,
                                  operation: String) throws(HostError) -> FileDescriptor {
    // The String is passed as a temporary C string (withCString cannot return a ~Copyable fd).
    switch openBeneath(path, flags, symlinks: symlinks, followLast: followLast) {
    case .success(let f):
      let st: FileStat
      do throws(HostError) { st = try f.stat() } catch { throw HostError(error.errno, "stat", hostPath(path)) }
      if st.kind != .regular { throw HostError(.invalid, "\(operation) (not a regular file)", hostPath(path)) }
      return f
    case .failure(let e): throw HostError(e, operation, hostPath(path))
    }
  }

  /// The host path of `path` beneath this directory, for messages.
  public func hostPath(_ path: UnsafePointer<CChar>) -> String { hostPath(String(cString: path)) }

  public func hostPath(_ path: String) -> String {
    let rel = path.utf8.first == UInt8(ascii: "/") ? String(path.utf8.dropFirst())! : path
    return join(self.path, rel)
  }
}
