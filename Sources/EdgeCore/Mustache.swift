/// Mustache templates for config files (the `template` promise type): variables (`{{name}}`,
/// dotted `{{a.b}}`, `{{.}}`), sections over lists and objects (`{{#name}}…{{/name}}`), inverted
/// sections (`{{^name}}…{{/name}}`) and comments (`{{! …}}`), with the spec's standalone-line
/// rule, so a section tag alone on its line leaves no blank line behind.
///
/// Different from the spec on purpose, for config files: nothing is HTML-escaped (`{{x}}`,
/// `{{{x}}}` and `{{&x}}` are the same), an unknown name is an error naming its line:column and
/// the name (a typo must not render an empty setting), an empty string is false, and partials
/// and delimiter changes are refused. Values are JSON (`JSONNode`): the policy's `vars`, then
/// the host's facts.
public struct MustacheTemplate: Sendable {
  enum Part: Sendable {
    case text([UInt8])
    case variable(Name)
    case section(Name, inverted: Bool, body: [Part])
  }

  struct Name: Sendable {
    var path: [String]
    var line: Int
    var column: Int
    var text: String { path.isEmpty ? "." : joined(path) }
  }

  let parts: [Part]

  public init(parsing text: [UInt8]) throws(TemplateError) {
    var p = MustacheParser(text)
    parts = try p.parseAll()
  }

  /// Renders against a stack of contexts, the innermost last (for a promise: the facts, then
  /// the vars). A name is looked up from the innermost outwards, by its first component.
  public func render(_ contexts: [JSONNode]) throws(TemplateError) -> [UInt8] {
    var out: [UInt8] = []
    var stack = contexts
    try renderParts(parts, &stack, &out)
    return out
  }
}

/// What is wrong with a template: `line:column` within the template's own text.
public struct TemplateError: Error, Sendable, CustomStringConvertible {
  public var line: Int
  public var column: Int
  public var message: String

  public var description: String { "template line \(line):\(column): \(message)" }
}

private func joined(_ path: [String]) -> String {
  var s = ""
  for (i, c) in path.enumerated() { s += (i > 0 ? "." : "") + c }
  return s
}

extension MustacheTemplate {
  private func renderParts(_ parts: [Part], _ stack: inout [JSONNode], _ out: inout [UInt8]) throws(TemplateError) {
    for part in parts {
      switch part {
      case .text(let t):
        out.append(contentsOf: t)
      case .variable(let name):
        let v = try lookup(name, stack)
        switch v.value {
        case .string(let s): out.append(contentsOf: s.utf8)
        case .number(let n): out.append(contentsOf: n.utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .null: break
        case .array, .object:
          throw TemplateError(line: name.line, column: name.column,
                              message: "\"\(name.text)\" is \(v.typeName == "array" ? "a list" : "an object"): use a section, {{#\(name.text)}}…{{/\(name.text)}}")
        }
      case .section(let name, let inverted, let body):
        let v = try lookup(name, stack)
        if inverted {
          if !truthy(v) { try renderParts(body, &stack, &out) }
          continue
        }
        guard truthy(v) else { continue }
        if let items = v.array {
          for item in items {
            stack.append(item)
            try renderParts(body, &stack, &out)
            stack.removeLast()
          }
        } else if case .bool = v.value {
          try renderParts(body, &stack, &out)
        } else {
          stack.append(v)
          try renderParts(body, &stack, &out)
          stack.removeLast()
        }
      }
    }
  }

  private func truthy(_ v: JSONNode) -> Bool {
    switch v.value {
    case .null: return false
    case .bool(let b): return b
    case .string(let s): return !s.isEmpty
    case .array(let a): return !a.isEmpty
    case .number, .object: return true
    }
  }

  /// The first component from the innermost context that has it, then down its members.
  private func lookup(_ name: Name, _ stack: [JSONNode]) throws(TemplateError) -> JSONNode {
    guard let first = name.path.first else {
      // `{{.}}`: the innermost context itself.
      return stack.last ?? JSONNode(.null, at: .none)
    }
    var found: JSONNode? = nil
    var k = stack.count
    while k > 0 && found == nil {
      k -= 1
      found = member(stack[k], first)
    }
    guard var v = found else { throw unknown(name, name.path.count == 1 ? name.text : first) }
    for c in name.path.dropFirst() {
      guard let next = member(v, c) else { throw unknown(name, name.text) }
      v = next
    }
    return v
  }

  private func member(_ v: JSONNode, _ key: String) -> JSONNode? {
    guard let members = v.members else { return nil }
    for m in members where m.key == key { return m.value }
    return nil
  }

  private func unknown(_ name: Name, _ what: String) -> TemplateError {
    TemplateError(line: name.line, column: name.column, message: "unknown variable \"\(what)\" (not in the policy's vars nor the host's facts)")
  }
}

private struct MustacheParser {
  let s: [UInt8]
  var i = 0
  var line = 1
  var lineStart = 0

  init(_ s: [UInt8]) { self.s = s }

  private struct Open {
    var name: MustacheTemplate.Name
    var inverted: Bool
    var parts: [MustacheTemplate.Part]
  }

