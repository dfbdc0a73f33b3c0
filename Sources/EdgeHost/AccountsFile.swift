import CEdge
import EdgeCore

/// The users and groups of a managed root, read from its /etc/passwd and /etc/group beneath the
/// root (a symlinked /etc resolves inside it, never to the host's or another tree's). A file
/// that is missing or unreadable counts as empty: numeric ids still resolve, names then do not.
public func readAccounts(root: String) -> Accounts {
  guard let dir = try? Directory.openRoot(root) else { return Accounts(passwd: [], group: []) }
  let passwd = (try? dir.readBeneath("etc/passwd", limit: 16 << 20, followLast: true)) ?? []
  let group = (try? dir.readBeneath("etc/group", limit: 16 << 20, followLast: true)) ?? []
  return Accounts(passwd: passwd, group: group)
}

/// Takes /etc/.pwd.lock beneath the root as the shadow tools' lckpwdf(3) does (an fcntl write
/// lock; an open-file-description lock conflicts with theirs), without waiting: nil when
/// another tool (useradd, passwd, vipw) holds it. Closing the returned fd releases it.
public func lockAccountFiles(_ etc: borrowing Directory) throws(HostError) -> FileDescriptor? {
  let f = try FileDescriptor.open(at: etc.fd.raw, ".pwd.lock", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode: 0o600)
  if edge_ofd_trylock(f.raw) != 0 {
    let e = Errno.current
    if e == .wouldBlock || e == .access { return nil }
    throw HostError(e, "lock", join(etc.path, ".pwd.lock"))
  }
  return f
}
