import CEdge
import EdgeCore

extension Directory {
  /// The names in this directory, without `.` and `..`.
  public func entries() throws(HostError) -> [String] {
    let dup = system_fcntl(fd.raw, F_DUPFD_CLOEXEC, 3)
    if dup < 0 { throw HostError(.current, "open directory", path) }
    guard let d = fdopendir(dup) else {
      let e = Errno.current
      _ = system_close(dup)
      throw HostError(e, "open directory", path)
    }
    defer { closedir(d) }
    rewinddir(d)
    var names: [String] = []
    while let ent = readdir(d) {
      let name = withUnsafeBytes(of: &ent.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
      if name == "." || name == ".." { continue }
      names.append(name)
    }
    return names
  }

  /// Removes `name` and, if it is a directory, everything under it. Symlinks are removed, never
  /// followed, so a purge cannot escape the tree it was given.
  public func removeTree(_ name: String) throws(HostError) {
    guard let st = try stat(name) else { return }
    if st.kind == .directory {
      let child: Directory
      do {
        child = Directory(fd: try FileDescriptor.open(at: fd.raw, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW),
                          path: join(path, name))
      } catch {
        throw HostError(error.errno, "open directory", join(path, name))
      }
      for entry in try child.entries() { try child.removeTree(entry) }
      try remove(name, directory: true)
    } else {
      try remove(name, directory: false)
    }
  }
}
