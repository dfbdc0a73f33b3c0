/// Turns policy JSON into a validated `Policy`, or says everything that is wrong with it.
///
/// Validation is complete before anything is returned: unknown keys, wrong JSON types, missing
/// keys, bad ids, duplicate ids or paths, relative paths and `..`, modes that are not octal,
/// empty argv, bad class expressions, dangling references and cycles. Each issue carries the
/// line:column of the offending value, the promise id and the key.
public enum PolicyDecoder {
  /// At most this many issues are reported; past it the rest are summarised in one line.
  public static let maxIssues = 50

  /// Decodes the promises as the reader meets them: a promise's members are lent from the
  /// reader's stack and no tree of the promises is built (one array per promise was the largest
  /// share of the allocations, and the tree beside the `Policy` the largest share of memory).
  /// `qualified`: a team's policy, whose `after` may name the baseline's promises (`baseline/ID`).
  public static func decode(_ bytes: [UInt8], qualified: Bool = false) throws(PolicyError) -> Policy {
    let (root, promises) = try streamed(bytes)
    return try finish(root, promises, qualified: qualified)
  }

  /// Like `decode(_:)`, but empties `bytes` once they are parsed, even when they are refused:
  /// the `Policy` holds what is needed, so a large policy's text is not alive beside it (`apply`
  /// of a 60 MB policy peaked at 247 MB when a tree was kept too). The caller hashes the bytes
  /// first. With `readPast`, the text is also let go as it is read: told, every megabyte, how
  /// much of it the reader is done with, the caller gives those pages back, and the promises
  /// grow in memory as the text shrinks (decoding 100,000 held the 15.6 MB of text whole beside them).
  public static func decode(releasing bytes: inout [UInt8], qualified: Bool = false,
                            readPast: ReadPast? = nil) throws(PolicyError) -> Policy {
    defer { bytes = [] }   // a refused text too
    // The pages `readPast` is told of are the array's own: one it shares (a copy the caller kept)
    // is made its own first, so that the other never reads zeros.
    if readPast != nil { bytes.withUnsafeMutableBufferPointer { _ in } }
    let (root, promises) = try streamed(bytes, readPast: readPast)
    bytes = []
    return try finish(root, promises, qualified: qualified)
  }

  private static func streamed(_ bytes: [UInt8], readPast: ReadPast? = nil) throws(PolicyError) -> (JSONNode, PolicyPromises) {
    do {
      // Made in the call, not in a variable first: a variable's copy shared the reserved
      // arrays, and the first append copied them (16 MB of promises and 17 MB of indexes twice).
      return try JSONReader.parse(bytes, streaming: promisesPath, into: PolicyPromises(reserving: estimatedPromises(bytes)),
                                  readPast: readPast)
    } catch {
      throw PolicyError(PolicyIssue(error.message, at: error.position))
    }
  }

  /// Decodes a policy that is already a tree.
  /// `qualified`: whether `after` may name another bundle's promise (`baseline/ID`), as a
  /// team's bundle may (PolicyBundle checks which); a policy file may not.
  public static func decode(_ root: JSONNode, qualified: Bool = false) throws(PolicyError) -> Policy {
    var promises = PolicyPromises()
    if let list = root.members?.first(where: { $0.key == "promises" })?.value.array {
      promises.reserve(list.count)
      for node in list { promises.other(node) }
    }
    return try finish(root, promises, qualified: qualified)
  }

  /// Decodes a policy whose promises were streamed into `promises` as it was read (its
  /// `promises` array is then empty in `root`): a bundle's, read with its promises at
  /// ["policy", "promises"].
  public static func decode(_ root: JSONNode, promises: PolicyPromises, qualified: Bool = false) throws(PolicyError) -> Policy {
    try finish(root, promises, qualified: qualified)
  }

  /// The policy's own keys, checked when its promises are: their issues follow the policy's.
  private static func finish(_ root: JSONNode, _ promises: consuming PolicyPromises, qualified: Bool = false) throws(PolicyError) -> Policy {
    var d = Decoding()
    guard let members = root.members else {
      throw PolicyError(PolicyIssue("a policy is a JSON object, found \(root.typeName)", at: root.position))
    }
    var name: String? = nil
    var list: [JSONNode]? = nil
    var vars: JSONNode? = nil
    var classVarsNode: JSONNode? = nil
    for m in members {
      switch m.key {
      case "vars":
        vars = d.vars(m.value)
      case "class_vars":
        classVarsNode = m.value
      case "policy":
        name = d.string(m.value, key: "policy", promise: nil)
        if let n = name, n.isEmpty { d.issue("must not be empty", m.value.position, nil, "policy") }
      case "promises":
        list = m.value.array
        if list == nil { d.issue("expected array, found \(m.value.typeName)", m.value.position, nil, "promises") }
      case "$schema", "comment":
        break
      default:
        d.issue(unknownKey(m.key, "", allowed: ["policy", "promises", "vars", "class_vars", "comment", "$schema"]), m.keyPosition, nil, m.key)
      }
    }
    let classVars = classVarsNode.map { d.classVars($0, base: vars) } ?? []
    if name == nil && !d.hasIssue(key: "policy") { d.issue("missing key \"policy\" (the policy's name)", root.position, nil, nil) }
    if list == nil && !d.hasIssue(key: "promises") { d.issue("missing key \"promises\"", root.position, nil, nil) }
    // As if one Decoding had seen the policy's keys and then the promises: the first
    // maxIssues kept, all counted.
    for issue in promises.d.issues where d.issues.count < maxIssues { d.issues.append(issue) }
    d.count += promises.d.count
    promises.unresolvedReferences { (issue) in d.issue(issue.message, issue.position, issue.promise, issue.key) }
    promises.qualifiedReferences(allowed: qualified) { (issue) in d.issue(issue.message, issue.position, issue.promise, issue.key) }
    // Each inline template's names, against the vars and the facts' names: a typo is refused
    // here, on any host, not when a host renders it (Templates.swift renders with the host's own).
    for p in promises.promises {
      guard let text = p.template else { continue }
      do throws(TemplateError) {
        _ = try MustacheTemplate(parsing: text).render(templateContexts(facts: HostFacts(), vars: vars, classVars: []))
      } catch {
        d.issue(error.description, p.position, p.id, "template")
      }
    }
    if !d.issues.isEmpty { throw PolicyError(d.finished()) }
    // The references are resolved: the decoder's tables go before the plan makes its own (4.2 MB
    // of them at 100,000 promises, at the peak of decoding them).
    promises.dropIndexes()
    let order = try Plan.order(promises.promises)
    var policy = Policy(name: name ?? "", promises: promises.fitted(), checkedOrder: order)
    policy.vars = vars
    policy.classVars = classVars
    return policy
  }
}

