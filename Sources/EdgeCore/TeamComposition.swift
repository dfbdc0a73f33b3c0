/// The baseline's promises and the teams' as one plan: who may promise what, and the policy
/// the agent converges to.
///
/// A team's promise is in force under its qualified id, `TEAM/ID`; its `after` may name the
/// baseline's promises as `baseline/ID` (the baseline's ids are not qualified, so a state
/// without teams is as before). An object (a path a promise owns, the file a `line` edits, a
/// sysctl key, a package, a user, a group) has one promiser: the baseline over any team, and
/// between teams the one already in force. Two instructors for one object is the failure
/// Promise Theory warns of; the later bundle is refused naming both.
public struct TeamPolicy: Sendable {
  public var team: String
  public var serial: UInt64
  public var policy: Policy

  public init(team: String, serial: UInt64, policy: Policy) {
    self.team = team
    self.serial = serial
    self.policy = policy
  }
}

/// Where a held team bundle stands beside the baseline in force.
public enum TeamStanding: Equatable, Sendable {
  case inForce
  /// The baseline no longer delegates to the team: its services stop, its files stay, unmanaged.
  case revoked
  /// The baseline still delegates, but the held bundle no longer fits (a narrower scope, a
  /// baseline promise it was after is gone, the baseline now promises one of its objects):
  /// every reason, each naming the promise.
  case suspended([String])

  public var label: String {
    switch self {
    case .inForce: return "in force"
    case .revoked: return "revoked: no longer delegated; its files are left in place, unmanaged, its services stopped"
    case .suspended(let why): return "suspended: " + (why.first ?? "") + (why.count > 1 ? " (and \(why.count - 1) more)" : "")
    }
  }
}

/// The policy to converge to, and where each held team stands.
public struct Composition: Sendable {
  public var policy: Policy
  public var teams: [(team: String, serial: UInt64, standing: TeamStanding)]
}

public enum TeamComposition {
  /// Every reason `t` may not be in force beside the objects `claims` holds: a promise outside
  /// the delegated scope, an `after` naming a promise the baseline does not have, an object
  /// another bundle promises, a path through a link the plan makes. Empty: it may.
  static func problems(_ t: TeamPolicy, scope: TeamScope, baseline: Policy, claims: Claims) -> [String] {
    var out: [String] = []
    var baselineIDs = Set<String>()
    for p in baseline.promises { baselineIDs.insert(p.id) }
    for p in t.policy.promises {
      let name = "promise \"\(t.team)/\(p.id)\"" + (p.position.line > 0 ? " (\(p.position))" : "")
      if let why = scope.problem(p) { out.append(name + ": " + why) }
      for a in p.after where a.utf8.contains(UInt8(ascii: "/")) {
        let id = String(a.dropFirst(Delegation.baselineName.utf8.count + 1))
        if !baselineIDs.contains(id) { out.append(name + ": \"after\" names \"\(a)\", which the baseline in force does not have") }
      }
      if let key = Claims.object(p), let holder = claims.holder[key] {
        out.append(name + ": " + Claims.describe(key) + " is already promised by " + holder)
      }
      // A scope is a set of paths, not what symlinks inside it point to: a link the plan makes
      // at /opt/payments/d -> /etc would carry /opt/payments/d/passwd out of it. Links above
      // the scope (/opt -> /data/opt) are the platform's layout, not the team's to use.
      if p.type.managesPath, let link = claims.linkAbove(p.path, within: scope.paths) {
        out.append(name + ": path \"\(p.path)\" passes through the link \"\(link.path)\" (\(link.holder)): a team's path is reached through no symlink")
      }
    }
    return out
  }

