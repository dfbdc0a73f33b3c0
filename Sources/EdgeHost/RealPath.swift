import CEdge
import EdgeCore

/// The canonical absolute path of an existing file: symlinks, `.` and `..` resolved, as the
/// kernel would walk it now. For deciding whether a path lies under a directory, which a
/// lexical check gets wrong through a symlink. C: `realpath(path, NULL)`
/// Errors: ENOENT when a component is missing; EACCES; ELOOP.
public func realPath(_ path: String) throws(HostError) -> String {
  guard let p = path.withCString({ system_realpath($0) }) else { throw HostError(.current, "resolve", path) }
  defer { free(p) }
  return String(cString: p)
}

/// Whether the canonical path `path` is `directory` or lies under it (both canonical).
public func isWithin(_ path: String, _ directory: String) -> Bool {
  if path == directory || directory == "/" { return true }
  let d = Array(directory.utf8), p = Array(path.utf8)
  return p.count > d.count && Array(p[0..<d.count]) == d && p[d.count] == UInt8(ascii: "/")
}