private let promisesPath = ["promises"]

/// About how many promises a policy's text holds, to size their array once: the `"type"` tokens
/// it has (each promise has one; one inside a string is escaped, `\"type\"`, so only a key or a
/// value "type" counts), bounded by the smallest promise's size and the reader's value limit.
/// Grown by doubling instead, 100,000 promises sat in room for 131,072 and were then copied to an
/// array of their size, both alive at once: the peak of a large apply. Scanning 15 MB costs
/// a few milliseconds; the copy it saves cost more.
func estimatedPromises(_ bytes: [UInt8]) -> Int {
  let smallest = 24   // {"id":"a","type":"file"}
  let bound = min(bytes.count / smallest, JSONReader.defaultMaxValues / 3)
  return bytes.withUnsafeBufferPointer { (b) -> Int in
    var n = 0, i = 0
    let end = b.count - 5
    while i < end {
      if b[i] == UInt8(ascii: "\"") && b[i + 1] == UInt8(ascii: "t") && b[i + 2] == UInt8(ascii: "y")
        && b[i + 3] == UInt8(ascii: "p") && b[i + 4] == UInt8(ascii: "e") && b[i + 5] == UInt8(ascii: "\"") {
        n += 1
        if n == bound { break }
        i += 6
      } else {
        i += 1
      }
    }
    return n
  }
}

/// A policy's promises, decoded one at a time in source order as a reader meets them, with the
/// checks across them (duplicate ids and paths); `PolicyDecoder.decode(_:promises:)` finishes.
public struct PolicyPromises: JSONElementSink {
  fileprivate var d = Decoding()
  fileprivate var promises: [Promise] = []
  /// Every id claimed, by entry: a promise's index in `promises`, or `unplaced + i` for the
  /// i-th of `claimedOnly` (a promise with issues still claims its id).
  private var ids = IndexTable()
  private var claimedOnly: [(id: String, position: SourcePosition)] = []
  /// The objects promises own (a path, a file lines edit, a package, an account), by index in
  /// `promises` (`objectKey`).
  private var objects = IndexTable()
  /// Above any promise's index (a policy holds at most JSONReader.defaultMaxValues / 2), and an
  /// Int on armv7 too: 1 << 31 is Int.min there, and `e - unplaced` trapped on a duplicate id.
  private static let unplaced = 1 << 30
  /// How many promises were met: the next one's number in "#3 (file)".
  private var met = 0
  /// `after` and `notify` values naming an id not seen yet (a later promise's, or none), with
  /// their place: checked once every id is known. References back cost nothing here.
  private var forwardReferences: [Reference] = []
  /// Values naming another bundle's promise (`baseline/ID`): resolved when a team's bundle is
  /// composed with the baseline (TeamComposition.swift), refused in any other policy.
  private var crossReferences: [Reference] = []

  private struct Reference {
    var id: String
    var position: SourcePosition
    var promise: String
    var key: String
  }

  public init() {}

  init(reserving n: Int) { reserve(n) }

  /// The promises in an array of their size when the one they grew in has much room to spare:
  /// grown by doubling, 100,000 promises sat in room for 131,072 (11 MB unused for the whole run).
  /// Smaller slack is kept: copying costs about 20 ns a promise.
  fileprivate func fitted() -> [Promise] {
    let spare = (promises.capacity - promises.count) * MemoryLayout<Promise>.stride
    if spare < 4 << 20 { return promises }
    var out: [Promise] = []
    out.reserveCapacity(promises.count)
    out.append(contentsOf: promises)
    return out
  }

  fileprivate mutating func dropIndexes() {
    ids = IndexTable()
    objects = IndexTable()
  }

  fileprivate mutating func reserve(_ n: Int) {
    promises.reserveCapacity(n)
    ids.reserve(n)
    objects.reserve(n)
  }

  /// The id of entry `e` of `ids`, and where its promise starts.
  private func claimed(_ e: Int) -> (id: String, position: SourcePosition) {
    if e >= PolicyPromises.unplaced { return claimedOnly[e - PolicyPromises.unplaced] }
    return (promises[e].id, promises[e].position)
  }

  /// The entry that claimed `id`, if one did.
  private func claim(of id: String) -> Int? {
    ids.find(IndexTable.hash(0, id)) { (e) in claimed(e).id == id }
  }

  /// What a promise owns alone: a path held wholly or edited by lines, a package, an account.
  private enum ObjectKind: UInt8 { case path, lines, package, user, group }

  /// The object a promise owns, as a kind and a name; nil for the rest.
  private static func objectKey(_ p: Promise) -> (kind: ObjectKind, name: String)? {
    if p.type.ownsPath { return (.path, p.path) }
    if p.type == .line { return (.lines, p.path) }
    if let k = p.package { return (.package, k.name) }
    if let a = p.account { return (p.type == .user ? .user : .group, a.name) }
    return nil
  }

  /// The id of the promise that holds object (`kind`, `name`), if one does.
  private func holder(_ kind: ObjectKind, _ name: String) -> String? {
    let e = objects.find(IndexTable.hash(kind.rawValue, name)) { (e) in
      guard let k = PolicyPromises.objectKey(promises[e]) else { return false }
      return k.kind == kind && k.name == name
    }
    return e.map { promises[$0].id }
  }

