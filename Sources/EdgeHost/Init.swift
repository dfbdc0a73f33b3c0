import CEdge
import EdgeCore

/// What an init must do that a service manager need not: the pseudo-filesystems, loopback, and
/// the final poweroff. Used only when the agent is PID 1.

/// Mounts /proc, /sys, /dev (devtmpfs), /run (tmpfs) where nothing is mounted yet. Returns one
/// line per mount done or failed, for the log.
public func mountPseudoFilesystems() -> [String] {
  let table: [(String, String, String, UInt, String)] = [
    ("proc", "/proc", "proc", UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), ""),
    ("sysfs", "/sys", "sysfs", UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), ""),
    ("devtmpfs", "/dev", "devtmpfs", UInt(MS_NOSUID), "mode=0755"),
    ("tmpfs", "/run", "tmpfs", UInt(MS_NOSUID | MS_NODEV), "mode=0755"),
  ]
  var out: [String] = []
  for (source, target, type, flags, data) in table {
    if isMountPoint(target) { continue }
    _ = target.withCString { system_mkdir($0, 0o755) }
    let rc = source.withCString { s in
      target.withCString { t in type.withCString { y in data.withCString { d in system_mount(s, t, y, flags, d) } } }
    }
    out.append(rc == 0 ? "mounted \(type) on \(target)" : "unable to mount \(type) on \(target): \(Errno.current)")
  }
  return out
}

/// A directory is a mount point when its device differs from its parent's.
public func isMountPoint(_ path: String) -> Bool {
  var a = stat(), b = stat()
  guard path.withCString({ system_stat($0, &a) }) == 0, (path + "/..").withCString({ system_stat($0, &b) }) == 0 else {
    return false
  }
  return a.st_dev != b.st_dev || a.st_ino == b.st_ino
}

/// Brings the loopback interface up, as an init does before any service: 127.0.0.1 answers
/// from the first service on. Returns false when it was up already.
/// Errors: socket, ioctl (EPERM without CAP_NET_ADMIN; ENODEV without a loopback device).
/// C: `ioctl(SIOCGIFFLAGS)`, `ioctl(SIOCSIFFLAGS)`
public func bringUpLoopback() throws(HostError) -> Bool {
  let fd = system_socket(AF_INET, Int32(EDGE_SOCK_DGRAM) | Int32(EDGE_SOCK_CLOEXEC), 0)
  guard fd >= 0 else { throw HostError(.current, "open a socket for", "lo") }
  let sock = FileDescriptor(adopting: fd)
  var flags: Int16 = 0
  if system_ifflags(sock.raw, "lo", 0, &flags) != 0 { throw HostError(.current, "read the flags of", "lo") }
  if flags & Int16(IFF_UP) != 0 { return false }
  flags |= Int16(IFF_UP)
  if system_ifflags(sock.raw, "lo", 1, &flags) != 0 { throw HostError(.current, "bring up", "lo") }
  return true
}

/// Flushes every filesystem. C: `sync`
public func syncAll() { system_sync() }

/// Powers off (in a PID namespace, ends the namespace). Returns only on failure. C: `reboot`
public func powerOff() -> Errno {
  _ = system_reboot(Int32(bitPattern: 0x4321FEDC))   // RB_POWER_OFF
  return .current
}

/// Opens /dev/console for fds 0-2 when the kernel started us without them (an initramfs without
/// a console node: then there is nowhere for our output to go until /dev is mounted).
public func attachConsole() {
  var st = stat()
  if system_fstat(1, &st) == 0 { return }
  let fd = system_open("/dev/console", O_RDWR | O_NOCTTY, 0)
  guard fd >= 0 else { return }
  _ = system_dup2(fd, 0); _ = system_dup2(fd, 1); _ = system_dup2(fd, 2)
  if fd > 2 { _ = system_close(fd) }
}

/// Writes one line to the kernel's log at info level (it reaches the console with the kernel's
/// timestamp, so boot milestones line up with the kernel's own). Best effort: no /dev/kmsg, no
/// line. C: `write` to /dev/kmsg
public func kernelLog(_ message: String) {
  let fd = system_open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY, 0)
  guard fd >= 0 else { return }
  let line = "<6>" + message + "\n"
  _ = line.withCString { p in system_write(fd, p, strlen(p)) }
  _ = system_close(fd)
}
