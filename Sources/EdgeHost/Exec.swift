import CEdge
import EdgeCore

// Replacing this process's image (an agent switching to a new binary of itself) and what
// survives it: the pid, the children, and the descriptors not marked close-on-exec.

/// Runs `path` in place of this process, with `argv` and this process's environment plus
/// `setting` (name, value). Returns only on failure, with why; nothing has changed then.
/// C: `setenv`, `execv`
public func replaceProcess(_ path: String, argv: [String], setting: [(String, String)]) -> HostError {
  for (k, v) in setting {
    if k.withCString({ kp in v.withCString { vp in setenv(kp, vp, 1) } }) != 0 { return HostError(.current, "set \(k) for", path) }
  }
  var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
  defer { for p in cArgs { free(p) } }
  _ = path.withCString { p in cArgs.withUnsafeMutableBufferPointer { a in execv(p, a.baseAddress!) } }
  let e = HostError(.current, "exec", path)
  for (k, _) in setting { _ = k.withCString { unsetenv($0) } }
  return e
}

/// Removes an environment variable (one handed over by `replaceProcess`, so that the services
/// this process starts do not inherit it). C: `unsetenv`
public func unsetEnvironmentValue(_ name: String) { _ = name.withCString { unsetenv($0) } }

/// Keeps `fd` open in the image `replaceProcess` runs (clears FD_CLOEXEC).
public func keepAcrossExec(_ fd: Int32) throws(HostError) {
  if system_fcntl(fd, F_SETFD, 0) != 0 { throw HostError(.current, "keep open across exec: descriptor \(fd)") }
}

/// Marks `fd` close-on-exec again (an adopted descriptor, so the services started next do not inherit it).
public func closeOnExec(_ fd: Int32) { _ = system_fcntl(fd, F_SETFD, FD_CLOEXEC) }

/// A process's parent and start time in clock ticks since boot, from /proc/PID/stat (fields 4
/// and 22); nil when there is no such process. The pair tells a process from a later one that
/// reused its pid.
public func processStart(_ pid: Int32) -> (parent: Int32, ticks: UInt64)? {
  guard pid > 0, let text = try? readWholeFile("/proc/\(pid)/stat", limit: 4096) else { return nil }
  // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
  guard let close = text.lastIndex(of: UInt8(ascii: ")")) else { return nil }
  // Digits, as ProcessFigures reads statm: no text, no generic integer parsing.
  var field = 2, value: UInt64 = 0, parent: UInt64? = nil
  for c in text[(close + 1)...] {
    if c == UInt8(ascii: " ") {
      if field == 4 { parent = value }
      if field == 22 { return parent.map { (Int32(truncatingIfNeeded: $0), value) } }
      field += 1
      value = 0
    } else if (field == 4 || field == 22) && c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
      value = value &* 10 &+ UInt64(c - UInt8(ascii: "0"))
    }
  }
  return nil
}

/// The path of this process's binary (/proc/self/exe), nil when it cannot be read.
public func executablePath() -> String? { try? realPath("/proc/self/exe") }