  public mutating func object(_ members: ArraySlice<JSONMember>, at position: SourcePosition) {
    add(members, position, typeName: "object")
  }

  public mutating func other(_ node: JSONNode) {
    add(node.members?[...], node.position, typeName: node.typeName)
  }

  private mutating func add(_ members: ArraySlice<JSONMember>?, _ position: SourcePosition, typeName: String) {
    met += 1
    let decoded = d.promise(members, position, typeName: typeName, number: met)
    // A promise with other issues still claims its id, so one run reports a duplicate of it too.
    let ownID = decoded?.id ?? Decoding.validID(members)
    if let members { references(members, ownID: ownID) }
    guard let id = ownID else { return }
    if let first = claim(of: id) {
      d.issue("duplicate id (first at \(claimed(first).position))", position, id, "id")
      return
    }
    guard let p = decoded else {
      ids.insert(IndexTable.hash(0, id), PolicyPromises.unplaced + claimedOnly.count)
      claimedOnly.append((id, position))
      return
    }
    let index = promises.count
    ids.insert(IndexTable.hash(0, id), index)
    if let k = PolicyPromises.objectKey(p), owns(k, p) {
      objects.insert(IndexTable.hash(k.kind.rawValue, k.name), index)
    }
    promises.append(p)
  }

  /// Whether `p` is the first to hold its object `k`; if another promise holds it, an issue
  /// naming that one. Several line promises may edit one file; none may edit a file a promise
  /// owns wholly, and only the first of them is indexed.
  private mutating func owns(_ k: (kind: ObjectKind, name: String), _ p: Promise) -> Bool {
    switch k.kind {
    case .path:
      guard let other = holder(.path, k.name) ?? holder(.lines, k.name) else { return true }
      d.issue("path \"\(k.name)\" is already managed by promise \"\(other)\"", p.position, p.id, "path")
    case .lines:
      guard let other = holder(.path, k.name) else { return holder(.lines, k.name) == nil }
      d.issue("path \"\(k.name)\" is owned wholly by promise \"\(other)\": a line promise edits a file no other promise holds", p.position, p.id, "path")
    case .package:
      guard let other = holder(.package, k.name) else { return true }
      d.issue("package \"\(k.name)\" is already promised by \"\(other)\"", p.position, p.id, "name")
    case .user, .group:
      guard let other = holder(k.kind, k.name) else { return true }
      d.issue("\(p.type.name) \"\(k.name)\" is already promised by \"\(other)\"", p.position, p.id, "name")
    }
    return false
  }

  /// Checks each `after` and `notify` value of a promise at the value's own place: itself
  /// named, or an id not met yet (kept for `unresolvedReferences`).
  private mutating func references(_ members: ArraySlice<JSONMember>, ownID: String?) {
    for m in members where m.key == "after" || m.key == "notify" {
      guard let items = m.value.array else { continue }
      for item in items {
        guard let ref = item.string else { continue }
        if ref == ownID {
          d.issue(m.key == "after" ? "a promise cannot be after itself" : "a promise cannot notify itself", item.position, ownID, m.key)
        } else if ref.utf8.contains(UInt8(ascii: "/")) {
          crossReferences.append(Reference(id: ref, position: item.position, promise: ownID ?? Decoding.name(members, number: met), key: m.key))
        } else if claim(of: ref) == nil {
          let name = ownID ?? Decoding.name(members, number: met)
          forwardReferences.append(Reference(id: ref, position: item.position, promise: name, key: m.key))
        }
      }
    }
  }

  /// The references to other bundles' promises that this policy may not make: any, unless it is
  /// a team's (`allowed`), which may order after the baseline's promises only.
  fileprivate func qualifiedReferences(allowed: Bool, _ body: (PolicyIssue) -> Void) {
    for r in crossReferences {
      if !allowed {
        body(PolicyIssue("\"\(r.id)\" names another bundle's promise: only a team's policy may (publish --team, validate --team)",
                         at: r.position, promise: r.promise, key: r.key))
      } else if r.key != "after" || !r.id.hasPrefix(Delegation.baselineName + "/") || idProblem(String(r.id.dropFirst(9))) != nil {
        body(PolicyIssue("\"\(r.id)\": a team's promise may be after a baseline promise (\"baseline/ID\"), never another team's, and notifies only its own",
                         at: r.position, promise: r.promise, key: r.key))
      }
    }
  }

  /// The references to ids no promise has, each at its value's line:column, in source order.
  fileprivate func unresolvedReferences(_ body: (PolicyIssue) -> Void) {
    for r in forwardReferences where claim(of: r.id) == nil {
      body(PolicyIssue("\"\(r.key)\" names unknown promise \"\(r.id)\"", at: r.position, promise: r.promise, key: r.key))
    }
  }
}

/// "unknown key`what` (allowed: a, b, c)", or when `key` looks like a misspelling of one of
/// them, "unknown key`what`: did you mean "b"?".
private func unknownKey(_ key: String, _ what: String, allowed: [String]) -> String {
  if let near = suggestion(for: key, among: allowed) { return "unknown key" + what + ": did you mean \"" + near + "\"?" }
  var list = ""
  for a in allowed { list += (list.isEmpty ? "" : ", ") + a }
  return "unknown key" + what + " (allowed: " + list + ")"
}

/// Which keys each type accepts, beyond the common ones, indexed by `PromiseType.rawValue`. The
/// table is the whole grammar of a promise; the JSON Schema in schema/ mirrors it.
///
/// A table, not a `switch` returning array literals: such literals became outlined globals that
/// the Embedded build linked to another copy's (see object-outliner in Package.swift).
private let keysByType: [[String]] = [
  [],                                                                  // 0: unused
  ["path", "content", "source", "mode", "owner", "group", "state"],    // file
  ["path", "mode", "owner", "group", "state", "purge"],                // directory
  ["path", "target", "owner", "group", "state"],                       // link
  ["exec", "creates", "unless", "timeout"],                            // command
  ["exec", "env", "cwd", "user", "group", "restart", "health", "stop_signal", "stop_timeout", "start_timeout", "main"], // service
  ["key", "value"],                                                    // sysctl
  ["path", "template", "source", "mode", "owner", "group"],            // template
  ["path", "line", "match", "key", "value", "separator", "section", "insert", "state"], // line
  ["name", "uid", "group", "groups", "home", "shell", "gecos", "password", "state"], // user
  ["name", "gid", "state"],                                            // group
  ["name", "state", "source"],                                         // package
]

