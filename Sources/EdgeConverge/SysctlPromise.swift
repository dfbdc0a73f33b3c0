import EdgeCore
import EdgeHost


/// `sysctl`: the check and repair are `Converger.checkSysctl` below.
enum SysctlPromise: PromiseKind {
  static func check(_ c: Converger, _ p: Promise, _ pp: PreparedPromise,
                    cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                    blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void,
                    previous: (String) -> ActualRecord?) throws(HostError) -> CheckStep {
    .outcome(try c.checkSysctl(p))
  }

  /// Writes through the kernel's /proc/sys, which programs and later promises may read.
  static var publishesFirst: Bool { true }

  static func keptInPlace(_ v: PromiseView, _ f: inout InPlaceVerifier, _ root: borrowing Directory,
                          cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                          previous: (String) -> ActualRecord?) -> Outcome? {
    guard let current = try? readSysctl(in: root, String(decoding: v.key, as: UTF8.self)) else { return nil }
    return sysctlEqual(current, Array(v.value)) ? .kept : nil
  }
}

extension Converger {
  /// `sysctl`: the value under the root's /proc/sys, read and written beneath the root (never
  /// through a symlink, see EdgeHost's Sysctl.swift). Values compare with runs of blanks as one
  /// space, as the kernel prints multi-field values with tabs.
  func checkSysctl(_ p: Promise) throws(HostError) -> Outcome {
    let current: [UInt8]
    do {
      current = try readSysctl(in: rootDir, p.key)
    } catch where error.errno == .noEntry {
      return Outcome(.failed, "unknown sysctl key \(p.key) (no \(rootDir.hostPath(sysctlRelativePath(p.key))))")
    }
    if sysctlEqual(current, Array(p.value.utf8)) { return .kept }
    let was = String(decoding: normalisedSysctl(current), as: UTF8.self)
    if dryRun { return Outcome(.repaired, "would be set: \"\(was)\" -> \"\(p.value)\"") }
    try writeSysctl(in: rootDir, p.key, p.value)
    return Outcome(.repaired, "\"\(was)\" -> \"\(p.value)\"")
  }
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
