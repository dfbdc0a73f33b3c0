/// Why a document is not strict JSON, and where.
public struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
  public var position: SourcePosition
  public var message: String

  public init(_ message: String, at position: SourcePosition) {
    self.message = message
    self.position = position
  }

  public var description: String { "\(position): \(message)" }
}

/// A strict RFC 8259 reader: no comments, no trailing commas, no leading zeros, no control
/// characters or invalid UTF-8 in strings, no lone surrogates, and no duplicate keys in one
/// object (JSON allows them, but a policy with two `mode` keys is a typo whose winner would be
/// arbitrary). Nesting is bounded so hostile input cannot exhaust the stack.
public struct JSONReader {
  /// The deepest nesting accepted; policies need 4 or 5 levels.
  public static let defaultMaxDepth = 64
  /// Objects with up to this many members find duplicate keys by scanning; larger ones by index.
  static let scanLimit = 16

  /// The most values accepted in one document. A parsed value costs about 150 bytes, so this
  /// bounds the tree near 120 MB whatever the input; a policy needs about 7 values per promise,
  /// so it allows some 115,000 promises. (10^6 promises took 1.5 GB before this bound.)
  public static let defaultMaxValues = 800_000

  public static func parse(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth,
                           maxValues: Int = defaultMaxValues) throws(JSONError) -> JSONNode {
    // With no path nothing is streamed, so the sink is never called: any type serves, and the
    // policy decoder's is the one whose copy of the reader is linked anyway. A sink type of its
    // own linked a second copy of the whole reader (12 KB of aarch64's 1,000,000 bytes).
    var parser = Parser(maxDepth: maxDepth, maxValues: maxValues, sink: PolicyPromises(), streamPath: [])
    return try bytes.withUnsafeBufferPointer { (buf) throws(JSONError) -> JSONNode in
      try parser.document(buf)
    }
  }

  /// Like `parse`, but the elements of the array at `path` (the root object's member `path[0]`,
  /// its member `path[1]`, …) go to `sink` as they are read, each before the next is parsed,
  /// and are not kept: that array is empty in the tree returned. An object element's members
  /// are lent from the reader's stack, so a policy's promises cost no tree (see PolicyDecoder).
  /// Strictness, limits and errors are those of `parse`; on an error, what the sink received
  /// is moot.
  ///
  /// `readPast`: told, every megabyte or so of streamed elements, that the text before an offset
  /// will not be read again (`PolicyDecoder.decode(releasing:)`, whose caller gives its pages back).
  public static func parse<S: JSONElementSink>(_ bytes: [UInt8], streaming path: [String], into sink: consuming S,
                                               maxDepth: Int = defaultMaxDepth,
                                               maxValues: Int = defaultMaxValues,
                                               readPast: ReadPast? = nil) throws(JSONError) -> (JSONNode, S) {
    var parser = Parser(maxDepth: maxDepth, maxValues: maxValues, sink: sink, streamPath: path)
    parser.readPast = readPast
    let root = try bytes.withUnsafeBufferPointer { (buf) throws(JSONError) -> JSONNode in
      try parser.document(buf)
    }
    return (root, parser.sink)
  }
}

/// Told that the first `count` bytes of the text at `base` will not be read again. A C function
/// (one that captures nothing): EdgeCore does no I/O, and its caller's (`dropTextPages`, EdgeHost)
/// gives their pages back to the kernel.
public typealias ReadPast = @convention(c) (_ base: UnsafeRawPointer?, _ count: Int) -> Void

/// Takes the elements of a streamed array (`JSONReader.parse(_:streaming:into:)`), in order.
public protocol JSONElementSink {
  /// An element that is an object, at `position`: its members in source order, valid only
  /// during the call.
  mutating func object(_ members: ArraySlice<JSONMember>, at position: SourcePosition)
  /// An element of any other type.
  mutating func other(_ node: JSONNode)
}

private let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\"), newline = UInt8(ascii: "\n")