  /// The baseline's promises, then each team's in force (in name order, `last` after the
  /// others: a team's new bundle is checked against the teams already in force) with qualified
  /// ids. Each team is checked against the baseline's delegations as they are now: dropped
  /// from the plan when revoked, suspended when it does not fit.
  public static func compose(baseline: Policy, delegations: [Delegation], teams: [TeamPolicy], last: String? = nil) -> Composition {
    var policy = baseline
    var standings: [(team: String, serial: UInt64, standing: TeamStanding)] = []
    var claims = Claims()
    claims.add(baseline, team: nil)
    for t in teams { claims.add(t.policy, team: t.team, linksOnly: true) }
    var sorted = teams
    sorted.sort { ($0.team == last ? 1 : 0, $0.team) < ($1.team == last ? 1 : 0, $1.team) }
    var promises = baseline.promises
    for t in sorted {
      guard let d = delegations.first(where: { $0.team == t.team }) else {
        standings.append((t.team, t.serial, .revoked))
        continue
      }
      let issues = problems(t, scope: d.scope, baseline: baseline, claims: claims)
      if !issues.isEmpty {
        standings.append((t.team, t.serial, .suspended(issues)))
        continue
      }
      claims.add(t.policy, team: t.team)
      for p in t.policy.promises { promises.append(qualified(p, team: t.team, scope: d.scope.paths)) }
      standings.append((t.team, t.serial, .inForce))
    }
    if promises.count != baseline.promises.count { policy.promises = promises }
    return Composition(policy: policy, teams: standings)
  }

  /// `p` as it runs in the composed plan: `TEAM/ID`, its own references qualified, its
  /// `baseline/ID` ones made the baseline's plain ids.
  static func qualified(_ p: Promise, team: String, scope: [String]) -> Promise {
    var q = p
    q.id = team + "/" + p.id
    if p.type.managesPath {
      // The deepest scope path that holds it (a scope may list /opt/payments and /opt/payments/data).
      for s in scope where TeamScope.holdsPath([s], p.path) && s.utf8.count > q.confine.utf8.count + 1 { q.confine = String(s.dropFirst()) }
    }
    let prefix = Delegation.baselineName + "/"
    q.after = p.after.map { $0.hasPrefix(prefix) ? String($0.dropFirst(prefix.utf8.count)) : team + "/" + $0 }
    q.notify = p.notify.map { team + "/" + $0 }
    return q
  }

  /// The team a composed promise id belongs to (`payments/api` -> payments), nil for the baseline's.
  public static func team(of id: String) -> Substring? {
    guard let slash = id.utf8.firstIndex(of: UInt8(ascii: "/")) else { return nil }
    return id[..<slash]
  }
}

/// Who promises each object so far: "the baseline (\"app-conf\")" or "team \"web\" (\"web/conf\")".
struct Claims {
  var holder: [String: String] = [:]
  /// Every path a `link` promise of any bundle makes, with its promiser.
  var links: [String: String] = [:]

  mutating func add(_ policy: Policy, team: String?, linksOnly: Bool = false) {
    for p in policy.promises {
      let who = team.map { "team \"\($0)\" (\"\($0)/\(p.id)\")" } ?? "the baseline (\"\(p.id)\")"
      if p.type == .link && !p.absent && links[p.path] == nil { links[p.path] = who }
      if linksOnly { continue }
      guard let key = Claims.object(p), holder[key] == nil else { continue }
      holder[key] = who
    }
  }

  /// The nearest ancestor of `path` inside `scope` that a link promise makes, if any.
  func linkAbove(_ path: String, within scope: [String]) -> (path: String, holder: String)? {
    if links.isEmpty { return nil }
    var a = parentPath(path)
    while a != "/" && TeamScope.holdsPath(scope, a) {
      if let who = links[a] { return (a, who) }
      a = parentPath(a)
    }
    return nil
  }

  /// The object a promise holds, as one key; nil for a command or a service (their ids are
  /// qualified by team, so two teams' never meet). A `line` edit claims its file: one bundle
  /// edits a file, or owns it.
  static func object(_ p: Promise) -> String? {
    switch p.type {
    case .file, .directory, .link, .template, .line: return "path\u{0}" + p.path
    case .sysctl: return "sysctl\u{0}" + p.key
    case .package: return "package\u{0}" + (p.package?.name ?? "")
    case .user: return "user\u{0}" + (p.account?.name ?? "")
    case .group: return "group\u{0}" + (p.account?.name ?? "")
    case .command, .service: return nil
    }
  }

  static func describe(_ key: String) -> String {
    guard let nul = key.utf8.firstIndex(of: 0) else { return key }
    let kind = key[..<nul]
    let name = key[key.utf8.index(after: nul)...]
    return "\(kind) \"\(name)\""
  }
}