private func allowedKeys(_ type: PromiseType) -> [String] { keysByType[Int(type.rawValue)] }

private let commonKeys = ["id", "type", "after", "notify", "if", "comment"]

private struct Decoding {
  /// The first `maxIssues` issues; the rest are only counted, so a hostile policy of a million
  /// bad keys costs a counter, not a million messages.
  var issues: [PolicyIssue] = []
  /// Every issue found, kept or not.
  var count = 0

  mutating func issue(_ message: String, _ at: SourcePosition, _ promise: String?, _ key: String?) {
    count += 1
    if issues.count < PolicyDecoder.maxIssues { issues.append(PolicyIssue(message, at: at, promise: promise, key: key)) }
  }

  func hasIssue(key: String) -> Bool {
    for i in issues where i.key == key { return true }
    return false
  }

  func finished() -> [PolicyIssue] {
    if count == issues.count { return issues }
    var out = issues
    out.append(PolicyIssue("and \(count - issues.count) more issues", at: .none))
    return out
  }

  mutating func string(_ v: JSONNode, key: String, promise: String?) -> String? {
    if let s = v.string { return s }
    issue("expected string, found \(v.typeName)", v.position, promise, key)
    return nil
  }

  mutating func stringList(_ v: JSONNode, key: String, promise: String?) -> [String]? {
    guard let a = v.array else {
      issue("expected array of strings, found \(v.typeName)", v.position, promise, key)
      return nil
    }
    var out: [String] = []
    out.reserveCapacity(a.count)
    for item in a {
      guard let s = item.string else {
        issue("expected array of strings, found \(item.typeName) in it", item.position, promise, key)
        return nil
      }
      out.append(s)
    }
    return out
  }

  /// The promise's id when it is a well-formed one, whatever else is wrong with the promise.
  static func validID(_ members: ArraySlice<JSONMember>?) -> String? {
    guard let m = members?.first(where: { $0.key == "id" }), let s = m.value.string else { return nil }
    return idProblem(s) == nil ? s : nil
  }

  /// How issues name a promise that has no valid id: its number in the list (from 1) and its
  /// type as written, "#3 (file)", or "#3" without one.
  static func name(_ members: ArraySlice<JSONMember>?, number: Int) -> String {
    let n = "#" + String(number)
    guard let t = members?.first(where: { $0.key == "type" })?.value.string else { return n }
    return n + " (" + t + ")"
  }

