/// The regular expressions of `line` promises (`match`): POSIX extended syntax, a subset, matched
/// by a small Pike VM over a line's bytes. Its own, not libc's regcomp: the same
/// answers under glibc and musl, checked when the policy is decoded (EdgeCore calls no C), and a
/// fraction of musl's TRE in the binary.
///
/// Syntax: literals; `.`; bracket expressions `[a-z_]`, `[^#]` (ranges and `\` escapes inside);
/// `^` and `$`; groups `( )` with `|`; `*`, `+`, `?`, `{m}`, `{m,}`, `{m,n}` (n at most 255);
/// escapes `\d \D \s \S \w \W \b` and `\` before any punctuation. A search: the expression may
/// match anywhere in the line unless anchored. Bytes, not characters: UTF-8 text matches
/// literally. Matched in time linear in the line (a Pike VM), so no expression can hold the loop.
public struct LineRegex: Sendable {
  indirect enum Node: Sendable {
    case byte(UInt8)
    case any
    case set([Bool])             // 256 entries
    case start, end, wordBoundary
    case group([[Node]])         // alternatives, each a sequence
    case repeated(Node, min: Int, max: Int)   // max -1: unbounded
  }

  /// The compiled program (Thompson's construction), run as a Pike VM: every thread advances
  /// one byte at a time, so a match costs at most program length x line length steps, whatever
  /// the pattern (no backtracking, nothing exponential).
  let program: [Instruction]
  let sets: [[Bool]]
  public let source: String
  /// The largest program: `{m,n}` copies its operand, so nested counts could grow past reason.
  public static let maxInstructions = 10_000

  public init(_ pattern: String) throws(RegexError) {
    var p = RegexParser(Array(pattern.utf8))
    let alternatives = try p.parseAlternatives(depth: 0)
    if p.i < p.s.count { throw RegexError(offset: p.i, message: "unmatched \")\"") }
    var c = RegexCompiler()
    try c.alternatives(alternatives)
    c.emit(.match)
    program = c.program
    sets = c.sets
    source = pattern
  }

  /// Whether the expression matches somewhere in `line` (without its newline).
  public func matches(_ line: ArraySlice<UInt8>) -> Bool {
    let n = program.count
    var current = [Int](), next = [Int]()
    current.reserveCapacity(n)
    next.reserveCapacity(n)
    // The position each instruction was last added at: a thread is added once per position.
    var seen = [Int](repeating: -1, count: n)
    let bytes = Array(line)
    for at in 0...bytes.count {
      // A new thread starts at every position: a search, not an anchored match.
      if add(0, at, bytes, &current, &seen) { return true }
      if at == bytes.count { break }
      let b = bytes[at]
      next.removeAll(keepingCapacity: true)
      for pc in current {
        let step: Bool
        switch program[pc] {
        case .byte(let want): step = b == want
        case .any: step = true
        case .set(let k): step = sets[k][Int(b)]
        default: step = false
        }
        if step && add(pc + 1, at + 1, bytes, &next, &seen) { return true }
      }
      swap(&current, &next)
    }
    return false
  }

  /// Adds the thread at `pc` for position `at`, following jumps, splits and assertions; true
  /// when it reaches `match`.
  private func add(_ pc: Int, _ at: Int, _ bytes: [UInt8], _ list: inout [Int], _ seen: inout [Int]) -> Bool {
    var stack = [pc]
    while let pc = stack.popLast() {
      if seen[pc] == at { continue }
      seen[pc] = at
      switch program[pc] {
      case .match: return true
      case .jump(let to): stack.append(to)
      case .split(let a, let b):
        stack.append(b)
        stack.append(a)
      case .start: if at == 0 { stack.append(pc + 1) }
      case .end: if at == bytes.count { stack.append(pc + 1) }
      case .wordBoundary:
        let before = at > 0 && isWordByte(bytes[at - 1]), after = at < bytes.count && isWordByte(bytes[at])
        if before != after { stack.append(pc + 1) }
      case .byte, .any, .set: list.append(pc)
      }
    }
    return false
  }
}

enum Instruction: Sendable {
  case byte(UInt8)
  case any
  case set(Int)
  case start, end, wordBoundary
  /// Try `a`, then `b` (`a` first: the order does not change whether a line matches).
  case split(Int, Int)
  case jump(Int)
  case match
}

/// A letter, a digit or `_` (ASCII): regex's `\w`; with `-`, the names of template variables.
func isWordByte(_ c: UInt8) -> Bool {
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
}

private struct RegexCompiler {
  var program: [Instruction] = []
  var sets: [[Bool]] = []

  mutating func emit(_ i: Instruction) { program.append(i) }

  mutating func alternatives(_ alts: [[LineRegex.Node]]) throws(RegexError) {
    guard alts.count > 1 else {
      for n in alts[0] { try node(n) }
      return
    }
    // split L1, next; L1: seq; jump end; next: split L2, … ; last: seq; end:
    var jumps: [Int] = []
    for (k, seq) in alts.enumerated() {
      let split = program.count
      if k < alts.count - 1 { emit(.split(split + 1, 0)) }
      for n in seq { try node(n) }
      if k < alts.count - 1 {
        jumps.append(program.count)
        emit(.jump(0))
        program[split] = .split(split + 1, program.count)
      }
    }
    for j in jumps { program[j] = .jump(program.count) }
    try check()
  }

  mutating func node(_ n: LineRegex.Node) throws(RegexError) {
    switch n {
    case .byte(let b): emit(.byte(b))
    case .any: emit(.any)
    case .set(let t):
      sets.append(t)
      emit(.set(sets.count - 1))
    case .start: emit(.start)
    case .end: emit(.end)
    case .wordBoundary: emit(.wordBoundary)
    case .group(let alts): try alternatives(alts)
    case .repeated(let inner, let min, let max):
      for _ in 0..<min { try node(inner) }
      if max < 0 {
        // L: split body, out; body; jump L
        let l = program.count
        emit(.split(l + 1, 0))
        try node(inner)
        emit(.jump(l))
        program[l] = .split(l + 1, program.count)
      } else if max > min {
        // Each optional copy: split body, out (all to the common end).
        var splits: [Int] = []
        for _ in min..<max {
          splits.append(program.count)
          emit(.split(program.count + 1, 0))
          try node(inner)
        }
        for s in splits { program[s] = .split(s + 1, program.count) }
      }
    }
    try check()
  }

  private func check() throws(RegexError) {
    if program.count > LineRegex.maxInstructions { throw RegexError(offset: 0, message: "expression too large (repeat counts)") }
  }
}

/// A pattern that does not parse: the byte offset in the pattern and what is wrong.
public struct RegexError: Error, Sendable, CustomStringConvertible {
  public var offset: Int
  public var message: String
  public var description: String { "at offset \(offset): \(message)" }
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
    let word: (UInt8) -> Bool = isWordByte
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
