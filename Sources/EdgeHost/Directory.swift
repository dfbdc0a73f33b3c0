import CEdge
import EdgeCore

/// A directory opened under the managed root, and the file operations done relative to it.
///
/// Every repair goes through one: the parent is resolved with openat2(RESOLVE_IN_ROOT), so a
/// symlink inside the root (even one planted mid-run) resolves inside the root and never out of
/// it, and each operation then names only the last component, which is never followed.
/// Where openat2 is missing (old kernels, qemu-user), components are opened one by one with
/// O_NOFOLLOW, which refuses symlinked parents outright: stricter, never looser.
public struct Directory: ~Copyable {
  public let fd: FileDescriptor
  /// The host path, for messages.
  public let path: String

  init(fd: consuming FileDescriptor, path: String) {
    self.fd = fd
    self.path = path
  }

  /// Opens the root itself.
  public static func openRoot(_ root: String) throws(HostError) -> Directory {
    Directory(fd: try FileDescriptor.open(at: AT_FDCWD, root, O_RDONLY | O_DIRECTORY), path: root)
  }

  /// Opens `relative` (a managed path without its leading '/', "" for the root) inside `root`.
  /// Errors: ENOENT or ENOTDIR when a component is missing or not a directory; ELOOP on the
  /// fallback path when a component is a symlink.
  public static func open(_ relative: String, in root: borrowing Directory) throws(HostError) -> Directory {
    let hostPath = relative.isEmpty ? root.path : join(root.path, relative)
    if relative.isEmpty { return Directory(fd: try FileDescriptor.open(at: root.fd.raw, ".", O_RDONLY | O_DIRECTORY), path: hostPath) }
    let flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC
    let resolve = UInt64(RESOLVE_IN_ROOT) | UInt64(RESOLVE_NO_MAGICLINKS)
    let r = pathCall(relative) { p in system_openat2(root.fd.raw, p, flags, resolve) }
    switch r {
    case .success(let fd): return Directory(fd: FileDescriptor(adopting: fd), path: hostPath)
    case .failure(let e) where e == .noSys || e == .permission:
      // ENOSYS: no openat2. EPERM: a seccomp filter that refuses it. Walk instead.
      return try walk(relative, in: root, hostPath: hostPath)
    case .failure(let e): throw HostError(e, "open directory", hostPath)
    }
  }

  /// Opens `relative` inside `root` with no symlink at or below `confine` (a prefix of
  /// `relative` in whole components, or ""): `confine` itself is opened as `open` does but never
  /// through a last symlink, and the rest beneath it with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
  /// (one by one with O_NOFOLLOW without openat2). Errors: as `open`; ELOOP or ENOTDIR for a
  /// symlink in the confined part.
  public static func open(_ relative: String, in root: borrowing Directory, confine: String) throws(HostError) -> Directory {
    if confine.isEmpty || !(relative == confine || relative.hasPrefix(confine + "/")) { return try open(relative, in: root) }
    let hostPath = join(root.path, relative)
    let parent = parentPath("/" + confine)
    let base = try open(String(parent.dropFirst()), in: root)
    let name = parent == "/" ? confine : String(confine.utf8.dropFirst(parent.utf8.count))!
    let top = try openNoFollow(name, in: base, path: join(root.path, confine), hostPath: hostPath)
    if relative == confine { return top }
    return try openNoSymlinks(String(relative.utf8.dropFirst(confine.utf8.count + 1))!, in: top, hostPath: hostPath)
  }

  /// `name` in `dir` as a directory, never through a symlink.
  private static func openNoFollow(_ name: String, in dir: borrowing Directory, path: String, hostPath: String) throws(HostError) -> Directory {
    do {
      return Directory(fd: try FileDescriptor.open(at: dir.fd.raw, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW), path: path)
    } catch { throw HostError(error.errno, "open directory", hostPath) }
  }

  /// `rest` beneath `top` with no symlink on the way.
  private static func openNoSymlinks(_ rest: String, in top: borrowing Directory, hostPath: String) throws(HostError) -> Directory {
    let raw = top.fd.raw
    let resolve = UInt64(RESOLVE_BENEATH) | UInt64(RESOLVE_NO_SYMLINKS) | UInt64(RESOLVE_NO_MAGICLINKS)
    switch pathCall(rest, { p in system_openat2(raw, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC, resolve) }) {
    case .success(let fd): return Directory(fd: FileDescriptor(adopting: fd), path: hostPath)
    case .failure(let e) where e == .noSys || e == .permission: return try walk(rest, in: top, hostPath: hostPath)
    case .failure(let e): throw HostError(e, "open directory", hostPath)
    }
  }

