/// `user` and `group` promises' edits of a root's account files (passwd, group, shadow, gshadow),
/// as text: the records the promise owns are added, changed or removed, and every other line
/// (comments, NIS `+`/`-` lines, odd spacing, the order) stays byte for byte. Pure: the caller
/// reads the files beneath the root, compares, and writes back what changed (AccountPromise).
///
/// A uid or gid already held by another name is refused naming both; ids not given are the
/// first free from 1000, as useradd gives them; a new user without `group` gets a group of its
/// own name (useradd's USERGROUPS_ENAB). `groups`, when given, is the whole list of the user's
/// supplementary groups: it is added to those and taken out of the others.
public final class AccountSpec: Sendable {
  public let name: String
  /// uid (user) or gid (group); nil: kept as it is, or the first free for a new one.
  public let id: UInt32?
  /// user: supplementary groups, exactly; nil leaves memberships alone.
  public let groups: [String]?
  /// user: nil keeps the present value (a new user: /home/NAME, /bin/sh, "").
  public let home: String?
  public let shell: String?
  public let gecos: String?
  /// user: a crypt(3) hash or a lock ("!", "*"); nil leaves it (a new user is locked).
  public let password: String?

  public init(name: String, id: UInt32? = nil, groups: [String]? = nil, home: String? = nil, shell: String? = nil,
              gecos: String? = nil, password: String? = nil) {
    self.name = name
    self.id = id
    self.groups = groups
    self.home = home
    self.shell = shell
    self.gecos = gecos
    self.password = password
  }

  /// The spec's bytes, for the digest that stands for "this account" in the stat cache.
  public var identity: [UInt8] {
    var b = Array(name.utf8)
    for part in [id.map { String($0) } ?? "-", home ?? "\u{1}", shell ?? "\u{1}", gecos ?? "\u{1}", password ?? "\u{1}"] {
      b.append(0)
      b.append(contentsOf: part.utf8)
    }
    for g in groups ?? ["\u{1}"] {
      b.append(0)
      b.append(contentsOf: g.utf8)
    }
    return b
  }
}

/// The four files, as read (nil: the root has no such file, and none is made).
public struct AccountFiles: Equatable, Sendable {
  public var passwd: [UInt8]
  public var group: [UInt8]
  public var shadow: [UInt8]?
  public var gshadow: [UInt8]?

  public init(passwd: [UInt8], group: [UInt8], shadow: [UInt8]?, gshadow: [UInt8]?) {
    self.passwd = passwd
    self.group = group
    self.shadow = shadow
    self.gshadow = gshadow
  }
}

public enum AccountEdit {
  /// A group present (with `spec.id` as its gid, when given) or absent. Returns the problem
  /// that stops it, if any (the files are then as they were).
  public static func group(_ f: inout AccountFiles, _ spec: AccountSpec, absent: Bool) -> String? {
    var group = Records(f.group)
    let at = group.index(of: spec.name)
    if absent {
      guard let at else { return nil }
      let gid = group.field(at, 2)
      for u in Records(f.passwd).all where u.count > 3 && u[3] == gid {
        return "group \"\(spec.name)\" is the primary group of user \"\(u[0])\""
      }
      group.remove(at)
      f.group = group.text
      if let gs = f.gshadow { f.gshadow = Records(gs).removing(spec.name) }
      return nil
    }
    if let gid = spec.id, let other = group.owner(ofID: gid, field: 2), other != spec.name {
      return "gid \(gid) is already group \"\(other)\"'s: not given to \"\(spec.name)\""
    }
    if let at {
      if let gid = spec.id { group.set(at, 2, String(gid)) }
    } else {
      let gid = spec.id ?? group.firstFree(field: 2)
      group.append(spec.name + ":x:" + String(gid) + ":")
      if let gs = f.gshadow {
        var g = Records(gs)
        if g.index(of: spec.name) == nil { g.append(spec.name + ":!::") }
        f.gshadow = g.text
      }
    }
    f.group = group.text
    return nil
  }

  /// A user present or absent; `primary` is the `group` key (a name or a number), `today` the
  /// days since the epoch for a new shadow record.
  public static func user(_ f: inout AccountFiles, _ spec: AccountSpec, primary: String?, absent: Bool, today: Int) -> String? {
    var passwd = Records(f.passwd)
    let at = passwd.index(of: spec.name)
    if absent {
      if let at { passwd.remove(at) }
      f.passwd = passwd.text
      if let s = f.shadow { f.shadow = Records(s).removing(spec.name) }
      setMemberships(&f, spec.name, in: [])
      return nil
    }
    if let uid = spec.id, let other = passwd.owner(ofID: uid, field: 2), other != spec.name {
      return "uid \(uid) is already user \"\(other)\"'s: not given to \"\(spec.name)\""
    }
    var group = Records(f.group)
    var gid: String? = nil
    if let primary {
      if UInt32(primary) != nil {
        gid = primary
      } else if let g = group.index(of: primary) {
        gid = group.field(g, 2)
      } else {
        return "primary group \"\(primary)\" does not exist (promise it with a group promise)"
      }
    }
    if let groups = spec.groups {
      for g in groups where group.index(of: g) == nil { return "group \"\(g)\" does not exist (promise it with a group promise)" }
    }
    if let at {
      if let uid = spec.id { passwd.set(at, 2, String(uid)) }
      if let gid { passwd.set(at, 3, gid) }
      if let gecos = spec.gecos { passwd.set(at, 4, gecos) }
      if let home = spec.home { passwd.set(at, 5, home) }
      if let shell = spec.shell { passwd.set(at, 6, shell) }
    } else {
      let uid = spec.id ?? passwd.firstFree(field: 2)
      if gid == nil {
        // useradd's private group: the user's name, its gid the uid when that is free.
        if let g = group.index(of: spec.name) {
          gid = group.field(g, 2)
        } else {
          let own = group.owner(ofID: uid, field: 2) == nil ? uid : group.firstFree(field: 2)
          group.append(spec.name + ":x:" + String(own) + ":")
          f.group = group.text
          if let gs = f.gshadow {
            var g = Records(gs)
            g.append(spec.name + ":!::")
            f.gshadow = g.text
          }
          gid = String(own)
        }
      }
      passwd.append(spec.name + ":x:" + String(uid) + ":" + gid! + ":" + (spec.gecos ?? "") + ":" +
                    (spec.home ?? "/home/" + spec.name) + ":" + (spec.shell ?? "/bin/sh"))
    }
    f.passwd = passwd.text
    if let s = f.shadow {
      var shadow = Records(s)
      if let k = shadow.index(of: spec.name) {
        if let pw = spec.password { shadow.set(k, 1, pw) }
      } else {
        shadow.append(spec.name + ":" + (spec.password ?? "!") + ":" + String(today) + ":0:99999:7:::")
      }
      f.shadow = shadow.text
    }
    if let groups = spec.groups { setMemberships(&f, spec.name, in: groups) }
    return nil
  }