private struct Parser<Sink: JSONElementSink> {
  let maxDepth: Int
  let maxValues: Int
  var sink: Sink
  /// Where the array whose elements go to `sink` is (empty: nowhere), and how many of its keys
  /// the objects being read match from the root.
  let streamPath: [String]
  var matched = 0
  var readPast: ReadPast? = nil
  /// The offset `readPast` was last told.
  var toldPast = 0
  var values = 0
  var at = 0
  var line = 1
  var lineStart = 0
  var depth = 0
  var buf = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
  // Scratch shared by every level, kept for the whole document: an object's members (an
  // array's items) gather on top of the stack and leave as one array of exact size, so a
  // container costs one allocation, not one per doubling; an escaped string is unescaped
  // here before its one String is made. (A policy of 10^4 promises allocated 15 per promise.)
  var memberStack: [JSONMember] = []
  var itemStack: [JSONNode] = []
  var text: [UInt8] = []

  init(maxDepth: Int, maxValues: Int, sink: consuming Sink, streamPath: [String]) {
    self.maxDepth = maxDepth
    self.maxValues = maxValues
    self.sink = sink
    self.streamPath = streamPath
  }

  var position: SourcePosition { SourcePosition(line: line, column: at - lineStart + 1) }

  func fail(_ message: String) -> JSONError { JSONError(message, at: position) }

  mutating func document(_ b: UnsafeBufferPointer<UInt8>) throws(JSONError) -> JSONNode {
    buf = b
    // A UTF-8 byte order mark is not JSON (RFC 8259 §8.1), but editors write one: say so plainly.
    if b.count >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF { throw fail("byte order mark is not allowed") }
    skipWhitespace()
    if at == buf.count { throw fail("empty document") }
    let node = try value()
    skipWhitespace()
    if at != buf.count { throw fail("unexpected \(describe(buf[at])) after the document") }
    return node
  }

  mutating func skipWhitespace() {
    while at < buf.count {
      switch buf[at] {
      case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"): at += 1
      case newline: at += 1; line += 1; lineStart = at
      default: return
      }
    }
  }

  mutating func value() throws(JSONError) -> JSONNode {
    let start = try beginValue()
    return try value(at: start)
  }

  /// Counts a value about to be read and checks there is one; returns where it starts.
  mutating func beginValue() throws(JSONError) -> SourcePosition {
    values += 1
    if values > maxValues { throw fail("more than \(maxValues) values: too large for this agent") }
    let start = position
    guard at < buf.count else { throw fail("unexpected end of input, expected a value") }
    return start
  }

  mutating func value(at start: SourcePosition) throws(JSONError) -> JSONNode {
    switch buf[at] {
    case UInt8(ascii: "{"): return JSONNode(.object(try object()), at: start)
    case UInt8(ascii: "["): return JSONNode(.array(try array()), at: start)
    case quote: return JSONNode(.string(try string()), at: start)
    case UInt8(ascii: "t"): try literal("true"); return JSONNode(.bool(true), at: start)
    case UInt8(ascii: "f"): try literal("false"); return JSONNode(.bool(false), at: start)
    case UInt8(ascii: "n"): try literal("null"); return JSONNode(.null, at: start)
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return JSONNode(.number(try number()), at: start)
    default: throw fail("unexpected \(describe(buf[at])), expected a value")
    }
  }

  mutating func enter() throws(JSONError) {
    depth += 1
    if depth > maxDepth { throw fail("nesting deeper than \(maxDepth) levels") }
  }

  mutating func object() throws(JSONError) -> [JSONMember] {
    let base = try membersOntoStack()
    let members = Array(memberStack[base...])
    memberStack.removeSubrange(base...)
    return members
  }

