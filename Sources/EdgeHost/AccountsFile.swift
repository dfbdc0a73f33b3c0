import EdgeCore

/// The users and groups of a managed root, read from its /etc/passwd and /etc/group. A file that
/// is missing or unreadable counts as empty: numeric ids still resolve, names then do not.
public func readAccounts(root: String) -> Accounts {
  let passwd = (try? readWholeFile(join(root, "etc/passwd"), limit: 16 << 20)) ?? []
  let group = (try? readWholeFile(join(root, "etc/group"), limit: 16 << 20)) ?? []
  return Accounts(passwd: passwd, group: group)
}
