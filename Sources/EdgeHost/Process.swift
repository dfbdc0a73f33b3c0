import CEdge
import CEdgeSupport
import EdgeCore

/// The process's arguments. Embedded Swift has no CommandLine: the C support target captures
/// argv from glibc's constructor call.
public func commandLineArguments() -> [String] {
  guard let argv = edge_argv() else { return [] }
  var out: [String] = []
  for i in 0..<Int(edge_argc()) {
    if let a = argv[i] { out.append(String(cString: a)) }
  }
  return out
}

/// An environment variable, or nil.
public func environmentValue(_ name: String) -> String? {
  guard let v = getenv(name) else { return nil }
  return String(cString: v)
}

/// Writes to fd 1 / fd 2 directly: unbuffered, so nothing is lost if the process dies, and
/// never interleaved mid-line with a child's output.
public func writeStdout(_ s: String) { writeFD(1, s) }
public func writeStderr(_ s: String) { writeFD(2, s) }

public func writeStdout(_ bytes: [UInt8]) {
  bytes.withUnsafeBytes { raw in
    var done = 0
    while done < raw.count {
      let n = write(1, raw.baseAddress! + done, raw.count - done)
      if n < 0 { if edge_errno() == EINTR { continue }; return }
      done += n
    }
  }
}

private func writeFD(_ fd: CInt, _ s: String) {
  var copy = s
  copy.withUTF8 { buf in
    var done = 0
    while done < buf.count {
      let n = write(fd, buf.baseAddress! + done, buf.count - done)
      if n < 0 { if edge_errno() == EINTR { continue }; return }
      done += n
    }
  }
}

public func exitProcess(_ code: Int32) -> Never { exit(code) }

/// Allocations the calling thread made since it started (malloc, calloc, realloc, posix_memalign,
/// aligned_alloc), for benchmarks and allocation tests.
public func allocationCount() -> UInt64 { edge_alloc_count() }

/// Peak resident set size of this process, in KiB (getrusage).
public func peakRSSKiB() -> Int {
  var ru = rusage()
  getrusage(0, &ru)   // RUSAGE_SELF; its enum type differs between arches
  return Int(ru.ru_maxrss)
}

public func processID() -> Int32 { getpid() }

public func effectiveUID() -> UInt32 { UInt32(geteuid()) }
public func effectiveGID() -> UInt32 { UInt32(getegid()) }

/// Wall-clock nanoseconds since the epoch.
public func wallClockNanoseconds() -> Int64 {
  var ts = timespec()
  clock_gettime(CLOCK_REALTIME, &ts)
  return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// A new directory under /tmp (or $TMPDIR), mode 0700.
public func makeTemporaryDirectory(_ prefix: String) throws(HostError) -> String {
  let base = environmentValue("TMPDIR") ?? "/tmp"
  var template = Array((base + "/" + prefix + "-XXXXXX").utf8CString)
  let r = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
  if r == nil { throw HostError(.current, "create a temporary directory in", base) }
  return String(cString: template)
}

/// Removes a directory tree (never following symlinks); for temporary directories.
public func removeTree(_ path: String) {
  let parent = parentPath(path)
  guard let dir = try? Directory.openRoot(parent) else { return }
  try? dir.removeTree(String(path.utf8.split(separator: UInt8(ascii: "/")).last.map { String(decoding: $0, as: UTF8.self) } ?? ""))
}

/// Raises this process's soft limit on open files towards `want` (never above the hard limit,
/// never lowered) and returns the soft limit now in force. A relay holds one descriptor per
/// child, and an init's default soft limit (1024) is below what a fan-out relay needs.
/// C: `getrlimit`, `setrlimit` (RLIMIT_NOFILE)
public func raiseOpenFileLimit(to want: Int) -> Int {
  var rl = rlimit()
  let resource = Int32(EDGE_RLIMIT_NOFILE)
  guard edge_getrlimit(resource, &rl) == 0 else { return 1024 }
  let target = min(rlim_t(want), rl.rlim_max)
  if rl.rlim_cur < target {
    var raised = rl
    raised.rlim_cur = target
    if edge_setrlimit(resource, &raised) == 0 { rl = raised }
  }
  return rl.rlim_cur > rlim_t(Int.max) ? Int.max : Int(rl.rlim_cur)
}