  /// A promise from its object's members (nil: it is not an object) at `position`, the
  /// `number`th of its policy. A promise without a valid id is still checked, named by number.
  mutating func promise(_ members: ArraySlice<JSONMember>?, _ position: SourcePosition, typeName: String, number: Int) -> Promise? {
    guard let members else {
      issue("a promise is a JSON object, found " + typeName, position, "#" + String(number), nil)
      return nil
    }
    let before = count
    // The id and type decide how every other key is read, so find them first.
    var valid: String? = nil
    var type: PromiseType? = nil
    var hasID = false
    for m in members where m.key == "id" {
      hasID = true
      guard let s = m.value.string else { issue("expected string, found \(m.value.typeName)", m.value.position, Decoding.name(members, number: number), "id"); continue }
      if let problem = idProblem(s) { issue(problem, m.value.position, Decoding.name(members, number: number), "id"); continue }
      valid = s
    }
    if !hasID { issue("missing key \"id\"", position, Decoding.name(members, number: number), nil) }
    let id = valid ?? Decoding.name(members, number: number)
    for m in members where m.key == "type" {
      guard let s = string(m.value, key: "type", promise: id) else { return nil }
      guard let t = PromiseType(name: s) else {
        issue("unknown type \"\(s)\" (types: file, directory, link, command, service, sysctl, template, line, user, group, package)", m.value.position, id, "type")
        return nil
      }
      type = t
    }
    guard let type else {
      issue("missing key \"type\"", position, id, nil)
      return nil
    }

    var p = Promise(id: id, type: type)
    p.position = position
    var lineSpec = LineSpec()
    var accountSpec = AccountKeys()
    var packageName = "", packageVersion: String? = nil
    let allowed = allowedKeys(type)
    for m in members {
      let k = m.key
      let v = m.value
      if !commonKeys.contains(k) && !allowed.contains(k) {
        // Past the cap the message is only counted: a million bad keys cost no million guesses.
        let full = issues.count >= PolicyDecoder.maxIssues
        issue(full ? "" : unknownKey(k, " for a \(type.name) promise", allowed: allowed + ["after", "notify", "if", "comment"]), m.keyPosition, id, k)
        continue
      }
      switch k {
      case "id", "type": break
      case "comment": _ = string(v, key: k, promise: id)
      case "after": p.after = stringList(v, key: k, promise: id) ?? []
      case "notify": p.notify = stringList(v, key: k, promise: id) ?? []
      case "if":
        guard let s = string(v, key: k, promise: id) else { break }
        do {
          p.condition = try ClassExpression(parsing: s)
          p.conditionText = s
        } catch {
          issue("invalid class expression \"\(s)\": \(error)", v.position, id, k)
        }
      case "path":
        guard let s = string(v, key: k, promise: id) else { break }
        if let problem = pathProblem(s) { issue(problem, v.position, id, k) } else { p.path = s }
      case "content":
        guard let s = string(v, key: k, promise: id) else { break }
        p.content = Array(s.utf8)
      case "template":
        guard let s = string(v, key: k, promise: id) else { break }
        // Its syntax here; its names once the policy's vars are known (finish).
        do throws(TemplateError) { _ = try MustacheTemplate(parsing: Array(s.utf8)) } catch {
          issue(error.description, v.position, id, k)
          break
        }
        p.template = Array(s.utf8)
      case "source":
        guard let s = string(v, key: k, promise: id) else { break }
        // Read in place: copies of the text cost 4 allocations per file promise of a bundle.
        let digest = withUTF8(s) { (u) -> Digest? in
          guard u.count == 71 && s.hasPrefix("sha256:") else { return nil }
          return Digest(hexDigits: UnsafeRawBufferPointer(rebasing: u[7...]))
        }
        if let digest {
          p.source = digest
        } else {
          issue("expected \"sha256:\" and 64 hex digits", v.position, id, k)
        }
      case "mode":
        if v.string == nil && v.integer != nil {
          issue("mode must be a string of octal digits, e.g. \"0644\" (a JSON number would be read as decimal)", v.position, id, k)
          break
        }
        guard let s = string(v, key: k, promise: id) else { break }
        if let m = parseMode(s) { p.mode = m } else { issue("\"\(s)\" is not an octal mode (e.g. \"0644\", at most \"7777\")", v.position, id, k) }
      case "owner", "user":
        if k == "user" && type != .service { break }
        guard let s = string(v, key: k, promise: id) else { break }
        if let problem = accountNameProblem(s) { issue(problem, v.position, id, k) } else { p.owner = s }
      case "group":
        guard let s = string(v, key: k, promise: id) else { break }
        if let problem = accountNameProblem(s) { issue(problem, v.position, id, k) } else { p.group = s }
      case "state" where type == .package:
        // present, absent, or the version to hold.
        guard let s = string(v, key: k, promise: id) else { break }
        if s == "absent" { p.absent = true }
        else if s != "present" {
          if let problem = packageVersionProblem(s) { issue(problem, v.position, id, k) } else { packageVersion = s }
        }
      case "state":
        guard let s = string(v, key: k, promise: id) else { break }
        switch s {
        case "present": p.absent = false
        case "absent": p.absent = true
        default: issue("expected \"present\" or \"absent\", found \"\(s)\"", v.position, id, k)
        }
      case "purge":
        if let b = v.bool { p.purge = b } else { issue("expected boolean, found \(v.typeName)", v.position, id, k) }
      case "target":
        guard let s = string(v, key: k, promise: id) else { break }
        if s.isEmpty || s.utf8.contains(0) || s.utf8.count > 4095 {
          issue("a link target must be 1 to 4095 bytes with no NUL", v.position, id, k)
        } else {
          p.target = s
        }
      case "exec", "unless":
        guard let argv = stringList(v, key: k, promise: id) else { break }
        if let problem = argvProblem(argv) { issue(problem, v.position, id, k); break }
        if k == "exec" { p.exec = argv } else { p.unless = argv }
      case "creates":
        guard let s = string(v, key: k, promise: id) else { break }
        if let problem = pathProblem(s) { issue(problem, v.position, id, k) } else { p.creates = s }
      case "timeout":
        // Whole seconds (the child's timer counts them). 0 was once "none": leave the key out.
        if let ms = v.durationMs, ms == 0 {
          issue("a timeout of 0 is not allowed: leave \"timeout\" out for none", v.position, id, k)
        } else if let ms = v.durationMs, ms <= 86_400_000, ms % 1000 == 0 {
          p.timeout = Int(ms / 1000)
        } else {
          issue(durationExpected(from: "1s", to: "1d") + ", in whole seconds", v.position, id, k)
        }
      case "name" where type == .package:
        guard let s = string(v, key: k, promise: id) else { break }
        if let problem = packageNameProblem(s) { issue(problem, v.position, id, k) } else { packageName = s }
      case "name", "uid", "gid", "groups", "home", "shell", "gecos", "password":
        accountKey(k, v, id: id, into: &accountSpec)
      case "key" where type == .line, "value" where type == .line, "line", "match", "separator", "section", "insert":
        lineKey(k, v, id: id, into: &lineSpec)
      case "key":
        guard let s = string(v, key: k, promise: id) else { break }
        if let problem = sysctlKeyProblem(s) { issue(problem, v.position, id, k) } else { p.key = s }
      case "value":
        guard let s = string(v, key: k, promise: id) else { break }
        if s.utf8.contains(0) || s.utf8.contains(UInt8(ascii: "\n")) { issue("a sysctl value is one line with no NUL", v.position, id, k) } else { p.value = s }
      case "env", "cwd", "restart", "health", "stop_signal", "stop_timeout", "start_timeout", "main":
        var spec = p.service ?? ServiceSpec()
        serviceKey(k, v, id: id, into: &spec)
        p.service = spec
      default:
        break
      }
    }
    // Keys each type cannot do without, and combinations that make no sense. Asked of the
    // members themselves: a list of the keys seen cost 3 or 4 allocations per promise.
    func seen(_ key: String) -> Bool {
      for m in members where m.key == key { return true }
      return false
    }
    func require(_ key: String) {
      if !seen(key) { issue("missing key \"\(key)\" for a \(type.name) promise", position, id, nil) }
    }
    switch type {
    case .file:
      require("path")
      if !p.absent && p.content == nil && p.source == nil && !seen("content") && !seen("source") && p.mode == nil && p.owner == nil && p.group == nil {
        issue("a file promise needs \"content\", \"source\", \"mode\", \"owner\", \"group\" or \"state\"", position, id, nil)
      }
      if seen("content") && seen("source") { issue("give \"content\" or \"source\", not both", position, id, "source") }
      if p.absent && (seen("content") || seen("source") || seen("mode")) {
        issue("an absent file has no content or mode", position, id, "state")
      }
    case .directory:
      require("path")
      if p.purge && !p.absent { issue("\"purge\" only applies with \"state\": \"absent\"", position, id, "purge") }
    case .link:
      require("path")
      if !p.absent { require("target") }
    case .command:
      require("exec")
    case .service:
      require("exec")
      if p.service == nil { p.service = ServiceSpec() }
    case .sysctl:
      require("key")
      require("value")
    case .line:
      require("path")
      let setting = seen("key")
      if setting && (seen("line") || seen("match")) { issue("give \"line\" (with \"match\") or \"key\" and \"value\", not both", position, id, nil) }
      else if setting && !p.absent && !seen("value") { issue("a setting needs \"value\" (or \"state\": \"absent\")", position, id, nil) }
      else if !setting && !seen("line") && !(p.absent && seen("match")) {
        issue(p.absent ? "an absent line needs \"line\" or \"match\"" : "a line promise needs \"line\" (and \"match\" to replace), or \"key\" and \"value\"", position, id, nil)
      }
      if !setting && (seen("separator") || seen("section")) { issue("\"separator\" and \"section\" go with \"key\"", position, id, seen("section") ? "section" : "separator") }
      p.edit = LineEdit(line: lineSpec.line, match: lineSpec.match, key: lineSpec.key, value: lineSpec.value,
                        separator: lineSpec.separator, section: lineSpec.section, atStart: lineSpec.atStart)
    case .package:
      require("name")
      if p.absent && seen("source") { issue("an absent package has no \"source\"", position, id, "source") }
      if !packageName.isEmpty { p.package = PackageSpec(name: packageName, version: packageVersion) }
    case .user, .group:
      require("name")
      if !accountSpec.name.isEmpty {
        p.account = AccountSpec(name: accountSpec.name, id: accountSpec.id, groups: accountSpec.groups, home: accountSpec.home,
                                shell: accountSpec.shell, gecos: accountSpec.gecos, password: accountSpec.password)
      }
    case .template:
      require("path")
      if seen("template") == seen("source") { issue("a template promise needs \"template\" (inline) or \"source\" (a blob), one of them", position, id, nil) }
    }
    return count == before ? p : nil
  }
}

