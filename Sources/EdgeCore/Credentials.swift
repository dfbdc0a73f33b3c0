/// Who a service (and its health probes) runs as: the uid, the gid and the supplementary groups,
/// resolved once from its `user` and `group` against the managed root's passwd and group files.
/// A child changes all three or none: keeping the agent's gid 0 or its supplementary groups
/// under another uid would leave it root's group rights.
public struct Credentials: Sendable, Equatable {
  /// nil: keep the agent's uid (a `group` without a `user`).
  public var uid: UInt32?
  public var gid: UInt32
  /// Set with setgroups; empty drops them all.
  public var groups: [UInt32]

  public init(uid: UInt32?, gid: UInt32, groups: [UInt32]) {
    self.uid = uid
    self.gid = gid
    self.groups = groups
  }

  /// The credentials for `user` and `group`; nil when both are nil (the service runs as the
  /// agent). A user's gid is `group`, else its primary group in passwd; a user passwd does not
  /// list (a bare number) has none, so it needs `group`. Supplementary groups are the user's
  /// memberships in /etc/group, or none.
  public static func resolve(user: String?, group: String?, in accounts: Accounts) throws(CredentialsError) -> Credentials? {
    if user == nil && group == nil { return nil }
    var gid: UInt32? = nil
    if let group {
      guard let g = accounts.gid(group) else { throw CredentialsError("group", "unknown group \"\(group)\" (not in etc/group)") }
      gid = g
    }
    guard let user else { return Credentials(uid: nil, gid: gid!, groups: []) }
    guard let uid = accounts.uid(user) else { throw CredentialsError("user", "unknown user \"\(user)\" (not in etc/passwd)") }
    let name = accounts.passwdName(user)
    if gid == nil, let name { gid = accounts.primaryGid(name) }
    guard let gid else {
      throw CredentialsError("user", "user \"\(user)\" is not in etc/passwd, so it has no primary group: set \"group\"")
    }
    return Credentials(uid: uid, gid: gid, groups: name.map { accounts.memberGids($0) } ?? [])
  }
}

/// Why a service's `user` or `group` does not resolve; `key` names the policy key at fault.
public struct CredentialsError: Error, Equatable, Sendable, CustomStringConvertible {
  public let key: String
  public let message: String
  public init(_ key: String, _ message: String) {
    self.key = key
    self.message = message
  }
  public var description: String { "\(key): \(message)" }
}