  mutating func parseAll() throws(TemplateError) -> [MustacheTemplate.Part] {
    var parts: [MustacheTemplate.Part] = []
    var open: [Open] = []
    var text: [UInt8] = []
    func flush(_ text: inout [UInt8], _ parts: inout [MustacheTemplate.Part]) {
      if !text.isEmpty { parts.append(.text(text)); text = [] }
    }
    while i < s.count {
      guard s[i] == UInt8(ascii: "{"), i + 1 < s.count, s[i + 1] == UInt8(ascii: "{") else {
        if s[i] == 0x0A { line += 1; lineStart = i + 1 }
        text.append(s[i])
        i += 1
        continue
      }
      let tagLine = line, tagColumn = i - lineStart + 1
      let tagStart = i
      var triple = false
      i += 2
      if i < s.count && s[i] == UInt8(ascii: "{") { triple = true; i += 1 }
      var end = i
      while end + 1 < s.count && !(s[end] == UInt8(ascii: "}") && s[end + 1] == UInt8(ascii: "}")) {
        if s[end] == 0x0A { throw TemplateError(line: tagLine, column: tagColumn, message: "a tag must end on its own line (\"}}\" missing)") }
        end += 1
      }
      guard end + 1 < s.count else { throw TemplateError(line: tagLine, column: tagColumn, message: "unclosed tag (\"}}\" missing)") }
      var inner = Array(s[i..<end])
      i = end + 2
      if triple {
        guard i < s.count && s[i] == UInt8(ascii: "}") else {
          throw TemplateError(line: tagLine, column: tagColumn, message: "\"{{{\" must close with \"}}}\"")
        }
        i += 1
      }
      var sigil: UInt8 = 0
      if !triple, let c = inner.first {
        switch c {
        case UInt8(ascii: "#"), UInt8(ascii: "^"), UInt8(ascii: "/"), UInt8(ascii: "!"), UInt8(ascii: "&"),
             UInt8(ascii: ">"), UInt8(ascii: "="), UInt8(ascii: "<"):
          sigil = c
          inner.removeFirst()
        default:
          break
        }
      }
      if sigil == UInt8(ascii: ">") || sigil == UInt8(ascii: "<") {
        throw TemplateError(line: tagLine, column: tagColumn, message: "partials are not supported")
      }
      if sigil == UInt8(ascii: "=") {
        throw TemplateError(line: tagLine, column: tagColumn, message: "delimiter changes are not supported")
      }
      // A section, inverted, closing or comment tag alone on its line takes the line with it.
      let standaloneKind = sigil == UInt8(ascii: "#") || sigil == UInt8(ascii: "^") || sigil == UInt8(ascii: "/") || sigil == UInt8(ascii: "!")
      if standaloneKind && blankBefore(tagStart) && blankAfter(i) {
        while let last = text.last, last == 0x20 || last == 0x09 { text.removeLast() }
        while i < s.count && (s[i] == 0x20 || s[i] == 0x09) { i += 1 }
        if i < s.count && s[i] == 0x0D { i += 1 }
        if i < s.count && s[i] == 0x0A { i += 1; line += 1; lineStart = i }
      }
      if sigil == UInt8(ascii: "!") { continue }
      let name = try parseName(inner, line: tagLine, column: tagColumn)
      flush(&text, &parts)
      switch sigil {
      case UInt8(ascii: "#"), UInt8(ascii: "^"):
        open.append(Open(name: name, inverted: sigil == UInt8(ascii: "^"), parts: parts))
        parts = []
      case UInt8(ascii: "/"):
        guard let o = open.popLast() else {
          throw TemplateError(line: tagLine, column: tagColumn, message: "\"{{/\(name.text)}}\" closes no section")
        }
        guard o.name.path == name.path else {
          throw TemplateError(line: tagLine, column: tagColumn, message: "\"{{/\(name.text)}}\" closes \"\(o.name.text)\" (opened at line \(o.name.line):\(o.name.column))")
        }
        let body = parts
        parts = o.parts
        parts.append(.section(o.name, inverted: o.inverted, body: body))
      default:
        parts.append(.variable(name))
      }
    }
    flush(&text, &parts)
    if let o = open.last {
      throw TemplateError(line: o.name.line, column: o.name.column, message: "section \"\(o.name.text)\" is never closed")
    }
    return parts
  }

  private func blankBefore(_ at: Int) -> Bool {
    var k = at
    while k > 0 && s[k - 1] != 0x0A {
      if s[k - 1] != 0x20 && s[k - 1] != 0x09 { return false }
      k -= 1
    }
    return true
  }

  private func blankAfter(_ at: Int) -> Bool {
    var k = at
    while k < s.count && s[k] != 0x0A {
      if s[k] != 0x20 && s[k] != 0x09 && s[k] != 0x0D { return false }
      k += 1
    }
    return true
  }

  private func parseName(_ inner: [UInt8], line: Int, column: Int) throws(TemplateError) -> MustacheTemplate.Name {
    var a = 0, b = inner.count
    while a < b && (inner[a] == 0x20 || inner[a] == 0x09) { a += 1 }
    while b > a && (inner[b - 1] == 0x20 || inner[b - 1] == 0x09) { b -= 1 }
    let t = inner[a..<b]
    if t.count == 1 && t.first == UInt8(ascii: ".") { return MustacheTemplate.Name(path: [], line: line, column: column) }
    var path: [String] = []
    for c in t.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
      var ok = !c.isEmpty
      for x in c where !(isWordByte(x) || x == 0x2D) { ok = false }
      guard ok else {
        throw TemplateError(line: line, column: column,
                            message: "\"\(String(decoding: t, as: UTF8.self))\" is not a name (letters, digits, _ and -, parts joined by \".\")")
      }
      path.append(String(decoding: c, as: UTF8.self))
    }
    return MustacheTemplate.Name(path: path, line: line, column: column)
  }
}