  /// `user` listed as a member (4th field) of exactly `groups`, in group and gshadow alike.
  private static func setMemberships(_ f: inout AccountFiles, _ user: String, in groups: [String]) {
    f.group = Records(f.group).settingMember(user, in: groups, field: 3)
    if let gs = f.gshadow { f.gshadow = Records(gs).settingMember(user, in: groups, field: 3) }
  }
}

/// A colon file's lines. A record is a line that is not a comment, blank, or NIS (`+`, `-`).
private struct Records {
  var lines: [[UInt8]]
  /// Whether the text ended without a newline (kept so, unless a line is added).
  var unterminated: Bool

  init(_ text: [UInt8]) {
    lines = text.split(separator: 0x0A, omittingEmptySubsequences: false).map { Array($0) }
    unterminated = text.last != 0x0A && !text.isEmpty
    if !unterminated { lines.removeLast() }
  }

  var text: [UInt8] {
    var out: [UInt8] = []
    for (k, l) in lines.enumerated() {
      out.append(contentsOf: l)
      if k < lines.count - 1 || !unterminated { out.append(0x0A) }
    }
    return out
  }

  private func fields(_ k: Int) -> [ArraySlice<UInt8>]? {
    let l = lines[k]
    guard let c = l.first, c != UInt8(ascii: "#"), c != UInt8(ascii: "+"), c != UInt8(ascii: "-") else { return nil }
    return l.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
  }

  var all: [[String]] {
    lines.indices.compactMap { k in fields(k)?.map { String(decoding: $0, as: UTF8.self) } }
  }

  func index(of name: String) -> Int? {
    let n = Array(name.utf8)
    for k in lines.indices { if let f = fields(k), Array(f[0]) == n { return k } }
    return nil
  }

  func field(_ k: Int, _ i: Int) -> String {
    guard let f = fields(k), i < f.count else { return "" }
    return String(decoding: f[i], as: UTF8.self)
  }

  /// Sets field `i` of record `k`, the others kept as they are.
  mutating func set(_ k: Int, _ i: Int, _ value: String) {
    guard var f = fields(k)?.map({ Array($0) }) else { return }
    while f.count <= i { f.append([]) }
    f[i] = Array(value.utf8)
    var l: [UInt8] = []
    for (n, x) in f.enumerated() {
      if n > 0 { l.append(UInt8(ascii: ":")) }
      l.append(contentsOf: x)
    }
    lines[k] = l
  }

  mutating func append(_ line: String) {
    unterminated = false
    lines.append(Array(line.utf8))
  }

  mutating func remove(_ k: Int) { lines.remove(at: k) }

  func removing(_ name: String) -> [UInt8] {
    var r = self
    if let k = r.index(of: name) { r.remove(k) }
    return r.text
  }

  /// The name of the record whose field `field` is `id`.
  func owner(ofID id: UInt32, field: Int) -> String? {
    for k in lines.indices {
      if let f = fields(k), f.count > field, UInt32(String(decoding: f[field], as: UTF8.self)) == id {
        return String(decoding: f[0], as: UTF8.self)
      }
    }
    return nil
  }

  /// The first id from 1000 below 60000 that no record holds.
  func firstFree(field: Int) -> UInt32 {
    var used: Set<UInt32> = []
    for k in lines.indices {
      if let f = fields(k), f.count > field, let v = UInt32(String(decoding: f[field], as: UTF8.self)) { used.insert(v) }
    }
    var id: UInt32 = 1000
    while used.contains(id) && id < 60000 { id += 1 }
    return id
  }

  /// Each record's member list (comma-separated field `field`) holds `user` when its name is in
  /// `groups`, and not otherwise; other members and their order stay.
  func settingMember(_ user: String, in groups: [String], field: Int) -> [UInt8] {
    var r = self
    for k in lines.indices {
      guard let f = fields(k), f.count > field else { continue }
      let name = String(decoding: f[0], as: UTF8.self)
      var members = f[field].split(separator: UInt8(ascii: ",")).map { String(decoding: $0, as: UTF8.self) }
      let has = members.contains(user), want = groups.contains(name)
      if has == want { continue }
      if want { members.append(user) } else { members.removeAll { $0 == user } }
      var joined = ""
      for (n, m) in members.enumerated() { joined += (n > 0 ? "," : "") + m }
      r.set(k, field, joined)
    }
    return r.text
  }
}
