import EdgeCore
import EdgeHost

extension Converger {
  /// `sysctl`: the value under the root's /proc/sys. Values compare with runs of blanks as one
  /// space, as the kernel prints multi-field values with tabs.
  func checkSysctl(_ p: Promise) throws(HostError) -> Outcome {
    let path = sysctlPath(root: root, key: p.key)
    let current: [UInt8]
    do {
      current = try readWholeFile(path, limit: 64 << 10)
    } catch where error.errno == .noEntry {
      return Outcome(.failed, "unknown sysctl key \(p.key) (no \(path))")
    }
    if sysctlEqual(current, Array(p.value.utf8)) { return .kept }
    let was = String(decoding: normalisedSysctl(current), as: UTF8.self)
    if dryRun { return Outcome(.repaired, "would be set: \"\(was)\" -> \"\(p.value)\"") }
    try writeSysctl(path, p.value)
    return Outcome(.repaired, "\"\(was)\" -> \"\(p.value)\"")
  }
}

/// `net.ipv4.ip_forward` -> `<root>/proc/sys/net/ipv4/ip_forward`.
func sysctlPath(root: String, key: String) -> String {
  var rel: [UInt8] = []
  for c in key.utf8 { rel.append(c == UInt8(ascii: ".") ? UInt8(ascii: "/") : c) }
  return (root == "/" ? "" : root) + "/proc/sys/" + String(decoding: rel, as: UTF8.self)
}

func normalisedSysctl(_ bytes: [UInt8]) -> [UInt8] {
  var out: [UInt8] = []
  var blank = false
  for c in bytes {
    if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D {
      blank = true
      continue
    }
    if blank && !out.isEmpty { out.append(0x20) }
    blank = false
    out.append(c)
  }
  return out
}

func sysctlEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool { normalisedSysctl(a) == normalisedSysctl(b) }
