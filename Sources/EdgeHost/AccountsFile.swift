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
