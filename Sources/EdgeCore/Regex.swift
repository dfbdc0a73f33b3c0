/// The regular expressions of `line` promises (`match`): POSIX extended syntax, a subset, matched
/// by a small backtracking engine over a line's bytes. Its own, not libc's regcomp: the same
/// answers under glibc and musl, checked when the policy is decoded (EdgeCore calls no C), and a
/// fraction of musl's TRE in the binary.
///
/// Syntax: literals; `.`; bracket expressions `[a-z_]`, `[^#]` (ranges and `\` escapes inside);
/// `^` and `$`; groups `( )` with `|`; `*`, `+`, `?`, `{m}`, `{m,}`, `{m,n}` (n at most 255);
/// escapes `\d \D \s \S \w \W \b` and `\` before any punctuation. A search: the expression may
/// match anywhere in the line unless anchored. Bytes, not characters: UTF-8 text matches
/// literally. A match gives up (as no match) past `maxSteps`, so no expression can hold the loop.
public struct LineRegex: Sendable {
  indirect enum Node: Sendable {
    case byte(UInt8)
    case any
    case set([Bool])             // 256 entries
    case start, end, wordBoundary
    case group([[Node]])         // alternatives, each a sequence
    case repeated(Node, min: Int, max: Int)   // max -1: unbounded
  }

  let alternatives: [[Node]]
  public let source: String
  /// A step budget per line: an exponential pattern on a long line stops here.
  public static let maxSteps = 100_000

  public init(_ pattern: String) throws(RegexError) {
    var p = RegexParser(Array(pattern.utf8))
    alternatives = try p.parseAlternatives(depth: 0)
    if p.i < p.s.count { throw RegexError(offset: p.i, message: "unmatched \")\"") }
    source = pattern
  }

  /// Whether the expression matches somewhere in `line` (without its newline).
  public func matches(_ line: ArraySlice<UInt8>) -> Bool {
    let m = RegexMatcher(Array(line))
    for start in 0...m.s.count {
      if m.matchAlternatives(alternatives, start, { _ in true }) { return true }
      if m.steps > LineRegex.maxSteps { return false }
    }
    return false
  }
}

/// A pattern that does not parse: the byte offset in the pattern and what is wrong.
public struct RegexError: Error, Sendable, CustomStringConvertible {
  public var offset: Int
  public var message: String
  public var description: String { "at offset \(offset): \(message)" }
}

/// A class: the continuations call back into it while a match is under way.
private final class RegexMatcher {
  let s: [UInt8]
  var steps = 0

  init(_ s: [UInt8]) { self.s = s }

  private static func isWord(_ c: UInt8) -> Bool {
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
  }

  func matchAlternatives(_ alts: [[LineRegex.Node]], _ i: Int, _ k: (Int) -> Bool) -> Bool {
    for seq in alts where matchSequence(seq[...], i, k) { return true }
    return false
  }

  /// Matches `seq` from `i`, then asks the continuation `k` about the rest.
  func matchSequence(_ seq: ArraySlice<LineRegex.Node>, _ i: Int, _ k: (Int) -> Bool) -> Bool {
    steps += 1
    if steps > LineRegex.maxSteps { return false }
    guard let node = seq.first else { return k(i) }
    let rest = seq.dropFirst()
    switch node {
    case .byte(let b):
      return i < s.count && s[i] == b && matchSequence(rest, i + 1, k)
    case .any:
      return i < s.count && matchSequence(rest, i + 1, k)
    case .set(let table):
      return i < s.count && table[Int(s[i])] && matchSequence(rest, i + 1, k)
    case .start:
      return i == 0 && matchSequence(rest, i, k)
    case .end:
      return i == s.count && matchSequence(rest, i, k)
    case .wordBoundary:
      let before = i > 0 && RegexMatcher.isWord(s[i - 1]), after = i < s.count && RegexMatcher.isWord(s[i])
      return before != after && matchSequence(rest, i, k)
    case .group(let alts):
      return matchAlternatives(alts, i) { j in self.matchSequence(rest, j, k) }
    case .repeated(let inner, let min, let max):
      return matchRepeat(inner, min, max, 0, i, -1) { j in self.matchSequence(rest, j, k) }
    }
  }

  /// Greedy: one more of `inner` first, then the rest. A repetition that matched nothing stops
  /// (`(a*)*` would loop forever otherwise).
  func matchRepeat(_ inner: LineRegex.Node, _ min: Int, _ max: Int, _ count: Int, _ i: Int, _ last: Int,
                            _ k: (Int) -> Bool) -> Bool {
    if (max < 0 || count < max) && i != last {
      if matchSequence([inner][...], i, { j in self.matchRepeat(inner, min, max, count + 1, j, i, k) }) { return true }
    }
    return count >= min && k(i)
  }
}

private struct RegexParser {
  let s: [UInt8]
  var i = 0

  init(_ s: [UInt8]) { self.s = s }

  mutating func parseAlternatives(depth: Int) throws(RegexError) -> [[LineRegex.Node]] {
    if depth > 32 { throw RegexError(offset: i, message: "groups nested too deeply") }
    var alts: [[LineRegex.Node]] = [[]]
    while i < s.count {
      let c = s[i]
      if c == UInt8(ascii: ")") { break }
      if c == UInt8(ascii: "|") {
        i += 1
        alts.append([])
        continue
      }
      var atom = try parseAtom(depth: depth)
      atom = try parseQuantifier(atom)
      alts[alts.count - 1].append(atom)
    }
    return alts
  }

