import CEdge
import EdgeCore

/// What an init does before it can open its state: load the drivers of its disks and mount them.
/// A distribution kernel builds virtio_blk and ext4 as modules, and an initramfs has no modprobe
/// and no udev, so the config lists the `.ko` files in dependency order and the devices by path.
/// Used only when the agent is PID 1, before the state is opened; each call blocks.

/// Loads one kernel module from its `.ko` file. A module already loaded (or built in) is not an
/// error. Returns false in that case, true when this call loaded it.
/// Errors: open (ENOENT: no such file), finit_module (ENOEXEC: not a module for this kernel;
/// ENOKEY or EKEYREJECTED: signature refused; EPERM: not allowed in this process).
/// C: `finit_module`
public func loadKernelModule(_ path: String) throws(HostError) -> Bool {
  let f = try FileDescriptor.open(at: AT_FDCWD, path, O_RDONLY)
  switch valueOrErrno({ "".withCString { system_finit_module(f.raw, $0, 0) } }) {
  case .success: return true
  case .failure(let e) where e == .exists: return false
  case .failure(let e): throw HostError(e, "load module", path)
  }
}

/// One filesystem to mount at boot: the config's `mounts` entries.
public struct MountSpec: Sendable, Equatable {
  /// The block device (`/dev/vda`) or, for virtual filesystems, a source name (`tmpfs`).
  public var device: String
  /// Where it goes; created (with its parents) when missing.
  public var path: String
  /// The filesystem type, as mount(2) takes it (`ext4`).
  public var type: String
  /// mount(8)-style options: flags (`ro`, `nosuid`, `noatime`, ...) and the filesystem's own.
  public var options: String
  /// How long to wait for a `/dev` device node to appear (drivers may probe late); 0: not at all.
  public var waitMs: UInt32

  public init(device: String, path: String, type: String, options: String = "", waitMs: UInt32 = 1000) {
    self.device = device
    self.path = path
    self.type = type
    self.options = options
    self.waitMs = waitMs
  }

  /// Splits `options` into mount(2)'s flags and the data string the filesystem parses.
  public var flagsAndData: (UInt, String) {
    var flags: UInt = 0
    var data: [String] = []
    for o in options.utf8.split(separator: UInt8(ascii: ",")) {
      let s = String(decoding: o, as: UTF8.self)
      switch s {
      case "ro": flags |= UInt(MS_RDONLY)
      case "rw": flags &= ~UInt(MS_RDONLY)
      case "nosuid": flags |= UInt(MS_NOSUID)
      case "nodev": flags |= UInt(MS_NODEV)
      case "noexec": flags |= UInt(MS_NOEXEC)
      case "noatime": flags |= UInt(MS_NOATIME)
      case "nodiratime": flags |= UInt(MS_NODIRATIME)
      case "relatime": flags |= UInt(MS_RELATIME)
      case "sync": flags |= UInt(MS_SYNCHRONOUS)
      case "dirsync": flags |= UInt(MS_DIRSYNC)
      default: data.append(s)
      }
    }
    var joined = ""
    for d in data { joined += joined.isEmpty ? d : "," + d }
    return (flags, joined)
  }
}

/// Mounts `m`, creating its mount point. Returns false when something is already mounted there.
/// Waits up to `m.waitMs` for a device path under /dev to exist, polling every 10 ms.
/// Errors: create directory (the mount point), mount (ENOENT or ENXIO: no such device after the
/// wait; ENODEV: the filesystem type is not in the kernel, its module not loaded; EINVAL: not
/// that filesystem, or bad options).
/// C: `mount`
public func mountFilesystem(_ m: MountSpec) throws(HostError) -> Bool {
  try makeDirectories(m.path)
  if isMountPoint(m.path) { return false }
  if m.device.hasPrefix("/dev/") {
    var waited: UInt32 = 0
    var st = stat()
    while m.device.withCString({ system_stat($0, &st) }) != 0 && waited < m.waitMs {
      sleepNanoseconds(10_000_000)
      waited += 10
    }
  }
  let (flags, data) = m.flagsAndData
  let r = m.device.withCString { d in
    m.path.withCString { p in
      m.type.withCString { t in data.withCString { o in valueOrErrno { system_mount(d, p, t, flags, o) } } }
    }
  }
  if case .failure(let e) = r { throw HostError(e, "mount \(m.device) (\(m.type)) on", m.path) }
  return true
}

/// `mkdir -p`: creates `path` and its missing parents (mode 0755).
func makeDirectories(_ path: String) throws(HostError) {
  var prefix = ""
  for part in path.utf8.split(separator: UInt8(ascii: "/")) {
    prefix += "/" + String(decoding: part, as: UTF8.self)
    try makeDirectory(prefix)
  }
}

/// How `unmountFilesystem` left a mount.
public enum UnmountResult: Equatable, Sendable {
  case unmounted
  /// Still busy (a process holds a file open on it): remounted read-only, which also leaves
  /// the filesystem clean for the next mount.
  case remountedReadOnly
  case notMounted
}

/// Unmounts `path` before a poweroff, so that the next boot mounts a clean filesystem (no
/// journal replay); when something still holds it, remounts it read-only instead.
/// Errors: umount and the read-only remount both refused (EBUSY: a file is still open for
/// writing; EPERM: not allowed in this process).
/// C: `umount2`, `mount(MS_REMOUNT | MS_RDONLY)`
public func unmountFilesystem(_ path: String) throws(HostError) -> UnmountResult {
  if !isMountPoint(path) { return .notMounted }
  let r = pathCall(path) { p in system_umount(p) }
  guard case .failure = r else { return .unmounted }
  let flags = UInt(MS_REMOUNT | MS_RDONLY)
  let ro = path.withCString { p in "".withCString { none in valueOrErrno { system_mount(none, p, none, flags, none) } } }
  if case .failure(let e) = ro { throw HostError(e, "unmount or remount read-only", path) }
  return .remountedReadOnly
}

/// What keeps a filesystem busy, for the error when it cannot be unmounted: each process's
/// descriptors, working directory and binary under `mountPoint` ("pid 1 fd 12
/// /var/lib/edgeagent/data.mdb"), at most `limit` of them. Read from /proc at shutdown only.
public func holders(of mountPoint: String, limit: Int = 5) -> [String] {
  var out: [String] = []
  let prefix = mountPoint + "/"
  func under(_ p: String) -> Bool { p == mountPoint || p.hasPrefix(prefix) }
  guard let proc = try? Directory.openRoot("/proc"), let pids = try? proc.entries() else { return out }
  for pid in pids where pid.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
    for link in ["cwd", "exe", "root"] {
      if let t = try? proc.readLink(pid + "/" + link), under(t) { out.append("pid \(pid) \(link) \(t)") }
    }
    guard let fds = try? Directory.openRoot("/proc/" + pid + "/fd"), let names = try? fds.entries() else { continue }
    for n in names {
      if let t = try? fds.readLink(n), under(t) { out.append("pid \(pid) fd \(n) \(t)") }
      if out.count >= limit { return out }
    }
  }
  return out
}