/// Ids are what operators type in `after`, `notify` and `status`: 1 to 128 of letters, digits
/// and `-_.:@`.
func idProblem(_ s: String) -> String? {
  let u = s.utf8
  if u.isEmpty { return "id must not be empty" }
  if u.count > 128 { return "id is longer than 128 bytes" }
  for c in u {
    let ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
      || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".") || c == UInt8(ascii: ":") || c == UInt8(ascii: "@")
    if !ok { return "id \"\(s)\" may hold only letters, digits and - _ . : @" }
  }
  return nil
}

/// "0644", "644", "4755": 3 or 4 octal digits.
public func parseMode(_ s: String) -> UInt32? {
  let u = s.utf8
  guard u.count == 3 || u.count == 4 else { return nil }
  var m: UInt32 = 0
  for c in u {
    guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "7") else { return nil }
    m = m << 3 | UInt32(c - UInt8(ascii: "0"))
  }
  return m
}

/// User and group names as useradd accepts them, or a number (a numeric id).
func accountNameProblem(_ s: String) -> String? {
  let u = s.utf8
  if u.isEmpty || u.count > 32 { return "a user or group name is 1 to 32 characters" }
  for c in u {
    let ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
      || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".")
    if !ok { return "\"\(s)\" is not a valid user or group name" }
  }
  return nil
}

func argvProblem(_ argv: [String]) -> String? {
  guard let first = argv.first else { return "the argv must not be empty" }
  if first.utf8.first != UInt8(ascii: "/") { return "argv[0] \"\(first)\" must be an absolute path (PATH is not searched)" }
  for a in argv where a.utf8.contains(0) { return "an argument contains a NUL byte" }
  return nil
}

/// Package names as dpkg and apk take them: letters, digits and `+ - . _`, starting alphanumeric.
func packageNameProblem(_ s: String) -> String? {
  let u = s.utf8
  guard let first = u.first, u.count <= 128,
        (first >= 0x30 && first <= 0x39) || (first >= 0x41 && first <= 0x5A) || (first >= 0x61 && first <= 0x7A) else {
    return "a package name starts with a letter or digit (1 to 128 characters)"
  }
  for c in u {
    let ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
      || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") || c == UInt8(ascii: "_")
    if !ok { return "\"\(s)\" is not a package name (letters, digits, + - . _)" }
  }
  return nil
}

/// A version as dpkg (`1:2.3-4`) and apk (`2.3-r4`) write them: no blanks, no `=`.
func packageVersionProblem(_ s: String) -> String? {
  guard let first = s.utf8.first, first >= 0x30 && first <= 0x39, s.utf8.count <= 128 else {
    return "expected \"present\", \"absent\" or a version (starting with a digit, e.g. \"1.2.3-1\")"
  }
  for c in s.utf8 where c <= 0x20 || c == UInt8(ascii: "=") || c >= 0x7F { return "\"\(s)\" is not a version" }
  return nil
}

/// `net.ipv4.ip_forward` or `net/ipv4/ip_forward`: components of letters, digits, `-` and `_`.
func sysctlKeyProblem(_ s: String) -> String? {
  let u = s.utf8
  if u.isEmpty || u.count > 255 { return "a sysctl key is 1 to 255 characters" }
  var previousSeparator = true
  for c in u {
    let separator = c == UInt8(ascii: ".") || c == UInt8(ascii: "/")
    let ok = separator || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
      || c == UInt8(ascii: "-") || c == UInt8(ascii: "_")
    if !ok || (separator && previousSeparator) { return "\"\(s)\" is not a sysctl key (e.g. net.ipv4.ip_forward)" }
    previousSeparator = separator
  }
  if previousSeparator { return "\"\(s)\" is not a sysctl key (e.g. net.ipv4.ip_forward)" }
  return nil
}

/// A user or group promise's keys, gathered as they come.
struct AccountKeys {
  var name = ""
  var id: UInt32? = nil
  var groups: [String]? = nil
  var home: String? = nil, shell: String? = nil, gecos: String? = nil, password: String? = nil
}

/// A line promise's keys, gathered as they come.
struct LineSpec {
  var line = "", key = "", value = "", separator = "=", section = ""
  var match: LineRegex? = nil
  var atStart = false
}

