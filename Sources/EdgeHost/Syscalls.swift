import CEdge
import CEdgeSupport

// The raw calls, one line each: the seam where edgeagent meets the kernel. Callers go through
// `valueOrErrno`, which retries EINTR and turns -1 into an Errno; EBADF and EFAULT mean a bug in
// edgeagent and end it with a message. Each call that can fail goes through `mock`, where a test
// build can make it fail with an errno (Mocking.swift); elsewhere `mock` is the call itself.
// Those calls and close are counted per thread (`syscallCount`): `bench` gates the counts.

/// `valueOrErrno(call)` with `s` as a NUL-terminated C string: one copy of String's C-string
/// path for the syscalls that take one name. Through `withCString` at each site, the optimizer
/// cloned that path for every call (33 clones, 5.6 KB of the aarch64 binary).
@inline(never)
func pathCall(_ s: String, _ call: (UnsafePointer<CChar>) -> Int32) -> Result<Int32, Errno> {
  s.withCString { p in valueOrErrno { call(p) } }
}

/// `pathCall` for the syscalls that take two names (rename, symlink).
@inline(never)
func pathCall(_ a: String, _ b: String, _ call: (UnsafePointer<CChar>, UnsafePointer<CChar>) -> Int32) -> Result<Int32, Errno> {
  a.withCString { pa in b.withCString { pb in valueOrErrno { call(pa, pb) } } }
}

@inline(__always)
func valueOrErrno<T: FixedWidthInteger>(retryOnInterrupt: Bool = true, _ call: () -> T) -> Result<T, Errno> {
  while true {
    let r = call()
    if r != -1 { return .success(r) }
    let e = Errno.current
    if e == .interrupted && retryOnInterrupt { continue }
    if e == .badFile || e == .fault { die("syscall failed with \(e): this is a bug in edgeagent") }
    return .failure(e)
  }
}

/// Notes a call made (and whether it failed) for `syscallCount`.
@inline(__always)
func counted<T: FixedWidthInteger>(_ r: T) -> T {
  edge_syscall_note(r == -1 ? 1 : 0)
  return r
}

@inline(__always)
func counted<P>(_ r: P?) -> P? {
  edge_syscall_note(r == nil ? 1 : 0)
  return r
}

