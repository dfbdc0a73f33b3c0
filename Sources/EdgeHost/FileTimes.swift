import CEdge

/// Sets a file's modification (and access) time to `seconds` since the epoch, following
/// symlinks. Publishing uses it so a rewritten bundle.json never keeps the mtime-and-size
/// ETag a static web server computed for the previous one. C: `utimensat`
public func setModificationTime(_ path: String, seconds: Int64) throws(HostError) {
  var times = (timespec(tv_sec: time_t(seconds), tv_nsec: 0), timespec(tv_sec: time_t(seconds), tv_nsec: 0))
  let rc = withUnsafePointer(to: &times) { p in
    p.withMemoryRebound(to: timespec.self, capacity: 2) { utimensat(AT_FDCWD, path, $0, 0) }
  }
  if rc != 0 { throw HostError(.current, "set the modification time of", path) }
}