extension Decoding {
  /// The keys of a `user` or `group` promise: names as useradd takes them, fields without ':'.
  mutating func accountKey(_ k: String, _ v: JSONNode, id: String, into spec: inout AccountKeys) {
    switch k {
    case "uid", "gid":
      if let n = v.integer, n >= 0, n < 4_294_967_295 { spec.id = UInt32(n) } else { issue("expected a number from 0 to 4294967294", v.position, id, k) }
    case "groups":
      guard let list = stringList(v, key: k, promise: id) else { return }
      for g in list { if let problem = accountNameProblem(g) { issue(problem, v.position, id, k); return } }
      spec.groups = list
    default:
      guard let s = string(v, key: k, promise: id) else { return }
      if s.utf8.contains(UInt8(ascii: ":")) || s.utf8.contains(UInt8(ascii: "\n")) || s.utf8.contains(0) {
        issue("no \":\", newline or NUL in an account's field", v.position, id, k)
        return
      }
      switch k {
      case "name":
        if let problem = accountNameProblem(s) { issue(problem, v.position, id, k) }
        else if UInt32(s) != nil { issue("a user or group name is not a number", v.position, id, k) }
        else { spec.name = s }
      case "home", "shell":
        if let problem = pathProblem(s) { issue(problem, v.position, id, k) } else if k == "home" { spec.home = s } else { spec.shell = s }
      case "gecos": spec.gecos = s
      default: spec.password = s
      }
    }
  }

  /// The keys of a `line` promise: one line each, the regex parsed here (LineRegex).
  mutating func lineKey(_ k: String, _ v: JSONNode, id: String, into spec: inout LineSpec) {
    guard let s = string(v, key: k, promise: id) else { return }
    if s.utf8.contains(0) || s.utf8.contains(UInt8(ascii: "\n")) { issue("one line, with no newline or NUL", v.position, id, k); return }
    switch k {
    case "line": spec.line = s
    case "match":
      do throws(RegexError) { spec.match = try LineRegex(s) } catch { issue("invalid regular expression \"\(s)\": \(error)", v.position, id, k) }
    case "key":
      if s.isEmpty || s.utf8.contains(where: { $0 == 0x20 || $0 == 0x09 || $0 == UInt8(ascii: "=") }) {
        issue("a key is not empty and has no blank or \"=\"", v.position, id, k)
      } else { spec.key = s }
    case "value": spec.value = s
    case "separator":
      if s.isEmpty { issue("a separator is not empty (\"=\", \" = \", \" \", \": \")", v.position, id, k) } else { spec.separator = s }
    case "section":
      if s.isEmpty || s.utf8.contains(UInt8(ascii: "]")) { issue("a section name is not empty and has no \"]\"", v.position, id, k) } else { spec.section = s }
    case "insert":
      if s == "start" { spec.atStart = true } else if s != "end" { issue("expected \"start\" or \"end\", found \"\(s)\"", v.position, id, k) }
    default: break
    }
  }

  /// `vars`: an object whose names a template can say (`{{name}}`); `facts` is the host's.
  mutating func vars(_ v: JSONNode) -> JSONNode? {
    guard let members = v.members else {
      issue("expected an object of variables, found \(v.typeName)", v.position, nil, "vars")
      return nil
    }
    let before = count
    for m in members { varName(m, key: "vars") }
    return count == before ? v : nil
  }

  private mutating func varName(_ m: JSONMember, key: String) {
    var ok = !m.key.isEmpty && m.key.utf8.count <= 128
    // The names a template can say (Mustache.swift's parseName takes the same bytes).
    for c in m.key.utf8 where !(isWordByte(c) || c == 0x2D) { ok = false }
    if !ok { issue("\"\(m.key)\" is not a variable name (1 to 128 letters, digits, _ and -)", m.keyPosition, nil, key) }
    if m.key == "facts" { issue("\"facts\" is the host's facts: name the variable otherwise", m.keyPosition, nil, key) }
  }

  /// `class_vars`: `[{"if": "CLASSES", "vars": {…}}]`, each overriding only names `vars` has
  /// (so that every name a template says is checked on any host).
  mutating func classVars(_ v: JSONNode, base: JSONNode?) -> [ClassVars] {
    guard let list = v.array else {
      issue("expected an array of {\"if\", \"vars\"} objects, found \(v.typeName)", v.position, nil, "class_vars")
      return []
    }
    var out: [ClassVars] = []
    for item in list {
      guard let members = item.members else {
        issue("expected an object with \"if\" and \"vars\", found \(item.typeName)", item.position, nil, "class_vars")
        continue
      }
      var condition: ClassExpression? = nil, text = "", vars: [JSONMember]? = nil
      for m in members {
        switch m.key {
        case "if":
          guard let s = string(m.value, key: "class_vars.if", promise: nil) else { continue }
          do { condition = try ClassExpression(parsing: s); text = s } catch {
            issue("invalid class expression \"\(s)\": \(error)", m.value.position, nil, "class_vars.if")
          }
        case "vars":
          guard let ms = m.value.members else {
            issue("expected an object of variables, found \(m.value.typeName)", m.value.position, nil, "class_vars.vars")
            continue
          }
          for o in ms where !(base?.members?.contains { $0.key == o.key } ?? false) {
            issue("\"\(o.key)\" is not in \"vars\": a class override may only replace a variable \"vars\" defines", o.keyPosition, nil, "class_vars.vars")
          }
          vars = ms
        case "comment":
          break
        default:
          issue(unknownKey(m.key, " in class_vars", allowed: ["if", "vars", "comment"]), m.keyPosition, nil, "class_vars")
        }
      }
      if let condition, let vars { out.append(ClassVars(condition: condition, conditionText: text, vars: vars)) }
      else if condition == nil && !hasIssue(key: "class_vars.if") { issue("missing key \"if\"", item.position, nil, "class_vars") }
      else if vars == nil && !hasIssue(key: "class_vars.vars") { issue("missing key \"vars\"", item.position, nil, "class_vars") }
    }
    return out
  }

