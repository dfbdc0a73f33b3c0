import CEdge
import EdgeCore

// A sysctl is a file under the root's /proc/sys, opened from the root's fd and never through a
// symlink (RESOLVE_NO_SYMLINKS): /proc/sys holds none, so one there was planted to point the
// agent at a file outside the root, which it would then overwrite or print.

/// `net.ipv4.ip_forward` -> `proc/sys/net/ipv4/ip_forward`, relative to the root.
public func sysctlRelativePath(_ key: String) -> String {
  var rel: [UInt8] = Array("proc/sys/".utf8)
  for c in key.utf8 { rel.append(c == UInt8(ascii: ".") ? UInt8(ascii: "/") : c) }
  return String(decoding: rel, as: UTF8.self)
}

/// The current value of `key` under `root`, as the kernel prints it.
/// Errors: ENOENT for an unknown key; ELOOP when a component is a symlink; EINVAL when it is
/// not a regular file.
public func readSysctl(in root: borrowing Directory, _ key: String) throws(HostError) -> [UInt8] {
  try root.readBeneath(sysctlRelativePath(key), limit: 64 << 10, symlinks: false)
}

/// Writes a value to `key` under `root` (no O_CREAT: an unknown key must fail, not create a file).
public func writeSysctl(in root: borrowing Directory, _ key: String, _ value: String) throws(HostError) {
  try root.writeBeneath(sysctlRelativePath(key), Array((value + "\n").utf8), symlinks: false)
}