  /// Reads an object onto the stack: its members are memberStack[base...] after, base returned.
  /// Nested objects push above this one's members and pop before it appends the next.
  mutating func membersOntoStack() throws(JSONError) -> Int {
    try enter()
    at += 1
    let base = memberStack.count
    // Duplicate keys: a scan while the object is small (policies' objects are), an index past
    // that, so a hostile object of 10^5 keys costs 10^5 lookups, not 10^10 comparisons.
    var index: [String: Int] = [:]
    skipWhitespace()
    if at < buf.count && buf[at] == UInt8(ascii: "}") { at += 1; depth -= 1; return base }
    while true {
      skipWhitespace()
      guard at < buf.count else { throw fail("unexpected end of input in an object") }
      guard buf[at] == quote else { throw fail("unexpected \(describe(buf[at])), expected a string key") }
      let keyPosition = position
      let key = try string()
      let count = memberStack.count - base
      if count < JSONReader.scanLimit {
        for m in memberStack[base...] where m.key == key {
          throw JSONError("duplicate key \"\(key)\" (first at \(m.keyPosition))", at: keyPosition)
        }
      } else {
        if index.isEmpty { for i in base..<memberStack.count { index[memberStack[i].key] = i } }
        if let first = index[key] {
          throw JSONError("duplicate key \"\(key)\" (first at \(memberStack[first].keyPosition))", at: keyPosition)
        }
        index[key] = memberStack.count
      }
      skipWhitespace()
      guard at < buf.count, buf[at] == UInt8(ascii: ":") else { throw fail("expected ':' after key \"\(key)\"") }
      at += 1
      skipWhitespace()
      let v: JSONNode
      if matched == depth - 1 && depth <= streamPath.count && key == streamPath[depth - 1] {
        if depth == streamPath.count && at < buf.count && buf[at] == UInt8(ascii: "[") {
          let start = try beginValue()
          try streamedArray()
          v = JSONNode(.array([]), at: start)
        } else {
          matched = depth
          v = try value()
          matched = depth - 1
        }
      } else {
        v = try value()
      }
      memberStack.append(JSONMember(key: key, keyPosition: keyPosition, value: v))
      skipWhitespace()
      guard at < buf.count else { throw fail("unexpected end of input in an object") }
      if buf[at] == UInt8(ascii: ",") {
        at += 1
        skipWhitespace()
        if at < buf.count && buf[at] == UInt8(ascii: "}") { throw fail("trailing comma before '}'") }
        continue
      }
      if buf[at] == UInt8(ascii: "}") { at += 1; depth -= 1; return base }
      throw fail("unexpected \(describe(buf[at])), expected ',' or '}'")
    }
  }

  mutating func array() throws(JSONError) -> [JSONNode] {
    try enter()
    at += 1
    let base = itemStack.count
    skipWhitespace()
    if at < buf.count && buf[at] == UInt8(ascii: "]") { at += 1; depth -= 1; return [] }
    while true {
      skipWhitespace()
      let v = try value()
      itemStack.append(v)
      skipWhitespace()
      guard at < buf.count else { throw fail("unexpected end of input in an array") }
      if buf[at] == UInt8(ascii: ",") {
        at += 1
        skipWhitespace()
        if at < buf.count && buf[at] == UInt8(ascii: "]") { throw fail("trailing comma before ']'") }
        continue
      }
      if buf[at] == UInt8(ascii: "]") {
        at += 1
        depth -= 1
        let items = Array(itemStack[base...])
        itemStack.removeSubrange(base...)
        return items
      }
      throw fail("unexpected \(describe(buf[at])), expected ',' or ']'")
    }
  }

  /// `array()`, but each element goes to the sink as soon as it is read and is not kept.
  mutating func streamedArray() throws(JSONError) {
    try enter()
    at += 1
    skipWhitespace()
    if at < buf.count && buf[at] == UInt8(ascii: "]") { at += 1; depth -= 1; return }
    while true {
      skipWhitespace()
      let start = try beginValue()
      if buf[at] == UInt8(ascii: "{") {
        let base = try membersOntoStack()
        sink.object(memberStack[base...], at: start)
        memberStack.removeSubrange(base...)
      } else {
        sink.other(try value(at: start))
      }
      // Nothing before `at` is read again: errors carry the line counted as the reader went.
      if let readPast, at - toldPast >= 1 << 20 {
        readPast(UnsafeRawPointer(buf.baseAddress), at)
        toldPast = at
      }
      skipWhitespace()
      guard at < buf.count else { throw fail("unexpected end of input in an array") }
      if buf[at] == UInt8(ascii: ",") {
        at += 1
        skipWhitespace()
        if at < buf.count && buf[at] == UInt8(ascii: "]") { throw fail("trailing comma before ']'") }
        continue
      }
      if buf[at] == UInt8(ascii: "]") { at += 1; depth -= 1; return }
      throw fail("unexpected \(describe(buf[at])), expected ',' or ']'")
    }
  }

