/// A validated policy: a name and its promises in source order. Every id is unique and every
/// reference (`after`, `notify`) names a promise of the same policy.
public struct Policy: Sendable {
  public var name: String
  /// Variables for templates: a JSON object (PolicyDecoder checks its names). nil: none.
  public var vars: JSONNode? = nil
  /// Per-class overrides of `vars`, in order (a later one that holds wins): each names only
  /// variables `vars` has.
  public var classVars: [ClassVars] = []
  public var promises: [Promise] { didSet { checkedOrder = nil } }
  /// The plan order the decoder found when it checked the plan (PolicyDecoder), so that `order()`
  /// does not plan 10,000 promises twice (2.7 ms); forgotten when the promises change.
  var checkedOrder: [Int]? = nil

  public init(name: String, promises: [Promise]) {
    self.name = name
    self.promises = promises
  }

  init(name: String, promises: [Promise], checkedOrder: [Int]) {
    self.name = name
    self.promises = promises
    self.checkedOrder = checkedOrder
  }

  /// The order in which the promises are checked (Plan.order).
  public func order() throws(PolicyError) -> [Int] {
    if let checkedOrder { return checkedOrder }
    return try Plan.order(promises)
  }

  /// Whether any promise is a `template` (rendered at acceptance, Templates.swift).
  public var hasTemplates: Bool {
    for p in promises where p.type == .template { return true }
    return false
  }

  /// Sets a template's text and rendering. Neither changes the plan, so the checked order stays.
  public mutating func setRendering(_ i: Int, template: [UInt8], content: [UInt8]) {
    let order = checkedOrder
    promises[i].template = template
    promises[i].source = nil
    promises[i].content = content
    checkedOrder = order
  }

  /// The index of the promise with this id. Linear: for lookups in a loop, build a dictionary.
  public func index(of id: String) -> Int? {
    for i in promises.indices where promises[i].id == id { return i }
    return nil
  }
}

/// `class_vars` entry: when `condition` holds on the host, its members replace `vars`' own.
public struct ClassVars: Sendable {
  public var condition: ClassExpression
  public var conditionText: String
  public var vars: [JSONMember]

  public init(condition: ClassExpression, conditionText: String, vars: [JSONMember]) {
    self.condition = condition
    self.conditionText = conditionText
    self.vars = vars
  }
}

/// One thing wrong with a policy, with enough context to find it: the position in the file,
/// the promise id and the key when they are known.
public struct PolicyIssue: Equatable, Sendable, CustomStringConvertible {
  public var position: SourcePosition
  /// The promise's id; for one without a valid id, its number and type: "#3 (file)".
  public var promise: String?
  public var key: String?
  public var message: String

  public init(_ message: String, at position: SourcePosition, promise: String? = nil, key: String? = nil) {
    self.message = message
    self.position = position
    self.promise = promise
    self.key = key
  }

  /// `12:7: promise "app-conf": key "mode": …`, or `promise #3 (file): …` for a promise
  /// without a valid id (an id never holds `#`); the caller prefixes the file name.
  public var description: String {
    var s = position.line > 0 ? "\(position): " : ""
    if let p = promise { s += p.utf8.first == UInt8(ascii: "#") ? "promise \(p): " : "promise \"\(p)\": " }
    if let k = key { s += "key \"\(k)\": " }
    return s + message
  }
}

/// Why a policy was rejected: every issue found, in source order. Nothing was touched.
public struct PolicyError: Error, Sendable, CustomStringConvertible {
  public var issues: [PolicyIssue]

  public init(_ issues: [PolicyIssue]) { self.issues = issues }
  public init(_ issue: PolicyIssue) { self.issues = [issue] }

  public var description: String {
    var s = ""
    for (i, issue) in issues.enumerated() {
      if i > 0 { s += "\n" }
      s += issue.description
    }
    return s
  }
}
