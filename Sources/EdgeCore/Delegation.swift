/// What a baseline bundle hands to a team (its `delegations` key): the team's name, the keys
/// that sign its bundles, and the scope its promises must stay inside.
///
/// ```
/// "delegations": [{"team": "payments", "keys": ["<64 hex>"],
///                  "scope": {"paths": ["/opt/payments"], "services": ["api", "worker-*"],
///                            "sysctls": ["net.core.somaxconn"], "packages": ["libpq5"],
///                            "users": ["payments"], "groups": ["payments"], "commands": false}}]
/// ```
/// Only a bundle signed by a trusted (root) key may delegate: a team bundle that carries
/// `delegations` is refused when decoded. A path in scope is a whole-component prefix
/// (`/opt/payments` holds `/opt/payments/x`, not `/opt/payments-old`); a name ending in `*`
/// is a prefix of names; a sysctl `net.ipv4.*` holds every key under `net.ipv4.`. A `command`
/// promise runs anything as root: a team may make one only when its scope says `commands`.
public struct Delegation: Equatable, Sendable {
  public var team: String
  /// 32-byte Ed25519 public keys.
  public var keys: [[UInt8]]
  public var scope: TeamScope

  public init(team: String, keys: [[UInt8]], scope: TeamScope) {
    self.team = team
    self.keys = keys
    self.scope = scope
  }

  /// A team's name qualifies its promise ids (`payments/api`) and names its directory
  /// (`teams/payments/`): 1 to 64 of lower-case letters, digits, `-` and `_`, starting with a
  /// letter; `baseline` is the baseline's.
  public static func nameProblem(_ s: String) -> String? {
    let u = s.utf8
    guard let first = u.first, u.count <= 64, first >= 0x61 && first <= 0x7A else {
      return "team name \"\(s)\" must be 1 to 64 characters starting with a lower-case letter"
    }
    for c in u where !((c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_")) {
      return "team name \"\(s)\" may hold only lower-case letters, digits, - and _"
    }
    if s == baselineName { return "\"baseline\" names the baseline, not a team" }
    return nil
  }

  public func write(_ w: inout JSONWriter) {
    w.beginObject()
    w.member("team", team)
    w.key("keys")
    w.beginArray()
    for k in keys { w.string(Hex.encode(k)) }
    w.endArray()
    w.key("scope")
    scope.write(&w)
    w.endObject()
  }

  /// The prefix by which a team's promise names a baseline promise in `after`.
  public static let baselineName = "baseline"

  /// Decodes the `delegations` member of a bundle; errors name the key and its line:column.
  public static func decodeList(_ v: JSONNode) throws(BundleFormatError) -> [Delegation] {
    guard let list = v.array else { throw BundleFormatError("key \"delegations\": expected an array of {team, keys, scope}", at: v.position) }
    var out: [Delegation] = []
    for item in list {
      let d = try decode(item)
      if out.contains(where: { $0.team == d.team }) {
        throw BundleFormatError("key \"delegations\": team \"\(d.team)\" is delegated twice", at: item.position)
      }
      out.append(d)
    }
    return out
  }

  static func decode(_ v: JSONNode) throws(BundleFormatError) -> Delegation {
    guard let members = v.members else { throw BundleFormatError("key \"delegations\": expected an object {team, keys, scope}, found \(v.typeName)", at: v.position) }
    var team: String? = nil
    var keys: [[UInt8]] = []
    var scope: TeamScope? = nil
    for m in members {
      switch m.key {
      case "team":
        guard let s = m.value.string else { throw BundleFormatError("key \"delegations.team\": expected a string", at: m.value.position) }
        if let p = nameProblem(s) { throw BundleFormatError("key \"delegations.team\": " + p, at: m.value.position) }
        team = s
      case "keys":
        guard let list = m.value.array, !list.isEmpty else {
          throw BundleFormatError("key \"delegations.keys\": expected a non-empty array of public keys (64 hex digits)", at: m.value.position)
        }
        for k in list {
          guard let s = k.string, let bytes = Hex.decode(s), bytes.count == 32 else {
            throw BundleFormatError("key \"delegations.keys\": expected a public key as 64 hex digits", at: k.position)
          }
          keys.append(bytes)
        }
      case "scope":
        scope = try TeamScope.decode(m.value)
      case "comment":
        break
      default:
        throw BundleFormatError("key \"delegations\": unknown key \"\(m.key)\" (allowed: team, keys, scope, comment)", at: m.keyPosition)
      }
    }
    guard let team else { throw BundleFormatError("key \"delegations\": missing \"team\"", at: v.position) }
    if keys.isEmpty { throw BundleFormatError("key \"delegations\": team \"\(team)\" has no \"keys\"", at: v.position) }
    guard let scope else { throw BundleFormatError("key \"delegations\": team \"\(team)\" has no \"scope\"", at: v.position) }
    return Delegation(team: team, keys: keys, scope: scope)
  }
}

/// The objects a team may promise (see `Delegation`).
public struct TeamScope: Equatable, Sendable {
  public var paths: [String] = []
  public var services: [String] = []
  public var sysctls: [String] = []
  public var packages: [String] = []
  public var users: [String] = []
  public var groups: [String] = []
  public var commands = false

