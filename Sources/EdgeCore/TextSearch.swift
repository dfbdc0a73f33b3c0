/// Whether `text` contains `part`, comparing UTF-8 bytes. `String.contains(String)` comes from
/// _StringProcessing, which Embedded Swift lacks.
public func containsText(_ text: String, _ part: String) -> Bool {
  let t = Array(text.utf8), p = Array(part.utf8)
  if p.isEmpty { return true }
  if p.count > t.count { return false }
  outer: for i in 0...(t.count - p.count) {
    for j in 0..<p.count where t[i + j] != p[j] { continue outer }
    return true
  }
  return false
}
