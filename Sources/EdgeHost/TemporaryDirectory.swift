import CEdge
import EdgeCore

/// A new directory under /tmp (or $TMPDIR), mode 0700. C: `mkdtemp`
public func makeTemporaryDirectory(_ prefix: String) throws(HostError) -> String {
  let base = environmentValue("TMPDIR") ?? "/tmp"
  var template = Array((base + "/" + prefix + "-XXXXXX").utf8CString)
  let r = template.withUnsafeMutableBufferPointer { system_mkdtemp($0.baseAddress!) }
  if r == nil { throw HostError(.current, "create a temporary directory in", base) }
  return String(cString: template)
}

/// Removes a directory tree (never following symlinks); for temporary directories.
public func removeTree(_ path: String) {
  let parent = parentPath(path)
  guard let dir = try? Directory.openRoot(parent) else { return }
  try? dir.removeTree(String(path.utf8.split(separator: UInt8(ascii: "/")).last.map { String(decoding: $0, as: UTF8.self) } ?? ""))
}