  private static func walk(_ relative: String, in root: borrowing Directory, hostPath: String) throws(HostError) -> Directory {
    var current = try FileDescriptor.open(at: root.fd.raw, ".", O_RDONLY | O_DIRECTORY)
    for component in relative.utf8.split(separator: UInt8(ascii: "/")) {
      let name = String(decoding: component, as: UTF8.self)
      do {
        current = try FileDescriptor.open(at: current.raw, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
      } catch {
        throw HostError(error.errno, "open directory", hostPath)
      }
    }
    return Directory(fd: current, path: hostPath)
  }

  /// lstat of a name in this directory; nil when absent.
  public func stat(_ name: String) throws(HostError) -> FileStat? {
    var st = CEdge.stat()
    let r = pathCall(name) { p in system_fstatat(fd.raw, p, &st, AT_SYMLINK_NOFOLLOW) }
    switch r {
    case .success: return FileStat(st)
    case .failure(let e) where e == .noEntry: return nil
    case .failure(let e): throw HostError(e, "lstat", join(path, name))
    }
  }

  /// Opens a name for reading without following a symlink.
  public func openForReading(_ name: String) throws(HostError) -> FileDescriptor {
    do {
      return try FileDescriptor.open(at: fd.raw, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
    } catch {
      throw HostError(error.errno, "open", join(path, name))
    }
  }

  public func makeDirectory(_ name: String, mode: UInt32) throws(HostError) {
    let r = pathCall(name) { p in system_mkdirat(fd.raw, p, mode_t(mode)) }
    if case .failure(let e) = r { throw HostError(e, "create directory", join(path, name)) }
  }

  /// Removes a file or symlink (`directory: false`) or an empty directory.
  public func remove(_ name: String, directory: Bool) throws(HostError) {
    let r = pathCall(name) { p in system_unlinkat(fd.raw, p, directory ? AT_REMOVEDIR : 0) }
    if case .failure(let e) = r { throw HostError(e, "remove", join(path, name)) }
  }

  public func rename(_ from: String, to: String) throws(HostError) {
    let r = pathCall(from, to) { a, b in system_renameat(fd.raw, a, fd.raw, b) }
    if case .failure(let e) = r { throw HostError(e, "rename \(from) to", join(path, to)) }
  }

  public func symlink(_ name: String, target: String) throws(HostError) {
    let r = pathCall(target, name) { t, n in system_symlinkat(t, fd.raw, n) }
    if case .failure(let e) = r { throw HostError(e, "create symlink", join(path, name)) }
  }

  /// The target of a symlink, or nil when `name` is not one.
  public func readLink(_ name: String) throws(HostError) -> String? {
    var buf = [CChar](repeating: 0, count: 4097)
    let r = name.withCString { p in
      buf.withUnsafeMutableBufferPointer { b in valueOrErrno { system_readlinkat(fd.raw, p, b.baseAddress!, 4096) } }
    }
    switch r {
    case .success(let n):
      return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    case .failure(let e) where e == .invalid || e == .noEntry: return nil
    case .failure(let e): throw HostError(e, "read link", join(path, name))
    }
  }

  /// chown without following a symlink in `name`; -1 leaves one as it is.
  public func setOwner(_ name: String, uid: Int, gid: Int) throws(HostError) {
    let u = uid < 0 ? uid_t.max : uid_t(uid), g = gid < 0 ? gid_t.max : gid_t(gid)
    let r = pathCall(name) { p in system_fchownat(fd.raw, p, u, g, AT_SYMLINK_NOFOLLOW) }
    if case .failure(let e) = r { throw HostError(e, "chown", join(path, name)) }
  }

  /// chmod of a file or directory, by opening it without following a symlink (fchmodat cannot
  /// refuse to follow on Linux).
  public func setMode(_ name: String, _ mode: UInt32) throws(HostError) {
    let f = try FileDescriptor.open(at: fd.raw, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
    do { try f.setMode(mode) } catch { throw HostError(error.errno, "chmod", join(path, name)) }
  }

  public func sync() throws(HostError) {
    do { try fd.sync() } catch { throw HostError(error.errno, "fsync directory", path) }
  }
}

/// Joins a host directory and a name: `"/"`, `"etc"` -> `"/etc"`.
public func join(_ directory: String, _ name: String) -> String {
  if directory.utf8.last == UInt8(ascii: "/") { return directory + name }
  return directory + "/" + name
}
