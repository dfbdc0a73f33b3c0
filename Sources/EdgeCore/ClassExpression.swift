/// A class expression as in CFEngine's contexts: names of host classes (`x86_64`, `linux`,
/// `role_router`) combined with `&` (or `.`), `|`, `!` and parentheses; `&` binds tighter than
/// `|`. `any` is always true.
///
/// Stored in postfix order so that evaluation is a loop over a bit stack, with no recursion and
/// no allocation: a promise's condition is checked on every run.
public struct ClassExpression: Sendable, Equatable {
  public enum Op: Sendable, Equatable {
    case name(String)
    case not, and, or
  }

  public private(set) var ops: [Op]

  /// The deepest evaluation stack a parsed expression may need; bounded by the bit stack.
  public static let maxDepth = 63

  /// Parses `text`. Errors give the byte offset of the problem within the expression.
  public init(parsing text: String) throws(ClassExpressionError) {
    var p = ClassParser(Array(text.utf8))
    ops = try p.parse()
    var depth = 0, maxSeen = 0
    for op in ops {
      switch op {
      case .name: depth += 1
      case .not: break
      case .and, .or: depth -= 1
      }
      maxSeen = max(maxSeen, depth)
    }
    if maxSeen > ClassExpression.maxDepth { throw ClassExpressionError(offset: 0, message: "expression too deeply nested") }
  }

  /// Evaluates against the host's classes.
  public func evaluate(_ isDefined: (String) -> Bool) -> Bool {
    var stack: UInt64 = 0
    var depth = 0
    // Over indices, not `for op in ops`: an array's iterator mallocs per element in unoptimised
    // builds (the tests'), and this runs for every promise with an `if` on every run.
    for k in ops.indices {
      switch ops[k] {
      case .name(let n):
        let v = n == "any" || isDefined(n)
        stack = stack << 1 | (v ? 1 : 0)
        depth += 1
      case .not:
        stack ^= 1
      case .and:
        let b = stack & 1
        stack >>= 1
        stack = (stack & ~1) | (stack & 1 & b)
        depth -= 1
      case .or:
        let b = stack & 1
        stack >>= 1
        stack |= b
        depth -= 1
      }
    }
    return depth == 1 && stack & 1 == 1
  }

  public func evaluate(classes: Set<String>) -> Bool { evaluate { classes.contains($0) } }
}

public struct ClassExpressionError: Error, Equatable, Sendable, CustomStringConvertible {
  /// 0-based byte offset into the expression.
  public var offset: Int
  public var message: String
  public var description: String { "\(message) at offset \(offset)" }
}

/// Canonical class name: what CFEngine's canonify does, letters, digits and `_`, others mapped to `_`.
public func canonicalClassName(_ s: String) -> String {
  var out: [UInt8] = []
  for c in s.utf8 {
    let ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
    out.append(ok ? c : 0x5F)
  }
  return String(decoding: out, as: UTF8.self)
}

private struct ClassParser {
  let s: [UInt8]
  var i = 0
  var out: [ClassExpression.Op] = []
  var nesting = 0

  init(_ s: [UInt8]) { self.s = s }

  mutating func parse() throws(ClassExpressionError) -> [ClassExpression.Op] {
    skip()
    if i == s.count { throw ClassExpressionError(offset: 0, message: "empty expression") }
    try orExpr()
    skip()
    if i != s.count { throw ClassExpressionError(offset: i, message: "unexpected '\(String(UnicodeScalar(s[i])))'") }
    return out
  }

  mutating func skip() { while i < s.count && (s[i] == 0x20 || s[i] == 0x09) { i += 1 } }

  mutating func orExpr() throws(ClassExpressionError) {
    try andExpr()
    while true {
      skip()
      guard i < s.count, s[i] == UInt8(ascii: "|") else { return }
      i += 1
      if i < s.count && s[i] == UInt8(ascii: "|") { i += 1 }   // accept `||`
      try andExpr()
      out.append(.or)
    }
  }

  mutating func andExpr() throws(ClassExpressionError) {
    try notExpr()
    while true {
      skip()
      guard i < s.count, s[i] == UInt8(ascii: "&") || s[i] == UInt8(ascii: ".") else { return }
      i += 1
      if i < s.count && s[i] == UInt8(ascii: "&") { i += 1 }   // accept `&&`
      try notExpr()
      out.append(.and)
    }
  }

  mutating func notExpr() throws(ClassExpressionError) {
    skip()
    if i < s.count && s[i] == UInt8(ascii: "!") {
      i += 1
      try notExpr()
      out.append(.not)
      return
    }
    try atom()
  }

  mutating func atom() throws(ClassExpressionError) {
    skip()
    guard i < s.count else { throw ClassExpressionError(offset: i, message: "expected a class name") }
    if s[i] == UInt8(ascii: "(") {
      nesting += 1
      if nesting > ClassExpression.maxDepth { throw ClassExpressionError(offset: i, message: "expression too deeply nested") }
      i += 1
      try orExpr()
      skip()
      guard i < s.count, s[i] == UInt8(ascii: ")") else { throw ClassExpressionError(offset: i, message: "expected ')'") }
      i += 1
      nesting -= 1
      return
    }
    let start = i
    while i < s.count {
      let c = s[i]
      let ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
      if !ok { break }
      i += 1
    }
    if i == start {
      throw ClassExpressionError(offset: i, message: "expected a class name, found '\(String(UnicodeScalar(s[i])))'")
    }
    out.append(.name(String(decoding: s[start..<i], as: UTF8.self)))
  }
}