  public init() {}

  static func decode(_ v: JSONNode) throws(BundleFormatError) -> TeamScope {
    guard let members = v.members else { throw BundleFormatError("key \"scope\": expected an object", at: v.position) }
    var s = TeamScope()
    for m in members {
      if m.key == "commands" {
        guard let b = m.value.bool else { throw BundleFormatError("key \"scope.commands\": expected true or false", at: m.value.position) }
        s.commands = b
        continue
      }
      guard ["paths", "services", "sysctls", "packages", "users", "groups"].contains(m.key) else {
        throw BundleFormatError("key \"scope\": unknown key \"\(m.key)\" (allowed: paths, services, sysctls, packages, users, groups, commands)", at: m.keyPosition)
      }
      guard let list = m.value.array else { throw BundleFormatError("key \"scope.\(m.key)\": expected an array of strings", at: m.value.position) }
      var items: [String] = []
      for item in list {
        guard let text = item.string, !text.isEmpty else { throw BundleFormatError("key \"scope.\(m.key)\": expected a non-empty string", at: item.position) }
        if m.key == "paths", let p = pathProblem(text) { throw BundleFormatError("key \"scope.paths\": " + p, at: item.position) }
        items.append(text)
      }
      switch m.key {
      case "paths": s.paths = items
      case "services": s.services = items
      case "sysctls": s.sysctls = items
      case "packages": s.packages = items
      case "users": s.users = items
      default: s.groups = items
      }
    }
    return s
  }

  /// Why `p` (a team's promise, its id not yet qualified) is outside this scope; nil when inside.
  public func problem(_ p: Promise) -> String? {
    switch p.type {
    case .file, .directory, .link, .template, .line:
      if TeamScope.holdsPath(paths, p.path) { return nil }
      return "path \"\(p.path)\" is outside the team's scope (paths: \(TeamScope.listed(paths)))"
    case .service:
      if TeamScope.holdsName(services, p.id) { return nil }
      return "service \"\(p.id)\" is outside the team's scope (services: \(TeamScope.listed(services)))"
    case .sysctl:
      if TeamScope.holdsSysctl(sysctls, p.key) { return nil }
      return "sysctl \"\(p.key)\" is outside the team's scope (sysctls: \(TeamScope.listed(sysctls)))"
    case .package:
      let name = p.package?.name ?? ""
      if TeamScope.holdsName(packages, name) { return nil }
      return "package \"\(name)\" is outside the team's scope (packages: \(TeamScope.listed(packages)))"
    case .user:
      let name = p.account?.name ?? ""
      if TeamScope.holdsName(users, name) { return nil }
      return "user \"\(name)\" is outside the team's scope (users: \(TeamScope.listed(users)))"
    case .group:
      let name = p.account?.name ?? ""
      if TeamScope.holdsName(groups, name) { return nil }
      return "group \"\(name)\" is outside the team's scope (groups: \(TeamScope.listed(groups)))"
    case .command:
      if commands { return nil }
      return "a command runs anything as root: the team's scope does not allow commands"
    }
  }

  /// Whole components: `/opt/payments` holds itself and `/opt/payments/…`, never
  /// `/opt/payments-old`. Paths are already normalised (no `.`, `..`, `//`; PathRules.swift).
  public static func holdsPath(_ prefixes: [String], _ path: String) -> Bool {
    for prefix in prefixes {
      if prefix == "/" || path == prefix { return true }
      if path.utf8.count > prefix.utf8.count && path.hasPrefix(prefix)
        && path.utf8[path.utf8.index(path.utf8.startIndex, offsetBy: prefix.utf8.count)] == UInt8(ascii: "/") {
        return true
      }
    }
    return false
  }

  /// An exact name, or a prefix when the entry ends in `*`.
  public static func holdsName(_ entries: [String], _ name: String) -> Bool { holds(entries, name, wildcard: "*") }

  /// An exact key, or `a.b.*`: every key below `a.b.` (whole components again).
  public static func holdsSysctl(_ entries: [String], _ key: String) -> Bool { holds(entries, key, wildcard: ".*") }

  static func holds(_ entries: [String], _ name: String, wildcard: String) -> Bool {
    for e in entries {
      if e == name || (e.hasSuffix(wildcard) && name.hasPrefix(String(e.dropLast()))) { return true }
    }
    return false
  }

  static func listed(_ items: [String]) -> String {
    if items.isEmpty { return "none" }
    var s = ""
    for i in items { s += (s.isEmpty ? "" : ", ") + i }
    return s
  }

  public func write(_ w: inout JSONWriter) {
    w.beginObject()
    for (k, list) in [("paths", paths), ("services", services), ("sysctls", sysctls), ("packages", packages), ("users", users), ("groups", groups)]
      where !list.isEmpty {
      w.key(k)
      w.beginArray()
      for i in list { w.string(i) }
      w.endArray()
    }
    if commands { w.member("commands", true) }
    w.endObject()
  }
}