  mutating func literal(_ word: StaticString) throws(JSONError) {
    let n = word.utf8CodeUnitCount
    let p = word.utf8Start
    for i in 0..<n {
      guard at + i < buf.count, buf[at + i] == p[i] else { throw fail("invalid literal, expected \(word)") }
    }
    at += n
  }

  mutating func number() throws(JSONError) -> String {
    let start = at
    if buf[at] == UInt8(ascii: "-") { at += 1 }
    guard at < buf.count, isDigit(buf[at]) else { throw fail("invalid number: expected a digit") }
    if buf[at] == UInt8(ascii: "0") {
      at += 1
      if at < buf.count && isDigit(buf[at]) { throw fail("invalid number: leading zero") }
    } else {
      while at < buf.count && isDigit(buf[at]) { at += 1 }
    }
    if at < buf.count && buf[at] == UInt8(ascii: ".") {
      at += 1
      guard at < buf.count, isDigit(buf[at]) else { throw fail("invalid number: expected a digit after '.'") }
      while at < buf.count && isDigit(buf[at]) { at += 1 }
    }
    if at < buf.count && (buf[at] == UInt8(ascii: "e") || buf[at] == UInt8(ascii: "E")) {
      at += 1
      if at < buf.count && (buf[at] == UInt8(ascii: "+") || buf[at] == UInt8(ascii: "-")) { at += 1 }
      guard at < buf.count, isDigit(buf[at]) else { throw fail("invalid number: expected a digit in the exponent") }
      while at < buf.count && isDigit(buf[at]) { at += 1 }
    }
    return String(decoding: UnsafeBufferPointer(rebasing: buf[start..<at]), as: UTF8.self)
  }

  mutating func string() throws(JSONError) -> String {
    at += 1
    let start = at
    // Fast path: no escapes, so the source bytes are the string.
    while at < buf.count {
      let c = buf[at]
      if c == quote {
        let bytes = UnsafeBufferPointer(rebasing: buf[start..<at])
        guard let s = String(validating: bytes, as: UTF8.self) else {
          at = start
          throw invalidUTF8(bytes)
        }
        at += 1
        return s
      }
      if c == backslash { break }
      if c < 0x20 { throw fail("control character \(hex(c)) in a string (escape it)") }
      at += 1
    }
    text.removeAll(keepingCapacity: true)
    text.append(contentsOf: UnsafeBufferPointer(rebasing: buf[start..<at]))
    while at < buf.count {
      let c = buf[at]
      if c == quote {
        guard let s = String(validating: text, as: UTF8.self) else {
          at = start
          throw invalidUTF8(UnsafeBufferPointer(rebasing: buf[start..<buf.count]))
        }
        at += 1
        return s
      }
      if c < 0x20 { throw fail("control character \(hex(c)) in a string (escape it)") }
      if c != backslash { text.append(c); at += 1; continue }
      at += 1
      guard at < buf.count else { break }
      switch buf[at] {
      case quote: text.append(quote)
      case backslash: text.append(backslash)
      case UInt8(ascii: "/"): text.append(UInt8(ascii: "/"))
      case UInt8(ascii: "b"): text.append(0x08)
      case UInt8(ascii: "f"): text.append(0x0C)
      case UInt8(ascii: "n"): text.append(0x0A)
      case UInt8(ascii: "r"): text.append(0x0D)
      case UInt8(ascii: "t"): text.append(0x09)
      case UInt8(ascii: "u"):
        var scalar = try hex4()
        if scalar >= 0xD800 && scalar < 0xDC00 {
          guard at + 2 < buf.count, buf[at + 1] == backslash, buf[at + 2] == UInt8(ascii: "u") else {
            throw fail("lone high surrogate in \\u escape")
          }
          at += 2
          let low = try hex4()
          guard low >= 0xDC00 && low < 0xE000 else { throw fail("invalid low surrogate in \\u escape") }
          scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        } else if scalar >= 0xDC00 && scalar < 0xE000 {
          throw fail("lone low surrogate in \\u escape")
        }
        appendUTF8(scalar, to: &text)
      default:
        throw fail("invalid escape '\\\(describe(buf[at]))'")
      }
      at += 1
    }
    throw fail("unterminated string")
  }

