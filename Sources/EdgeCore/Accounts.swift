/// Users and groups of the managed root, parsed from its /etc/passwd and /etc/group text. Not
/// NSS: a static binary has none, and `--root` must mean that root's users, not the agent's host.
public struct Accounts: Sendable {
  var users: [String: UInt32] = [:]
  var groups: [String: UInt32] = [:]
  /// The primary group of each user, for an `owner` without a `group`.
  var primaryGroup: [String: UInt32] = [:]
  /// The first user name of each uid, so that a numeric `user` listed in passwd still has a
  /// primary group and memberships.
  var nameOfUID: [UInt32: String] = [:]
  /// The groups each user is a listed member of (the fourth field of /etc/group), in file order.
  var memberships: [String: [UInt32]] = [:]

  public init(passwd: [UInt8], group: [UInt8]) {
    for fields in Accounts.records(passwd) where fields.count >= 4 {
      if let uid = UInt32(fields[2]), let gid = UInt32(fields[3]) {
        if users[fields[0]] == nil { users[fields[0]] = uid; primaryGroup[fields[0]] = gid }
        if nameOfUID[uid] == nil { nameOfUID[uid] = fields[0] }
      }
    }
    for fields in Accounts.records(group) where fields.count >= 3 {
      guard let gid = UInt32(fields[2]) else { continue }
      if groups[fields[0]] == nil { groups[fields[0]] = gid }
      if fields.count >= 4 {
        for member in fields[3].utf8.split(separator: UInt8(ascii: ",")) {
          let name = String(decoding: member, as: UTF8.self)
          if !(memberships[name]?.contains(gid) ?? false) { memberships[name, default: []].append(gid) }
        }
      }
    }
  }

  public init() {}

  /// A user name's uid, or the number itself for a numeric name.
  public func uid(_ name: String) -> UInt32? { users[name] ?? UInt32(name) }
  public func gid(_ name: String) -> UInt32? { groups[name] ?? UInt32(name) }
  public func primaryGid(_ user: String) -> UInt32? { primaryGroup[user] }
  /// The passwd name of a user given by name or number; nil when passwd does not list it.
  public func passwdName(_ user: String) -> String? {
    if users[user] != nil { return user }
    return UInt32(user).flatMap { nameOfUID[$0] }
  }
  /// The groups a user is a listed member of in /etc/group (not its primary group).
  public func memberGids(_ user: String) -> [UInt32] { memberships[user] ?? [] }

  /// Colon-separated records, one per line; comments and blank lines skipped.
  static func records(_ text: [UInt8]) -> [[String]] {
    var out: [[String]] = []
    for line in text.split(separator: UInt8(ascii: "\n")) {
      if line.first == UInt8(ascii: "#") { continue }
      out.append(line.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false).map {
        String(decoding: $0, as: UTF8.self)
      })
    }
    return out
  }
}
