/// What a managed path may be: absolute, at most 4095 bytes, no NUL, no `.` or `..` component,
/// no empty component (`//`), no trailing `/`, and not `/` itself. Returns why it is rejected,
/// or nil when it is fine.
public func pathProblem(_ path: String) -> String? {
  // The bytes are lent, not copied: a copy was an allocation per promise of a policy.
  withUTF8(path) { (u) -> String? in
    if u.isEmpty { return "path is empty" }
    if u[0] != UInt8(ascii: "/") { return "path \"\(path)\" is relative (it must start with '/')" }
    if u.count > 4095 { return "path is longer than 4095 bytes" }
    if u.count == 1 { return "the root directory itself cannot be managed" }
    if u.contains(0) { return "path contains a NUL byte" }
    var start = 1
    while start <= u.count {
      var end = start
      while end < u.count && u[end] != UInt8(ascii: "/") { end += 1 }
      let n = end - start
      if n == 0 { return end == u.count ? "path \"\(path)\" ends with '/'" : "path \"\(path)\" contains '//'" }
      if n <= 2 && u[start] == UInt8(ascii: ".") && (n == 1 || u[start + 1] == UInt8(ascii: ".")) {
        return "path \"\(path)\" contains a '\(n == 1 ? "." : "..")' component"
      }
      if n > 255 { return "path \"\(path)\" has a component longer than 255 bytes" }
      start = end + 1
    }
    return nil
  }
}

/// The parent of a valid path (`/opt/app/x` -> `/opt/app`, `/opt` -> `/`).
public func parentPath(_ path: String) -> String {
  // Found in the string itself: a parent of up to 15 bytes is then a small string, no
  // allocation (an array of the bytes cost one per managed path in `Plan.order`).
  let u = path.utf8
  guard let slash = u.lastIndex(of: UInt8(ascii: "/")), slash != u.startIndex else { return "/" }
  return String(path[..<slash])
}
