import CEdge

// The raw calls, one line each: the seam where edgeagent meets the kernel. Callers go through
// `valueOrErrno`, which retries EINTR and turns -1 into an Errno; EBADF and EFAULT mean a bug in
// edgeagent and end it with a message.

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

func system_stat(_ path: UnsafePointer<CChar>, _ st: inout stat) -> CInt { stat(path, &st) }
func system_lstat(_ path: UnsafePointer<CChar>, _ st: inout stat) -> CInt { lstat(path, &st) }
func system_fstatat(_ dir: CInt, _ name: UnsafePointer<CChar>, _ st: inout stat, _ flags: CInt) -> CInt {
  fstatat(dir, name, &st, flags)
}
func system_openat(_ dir: CInt, _ path: UnsafePointer<CChar>, _ flags: CInt, _ mode: mode_t) -> CInt {
  edge_openat(dir, path, flags, mode)
}
func system_openat2(_ dir: CInt, _ path: UnsafePointer<CChar>, _ flags: CInt, _ resolve: UInt64) -> CInt {
  edge_openat2(dir, path, flags, 0, resolve)
}
func system_realpath(_ path: UnsafePointer<CChar>) -> UnsafeMutablePointer<CChar>? { realpath(path, nil) }
func system_close(_ fd: CInt) -> CInt { close(fd) }
func system_read(_ fd: CInt, _ buf: UnsafeMutableRawPointer, _ n: Int) -> Int { read(fd, buf, n) }
func system_write(_ fd: CInt, _ buf: UnsafeRawPointer, _ n: Int) -> Int { write(fd, buf, n) }
func system_fsync(_ fd: CInt) -> CInt { fsync(fd) }
func system_syncfs(_ fd: CInt) -> CInt { edge_syncfs(fd) }
func system_fchmod(_ fd: CInt, _ mode: mode_t) -> CInt { fchmod(fd, mode) }
func system_fchown(_ fd: CInt, _ uid: uid_t, _ gid: gid_t) -> CInt { fchown(fd, uid, gid) }
func system_fchownat(_ dir: CInt, _ name: UnsafePointer<CChar>, _ uid: uid_t, _ gid: gid_t, _ flags: CInt) -> CInt {
  fchownat(dir, name, uid, gid, flags)
}
func system_renameat(_ from: CInt, _ a: UnsafePointer<CChar>, _ to: CInt, _ b: UnsafePointer<CChar>) -> CInt {
  renameat(from, a, to, b)
}
func system_unlinkat(_ dir: CInt, _ name: UnsafePointer<CChar>, _ flags: CInt) -> CInt { unlinkat(dir, name, flags) }
func system_mkdirat(_ dir: CInt, _ name: UnsafePointer<CChar>, _ mode: mode_t) -> CInt { mkdirat(dir, name, mode) }
func system_symlinkat(_ target: UnsafePointer<CChar>, _ dir: CInt, _ name: UnsafePointer<CChar>) -> CInt {
  symlinkat(target, dir, name)
}
func system_readlinkat(_ dir: CInt, _ name: UnsafePointer<CChar>, _ buf: UnsafeMutablePointer<CChar>, _ n: Int) -> Int {
  readlinkat(dir, name, buf, n)
}
func system_finit_module(_ fd: CInt, _ params: UnsafePointer<CChar>, _ flags: CInt) -> CInt {
  edge_finit_module(fd, params, flags)
}
func system_mount(_ source: UnsafePointer<CChar>, _ target: UnsafePointer<CChar>, _ type: UnsafePointer<CChar>,
                  _ flags: UInt, _ data: UnsafePointer<CChar>) -> CInt {
  mount(source, target, type, flags, data)
}
func system_umount(_ target: UnsafePointer<CChar>) -> CInt { umount2(target, 0) }