func system_stat(_ path: UnsafePointer<CChar>, _ st: inout stat) -> CInt { mock(.stat) { stat(path, &st) } }
func system_lstat(_ path: UnsafePointer<CChar>, _ st: inout stat) -> CInt { mock(.lstat) { lstat(path, &st) } }
func system_fstatat(_ dir: CInt, _ name: UnsafePointer<CChar>, _ st: inout stat, _ flags: CInt) -> CInt {
  mock(.fstatat) { fstatat(dir, name, &st, flags) }
}
func system_openat(_ dir: CInt, _ path: UnsafePointer<CChar>, _ flags: CInt, _ mode: mode_t) -> CInt {
  mock(.openat) { edge_openat(dir, path, flags, mode) }
}
func system_openat2(_ dir: CInt, _ path: UnsafePointer<CChar>, _ flags: CInt, _ resolve: UInt64) -> CInt {
  mock(.openat2) { edge_openat2(dir, path, flags, 0, resolve) }
}
func system_realpath(_ path: UnsafePointer<CChar>) -> UnsafeMutablePointer<CChar>? { realpath(path, nil) }
func system_close(_ fd: CInt) -> CInt { counted(close(fd)) }
func system_read(_ fd: CInt, _ buf: UnsafeMutableRawPointer, _ n: Int) -> Int { mock(.read) { read(fd, buf, n) } }
func system_write(_ fd: CInt, _ buf: UnsafeRawPointer, _ n: Int) -> Int { mock(.write) { write(fd, buf, n) } }
func system_fsync(_ fd: CInt) -> CInt { mock(.fsync) { fsync(fd) } }
func system_syncfs(_ fd: CInt) -> CInt { mock(.syncfs) { edge_syncfs(fd) } }
func system_fchmod(_ fd: CInt, _ mode: mode_t) -> CInt { mock(.fchmod) { fchmod(fd, mode) } }
func system_fchown(_ fd: CInt, _ uid: uid_t, _ gid: gid_t) -> CInt { mock(.fchown) { fchown(fd, uid, gid) } }
func system_fchownat(_ dir: CInt, _ name: UnsafePointer<CChar>, _ uid: uid_t, _ gid: gid_t, _ flags: CInt) -> CInt {
  mock(.fchownat) { fchownat(dir, name, uid, gid, flags) }
}
func system_renameat(_ from: CInt, _ a: UnsafePointer<CChar>, _ to: CInt, _ b: UnsafePointer<CChar>) -> CInt {
  mock(.renameat) { renameat(from, a, to, b) }
}
func system_unlinkat(_ dir: CInt, _ name: UnsafePointer<CChar>, _ flags: CInt) -> CInt { mock(.unlinkat) { unlinkat(dir, name, flags) } }
func system_mkdirat(_ dir: CInt, _ name: UnsafePointer<CChar>, _ mode: mode_t) -> CInt { mock(.mkdirat) { mkdirat(dir, name, mode) } }
func system_symlinkat(_ target: UnsafePointer<CChar>, _ dir: CInt, _ name: UnsafePointer<CChar>) -> CInt {
  mock(.symlinkat) { symlinkat(target, dir, name) }
}
func system_readlinkat(_ dir: CInt, _ name: UnsafePointer<CChar>, _ buf: UnsafeMutablePointer<CChar>, _ n: Int) -> Int {
  mock(.readlinkat) { readlinkat(dir, name, buf, n) }
}
func system_finit_module(_ fd: CInt, _ params: UnsafePointer<CChar>, _ flags: CInt) -> CInt {
  mock(.finitModule) { edge_finit_module(fd, params, flags) }
}
func system_mount(_ source: UnsafePointer<CChar>, _ target: UnsafePointer<CChar>, _ type: UnsafePointer<CChar>,
                  _ flags: UInt, _ data: UnsafePointer<CChar>) -> CInt {
  mock(.mount) { mount(source, target, type, flags, data) }
}
func system_umount(_ target: UnsafePointer<CChar>) -> CInt { mock(.umount) { umount2(target, 0) } }
func system_open(_ path: UnsafePointer<CChar>, _ flags: CInt, _ mode: mode_t) -> CInt { mock(.open) { edge_open(path, flags, mode) } }
func system_fstat(_ fd: CInt, _ st: inout stat) -> CInt { mock(.fstat) { fstat(fd, &st) } }
func system_mkdir(_ path: UnsafePointer<CChar>, _ mode: mode_t) -> CInt { mock(.mkdir) { mkdir(path, mode) } }
func system_dup2(_ fd: CInt, _ to: CInt) -> CInt { dup2(fd, to) }
func system_pipe2(_ fds: UnsafeMutablePointer<CInt>, _ flags: CInt) -> CInt { edge_pipe2(fds, flags) }
func system_poll(_ fds: UnsafeMutablePointer<pollfd>, _ n: Int, _ timeoutMs: CInt) -> CInt { poll(fds, nfds_t(n), timeoutMs) }
func system_pidfd_open(_ pid: pid_t) -> CInt { edge_pidfd_open(pid) }
func system_waitpid(_ pid: pid_t, _ status: inout CInt, _ options: CInt) -> pid_t { waitpid(pid, &status, options) }
func system_kill(_ pid: pid_t, _ signal: CInt) -> CInt { kill(pid, signal) }
func system_socket(_ domain: CInt, _ type: CInt, _ proto: CInt) -> CInt { socket(domain, type, proto) }
func system_ifflags(_ fd: CInt, _ name: UnsafePointer<CChar>, _ set: CInt, _ flags: inout Int16) -> CInt {
  edge_ifflags(fd, name, set, &flags)
}
func system_sync() { sync() }
func system_reboot(_ how: CInt) -> CInt { reboot(how) }
func system_mkdtemp(_ template: UnsafeMutablePointer<CChar>) -> UnsafeMutablePointer<CChar>? { mock(.mkdtemp) { mkdtemp(template) } }
func system_getrlimit(_ resource: CInt, _ rl: inout rlimit) -> CInt { edge_getrlimit(resource, &rl) }
func system_setrlimit(_ resource: CInt, _ rl: inout rlimit) -> CInt { edge_setrlimit(resource, &rl) }
func system_getrusage_self(_ ru: inout rusage) -> CInt { getrusage(0, &ru) }   // RUSAGE_SELF; its enum type differs between arches
func system_getenv(_ name: UnsafePointer<CChar>) -> UnsafeMutablePointer<CChar>? { getenv(name) }
func system_nanosleep(_ ts: inout timespec, _ left: inout timespec) -> CInt { nanosleep(&ts, &left) }
func system_sendto(_ fd: CInt, _ buf: UnsafeRawPointer, _ n: Int, _ flags: CInt, _ addr: UnsafePointer<sockaddr>,
                   _ length: socklen_t) -> Int {
  sendto(fd, buf, n, flags, addr, length)
}
func system_prctl(_ option: CInt, _ arg: UInt) -> CInt { edge_prctl(option, arg) }
func system_fcntl(_ fd: CInt, _ cmd: CInt, _ arg: CInt) -> CInt { edge_fcntl_int(fd, cmd, arg) }
