import CEdge

/// The state directory's single writer: a daemon holds it for its whole life and `apply` while
/// it runs, so two agents never converge, supervise and record over each other (two daemons on
/// one state both started every service). An exclusive open-file-description lock on
/// `STATE/edgeagent.lock`, which holds the holder's pid for `status` and for the error of the
/// one refused.
///
/// The kernel drops the lock when the holder exits, however it exits: a stale file never
/// blocks. The fd is close-on-exec, so a service or command outliving the agent holds nothing.
/// Readers (`status`, a dry run) take no lock: LMDB keeps them consistent.
public final class StateLock {
  private var fd: Int32
  public let stateDir: String

  /// Takes the lock, creating the directory (0700) and the file (0600) when absent, and writes
  /// our pid into it. Errors: `.held` when another process holds it; `.lmdb` with the errno
  /// when the file cannot be opened or locked.
  public init(stateDir: String) throws(StoreError) {
    self.stateDir = stateDir
    var st = stat()
    if stat(stateDir, &st) != 0 { try Environment.makeDirectories(stateDir) }
    let path = StateLayout(stateDir).lockFile
    let fd = edge_open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
    // Said as LMDB's open says it: to the operator the lock file is part of the state.
    if fd < 0 { throw .lmdb(code: edge_errno(), operation: "open the state in \(stateDir)") }
    if edge_ofd_trylock(fd) != 0 {
      let e = edge_errno()
      let pid = StateLock.readPID(fd)
      close(fd)
      if e == EAGAIN || e == EACCES { throw .held(path: stateDir, pid: pid) }
      throw .lmdb(code: e, operation: "lock \(path)")
    }
    let text = Array("\(getpid())\n".utf8)
    let written = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    if ftruncate(fd, off_t(text.count)) != 0 || written != text.count {
      let e = edge_errno()
      close(fd)
      throw .lmdb(code: e == 0 ? EIO : e, operation: "write the lock file \(path)")
    }
    self.fd = fd
  }

  deinit { release() }

  /// Releases the lock now (an init before unmounting the state disk); later calls do nothing.
  public func release() {
    if fd >= 0 { close(fd) }
    fd = -1
  }

  /// The pid of the process holding the lock on `stateDir`, 0 when it is held but the pid is not
  /// written yet, nil when nobody holds it (or there is no lock file). Takes no lock.
  public static func holder(stateDir: String) -> Int32? {
    let fd = edge_open(StateLayout(stateDir).lockFile, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0)
    if fd < 0 { return nil }
    defer { close(fd) }
    guard edge_ofd_held(fd) == 1 else { return nil }
    return readPID(fd)
  }

  /// The decimal pid at the start of the file; 0 when there is none.
  private static func readPID(_ fd: Int32) -> Int32 {
    var buf = [UInt8](repeating: 0, count: 16)
    let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
    var pid: Int32 = 0
    for b in buf.prefix(max(n, 0)) {
      guard b >= 0x30 && b <= 0x39, pid < 100_000_000 else { break }
      pid = pid * 10 + Int32(b - 0x30)
    }
    return pid
  }
}