  /// Reads the 4 hex digits after `\u`; leaves `at` on the last one.
  mutating func hex4() throws(JSONError) -> UInt32 {
    var v: UInt32 = 0
    for _ in 0..<4 {
      at += 1
      guard at < buf.count, let d = hexValue(buf[at]) else { throw fail("invalid \\u escape: expected 4 hex digits") }
      v = v << 4 | UInt32(d)
    }
    return v
  }

  /// Points at the first byte that breaks UTF-8 in `bytes` (which start at `at`).
  mutating func invalidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> JSONError {
    var i = 0
    while i < bytes.count {
      let n = utf8SequenceLength(bytes, from: i)
      if n == 0 { break }
      i += n
    }
    at += i
    return fail("invalid UTF-8 in a string")
  }
}

/// The length of the valid UTF-8 sequence at `i`, or 0 if it is invalid (overlong forms,
/// surrogates and values past U+10FFFF included).
func utf8SequenceLength(_ b: UnsafeBufferPointer<UInt8>, from i: Int) -> Int {
  let c = b[i]
  if c < 0x80 { return 1 }
  func cont(_ k: Int) -> Bool { i + k < b.count && b[i + k] & 0xC0 == 0x80 }
  if c >= 0xC2 && c <= 0xDF { return cont(1) ? 2 : 0 }
  if c >= 0xE0 && c <= 0xEF {
    guard cont(1) && cont(2) else { return 0 }
    let c1 = b[i + 1]
    if c == 0xE0 && c1 < 0xA0 { return 0 }
    if c == 0xED && c1 >= 0xA0 { return 0 }
    return 3
  }
  if c >= 0xF0 && c <= 0xF4 {
    guard cont(1) && cont(2) && cont(3) else { return 0 }
    let c1 = b[i + 1]
    if c == 0xF0 && c1 < 0x90 { return 0 }
    if c == 0xF4 && c1 >= 0x90 { return 0 }
    return 4
  }
  return 0
}

private func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

func hexValue(_ c: UInt8) -> UInt8? {
  switch c {
  case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
  case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
  case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
  default: return nil
  }
}

private func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
  switch v {
  case ..<0x80: out.append(UInt8(v))
  case ..<0x800:
    out.append(UInt8(0xC0 | (v >> 6)))
    out.append(UInt8(0x80 | (v & 0x3F)))
  case ..<0x10000:
    out.append(UInt8(0xE0 | (v >> 12)))
    out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
    out.append(UInt8(0x80 | (v & 0x3F)))
  default:
    out.append(UInt8(0xF0 | (v >> 18)))
    out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
    out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
    out.append(UInt8(0x80 | (v & 0x3F)))
  }
}

private func hex(_ c: UInt8) -> String {
  let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
  return "0x" + String(digits[Int(c >> 4)]) + String(digits[Int(c & 15)])
}

/// A byte as it should appear in a message: the character if printable ASCII, else its hex.
private func describe(_ c: UInt8) -> String {
  if c >= 0x21 && c < 0x7F { return "'" + String(UnicodeScalar(c)) + "'" }
  return "byte " + hex(c)
}