  private mutating func parseAtom(depth: Int) throws(RegexError) -> LineRegex.Node {
    let c = s[i]
    i += 1
    switch c {
    case UInt8(ascii: "."): return .any
    case UInt8(ascii: "^"): return .start
    case UInt8(ascii: "$"): return .end
    case UInt8(ascii: "("):
      let at = i - 1
      let alts = try parseAlternatives(depth: depth + 1)
      guard i < s.count && s[i] == UInt8(ascii: ")") else { throw RegexError(offset: at, message: "unclosed \"(\"") }
      i += 1
      return .group(alts)
    case UInt8(ascii: "["): return try parseSet(at: i - 1)
    case UInt8(ascii: "\\"): return try parseEscape(inSet: false)
    case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"), UInt8(ascii: "{"):
      throw RegexError(offset: i - 1, message: "\"\(String(decoding: [c], as: UTF8.self))\" repeats nothing")
    default: return .byte(c)
    }
  }

  private mutating func parseQuantifier(_ atom: LineRegex.Node) throws(RegexError) -> LineRegex.Node {
    guard i < s.count else { return atom }
    var min = 0, max = -1
    switch s[i] {
    case UInt8(ascii: "*"): i += 1
    case UInt8(ascii: "+"): i += 1; min = 1
    case UInt8(ascii: "?"): i += 1; max = 1
    case UInt8(ascii: "{"):
      let at = i
      i += 1
      guard let m = number() else { throw RegexError(offset: at, message: "expected a count after \"{\"") }
      min = m
      max = m
      if i < s.count && s[i] == UInt8(ascii: ",") {
        i += 1
        max = number() ?? -1
      }
      guard i < s.count && s[i] == UInt8(ascii: "}") else { throw RegexError(offset: at, message: "unclosed \"{\"") }
      i += 1
      if min > 255 || max > 255 || (max >= 0 && max < min) { throw RegexError(offset: at, message: "bad repeat count (at most 255, m <= n)") }
    default:
      return atom
    }
    switch atom {
    case .start, .end, .wordBoundary: throw RegexError(offset: i - 1, message: "an anchor cannot repeat")
    default: return .repeated(atom, min: min, max: max)
    }
  }

  private mutating func number() -> Int? {
    var n = 0, digits = 0
    while i < s.count && s[i] >= 0x30 && s[i] <= 0x39 && digits < 4 {
      n = n * 10 + Int(s[i] - 0x30)
      i += 1
      digits += 1
    }
    return digits > 0 ? n : nil
  }

  private mutating func parseEscape(inSet: Bool) throws(RegexError) -> LineRegex.Node {
    guard i < s.count else { throw RegexError(offset: i - 1, message: "\"\\\" at the end") }
    let c = s[i]
    i += 1
    var table = [Bool](repeating: false, count: 256)
    func fill(_ f: (UInt8) -> Bool, negate: Bool) -> LineRegex.Node {
      for b in 0..<256 { table[b] = f(UInt8(b)) != negate }
      return .set(table)
    }
    let digit: (UInt8) -> Bool = { $0 >= 0x30 && $0 <= 0x39 }
    let space: (UInt8) -> Bool = { $0 == 0x20 || ($0 >= 0x09 && $0 <= 0x0D) }
    let word: (UInt8) -> Bool = { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F }
    switch c {
    case UInt8(ascii: "d"): return fill(digit, negate: false)
    case UInt8(ascii: "D"): return fill(digit, negate: true)
    case UInt8(ascii: "s"): return fill(space, negate: false)
    case UInt8(ascii: "S"): return fill(space, negate: true)
    case UInt8(ascii: "w"): return fill(word, negate: false)
    case UInt8(ascii: "W"): return fill(word, negate: true)
    case UInt8(ascii: "b") where !inSet: return .wordBoundary
    case UInt8(ascii: "t"): return .byte(0x09)
    default:
      let punct = (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E)
      guard punct else { throw RegexError(offset: i - 2, message: "unknown escape \"\\\(String(decoding: [c], as: UTF8.self))\"") }
      return .byte(c)
    }
  }

  private mutating func parseSet(at: Int) throws(RegexError) -> LineRegex.Node {
    var table = [Bool](repeating: false, count: 256)
    var negate = false
    if i < s.count && s[i] == UInt8(ascii: "^") { negate = true; i += 1 }
    var first = true
    while true {
      guard i < s.count else { throw RegexError(offset: at, message: "unclosed \"[\"") }
      var c = s[i]
      if c == UInt8(ascii: "]") && !first { i += 1; break }
      first = false
      i += 1
      if c == UInt8(ascii: "\\") {
        let e = try parseEscape(inSet: true)
        switch e {
        case .byte(let b): c = b
        case .set(let t):
          for b in 0..<256 where t[b] { table[b] = true }
          continue
        default: continue
        }
      }
      if i + 1 < s.count && s[i] == UInt8(ascii: "-") && s[i + 1] != UInt8(ascii: "]") {
        let hi = s[i + 1]
        i += 2
        guard hi >= c else { throw RegexError(offset: i - 3, message: "range out of order") }
        for b in Int(c)...Int(hi) { table[b] = true }
      } else {
        table[Int(c)] = true
      }
    }
    if negate { for b in 0..<256 { table[b] = !table[b] } }
    return .set(table)
  }
}