  /// The keys only a service has. The supervisor reads the result; nothing here starts anything.
  mutating func serviceKey(_ k: String, _ v: JSONNode, id: String, into spec: inout ServiceSpec) {
    switch k {
    case "env":
      guard let members = v.members else { issue("expected an object of strings, found \(v.typeName)", v.position, id, k); return }
      for m in members {
        guard let value = m.value.string else { issue("expected a string value for \"\(m.key)\"", m.value.position, id, k); continue }
        if m.key.isEmpty || m.key.utf8.contains(UInt8(ascii: "=")) || m.key.utf8.contains(0) || value.utf8.contains(0) {
          issue("invalid environment variable \"\(m.key)\"", m.keyPosition, id, k)
          continue
        }
        spec.env.append(m.key + "=" + value)
      }
    case "cwd":
      guard let s = string(v, key: k, promise: id) else { return }
      if let problem = pathProblem(s) { issue(problem, v.position, id, k) } else { spec.cwd = s }
    case "restart":
      guard let s = string(v, key: k, promise: id) else { return }
      if let r = ServiceSpec.Restart(name: s) { spec.restart = r } else { issue("expected \"always\", \"on-failure\" or \"never\", found \"\(s)\"", v.position, id, k) }
    case "stop_signal":
      guard let s = string(v, key: k, promise: id) else { return }
      if let n = signalNumber(s) { spec.stopSignal = n } else { issue("unknown signal \"\(s)\" (e.g. \"TERM\", \"INT\", \"QUIT\")", v.position, id, k) }
    case "stop_timeout":
      if let ms = duration(v, key: k, promise: id) { spec.stopTimeoutMs = ms }
    case "start_timeout":
      // At least 10 ms, as a health check's interval: zero would fail every start at once.
      if let ms = duration(v, key: k, promise: id) { spec.startTimeoutMs = max(ms, 10) }
    case "main":
      if let b = v.bool { spec.main = b } else { issue("expected boolean, found \(v.typeName)", v.position, id, k) }
    case "health":
      spec.health = health(v, id: id)
    default:
      break
    }
  }

  /// A service's duration (DurationText.swift's grammar), 0 to a day, in milliseconds.
  mutating func duration(_ v: JSONNode, key: String, promise: String) -> UInt32? {
    if let ms = v.durationMs, ms <= 86_400_000 { return UInt32(ms) }
    issue(durationExpected(from: "0s", to: "1d"), v.position, promise, key)
    return nil
  }

  mutating func health(_ v: JSONNode, id: String) -> HealthCheck? {
    guard let members = v.members else { issue("expected an object, found \(v.typeName)", v.position, id, "health"); return nil }
    var check: HealthCheck? = nil
    var interval: UInt32? = nil, timeout: UInt32? = nil
    for m in members {
      switch m.key {
      case "tcp":
        guard let s = string(m.value, key: "health.tcp", promise: id) else { continue }
        if hostPortProblem(s) != nil { issue("expected \"HOST:PORT\" with an IPv4 address, e.g. \"127.0.0.1:8080\"", m.value.position, id, "health.tcp"); continue }
        check = HealthCheck(kind: .tcp, target: [s])
      case "http":
        guard let s = string(m.value, key: "health.http", promise: id) else { continue }
        guard s.hasPrefix("http://"), hostPortProblem(hostPortOfURL(s)) == nil else {
          issue("expected \"http://HOST:PORT/PATH\" with an IPv4 address", m.value.position, id, "health.http")
          continue
        }
        check = HealthCheck(kind: .http, target: [s])
      case "exec":
        guard let argv = stringList(m.value, key: "health.exec", promise: id) else { continue }
        if let problem = argvProblem(argv) { issue(problem, m.value.position, id, "health.exec"); continue }
        check = HealthCheck(kind: .exec, target: argv)
      case "interval": interval = duration(m.value, key: "health.interval", promise: id)
      case "timeout": timeout = duration(m.value, key: "health.timeout", promise: id)
      default:
        issue(unknownKey(m.key, "", allowed: ["tcp", "http", "exec", "interval", "timeout"]), m.keyPosition, id, "health." + m.key)
      }
    }
    guard var c = check else {
      issue("a health check needs one of \"tcp\", \"http\" or \"exec\"", v.position, id, "health")
      return nil
    }
    if let interval { c.intervalMs = max(interval, 10) }
    if let timeout { c.timeoutMs = max(timeout, 10) }
    return c
  }
}

/// "127.0.0.1:8080": an IPv4 address and a port; nil when fine.
public func hostPortProblem(_ s: String) -> String? {
  let parts = s.utf8.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
  guard parts.count == 2, let port = Int(String(decoding: parts[1], as: UTF8.self)), port > 0, port < 65536 else {
    return "not HOST:PORT"
  }
  let octets = parts[0].split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
  guard octets.count == 4 else { return "not an IPv4 address" }
  for o in octets {
    guard let n = Int(String(decoding: o, as: UTF8.self)), n >= 0, n <= 255, !o.isEmpty, o.count <= 3 else { return "not an IPv4 address" }
  }
  return nil
}

/// "http://127.0.0.1:8080/x" -> "127.0.0.1:8080" (":80" added when the port is absent).
public func hostPortOfURL(_ url: String) -> String {
  let u = Array(url.utf8.dropFirst(7))
  var end = 0
  while end < u.count && u[end] != UInt8(ascii: "/") { end += 1 }
  let hp = String(decoding: u[0..<end], as: UTF8.self)
  return u[0..<end].contains(UInt8(ascii: ":")) ? hp : hp + ":80"
}

/// "http://127.0.0.1:8080/x" -> "/x" ("/" when absent).
public func pathOfURL(_ url: String) -> String {
  let u = Array(url.utf8.dropFirst(7))
  guard let slash = u.firstIndex(of: UInt8(ascii: "/")) else { return "/" }
  return String(decoding: u[slash...], as: UTF8.self)
}
