/// A unified diff of a file's content and the content promised, as `diff -u` prints it, for
/// `apply --dry-run` (Puppet's `--noop --show_diff`): what a repair would change, before it does.
///
/// Bounded, because the operator reads it on a terminal and the host may hold anything: a file
/// over `maxBytes` or with more than `maxEdits` changed lines is named with its sizes, not
/// diffed; a binary one (a NUL in its first 8,000 bytes, git's test) is named as such; past
/// `maxLines` lines of output the rest is counted, not shown. The lines are the file's bytes:
/// the caller escapes them for the terminal.
public struct UnifiedDiff {
  public var context = 3
  public var maxLines = 200
  public var maxBytes = 1 << 20
  public var maxEdits = 2_000

  public init() {}

  /// The diff of `old` (the file now) into `new` (the promised content), labelled `path`; empty
  /// when they are equal.
  public func text(old: [UInt8], new: [UInt8], path: String) -> String {
    if old == new { return "" }
    let sizes = "\(old.count) -> \(new.count) bytes"
    if isBinary(old) || isBinary(new) { return "Binary file \(path) differs (\(sizes))\n" }
    if old.count > maxBytes || new.count > maxBytes { return "File \(path) differs (\(sizes), too large to show)\n" }
    let a = Lines(old), b = Lines(new)
    guard let ops = edits(a, b) else {
      return "File \(path) differs (\(sizes); more than \(maxEdits) lines changed)\n"
    }
    var out = "--- \(path)\n+++ \(path) (promised)\n"
    var shown = 0, hidden = 0
    for h in hunks(ops) {
      var lines: [String] = ["@@ -\(range(h.oldStart, h.oldCount)) +\(range(h.newStart, h.newCount)) @@"]
      for op in ops[h.ops] {
        switch op {
        case .same(let i, _): lines.append(" " + a.text(i)); if a.missingNewline(i) { lines.append(noNewline) }
        case .delete(let i): lines.append("-" + a.text(i)); if a.missingNewline(i) { lines.append(noNewline) }
        case .insert(let j): lines.append("+" + b.text(j)); if b.missingNewline(j) { lines.append(noNewline) }
        }
      }
      for l in lines {
        if shown < maxLines { out += l + "\n"; shown += 1 } else { hidden += 1 }
      }
    }
    if hidden > 0 { out += "... \(hidden) more lines of diff not shown\n" }
    return out
  }

  let noNewline = "\\ No newline at end of file"

  func isBinary(_ bytes: [UInt8]) -> Bool {
    bytes.prefix(8_000).contains(0)
  }

  /// `diff -u`'s range: the first line (1-based; the line before for an empty range) and the
  /// count when it is not 1.
  func range(_ start: Int, _ count: Int) -> String {
    count == 1 ? "\(start + 1)" : "\(count == 0 ? start : start + 1),\(count)"
  }

  /// A text cut into lines: byte ranges without their newline.
  struct Lines {
    let bytes: [UInt8]
    var ranges: [Range<Int>] = []

    init(_ bytes: [UInt8]) {
      self.bytes = bytes
      var start = 0
      for (i, c) in bytes.enumerated() where c == UInt8(ascii: "\n") {
        ranges.append(start..<i)
        start = i + 1
      }
      if start < bytes.count { ranges.append(start..<bytes.count) }
    }

    var count: Int { ranges.count }
    /// The same bytes, and both or neither the last line without a newline (as diff sees them).
    func equal(_ i: Int, _ other: Lines, _ j: Int) -> Bool {
      bytes[ranges[i]].elementsEqual(other.bytes[other.ranges[j]]) && missingNewline(i) == other.missingNewline(j)
    }
    func text(_ i: Int) -> String { String(decoding: bytes[ranges[i]], as: UTF8.self) }
    func missingNewline(_ i: Int) -> Bool { i == ranges.count - 1 && ranges[i].upperBound == bytes.count && bytes.last != UInt8(ascii: "\n") }
  }

  enum Edit {
    case same(Int, Int)
    case delete(Int)
    case insert(Int)
  }

  /// The shortest edit script (Myers 1986), after the common head and tail are taken off: a
  /// config change is most often a few lines in a long file. Each step's frontier is kept for the
  /// walk back, so memory grows with the square of the edits, hence `maxEdits`; nil beyond it.
  func edits(_ a: Lines, _ b: Lines) -> [Edit]? {
    var head = 0
    while head < a.count && head < b.count && a.equal(head, b, head) { head += 1 }
    var tail = 0
    while tail < a.count - head && tail < b.count - head && a.equal(a.count - 1 - tail, b, b.count - 1 - tail) { tail += 1 }
    let n = a.count - head - tail, m = b.count - head - tail

    var trace: [[Int]] = []
    var v = [Int](repeating: 0, count: 2 * (n + m) + 3)
    let off = n + m + 1
    var found = false
    search: for d in 0...(n + m) {
      if d > maxEdits { return nil }
      trace.append(Array(v[(off - d)...(off + d)]))
      for k in stride(from: -d, through: d, by: 2) {
        var x = k == -d || (k != d && v[off + k - 1] < v[off + k + 1]) ? v[off + k + 1] : v[off + k - 1] + 1
        var y = x - k
        while x < n && y < m && a.equal(head + x, b, head + y) { x += 1; y += 1 }
        v[off + k] = x
        if x >= n && y >= m { found = true; break search }
      }
    }
    guard found else { return nil }

    // Walk back from (n, m), one step of d at a time, diagonals first.
    var middle: [Edit] = []
    var x = n, y = m
    for d in stride(from: trace.count - 1, through: 0, by: -1) {
      let k = x - y
      if d == 0 {
        while x > 0 { x -= 1; y -= 1; middle.append(.same(head + x, head + y)) }
        break
      }
      let prev = trace[d]   // the frontier of step d - 1, for k in -d...d (index k + d)
      let pk = k == -d || (k != d && prev[k - 1 + d] < prev[k + 1 + d]) ? k + 1 : k - 1
      let px = prev[pk + d], py = px - pk
      while x > px && y > py { x -= 1; y -= 1; middle.append(.same(head + x, head + y)) }
      if pk == k + 1 { y -= 1; middle.append(.insert(head + y)) } else { x -= 1; middle.append(.delete(head + x)) }
    }

    var ops: [Edit] = []
    for i in 0..<head { ops.append(.same(i, i)) }
    ops += middle.reversed()
    for t in 0..<tail { ops.append(.same(a.count - tail + t, b.count - tail + t)) }
    return ops
  }

  struct Hunk {
    var ops: Range<Int>
    var oldStart: Int, oldCount: Int, newStart: Int, newCount: Int
  }

  /// Runs of changes with `context` unchanged lines around them; runs closer than twice that
  /// share a hunk, as diff's do.
  func hunks(_ ops: [Edit]) -> [Hunk] {
    var changed: [Int] = []
    for (i, op) in ops.enumerated() { if case .same = op { continue }; changed.append(i) }
    guard !changed.isEmpty else { return [] }
    var spans: [Range<Int>] = []
    var lo = max(changed[0] - context, 0), hi = min(changed[0] + context + 1, ops.count)
    for c in changed.dropFirst() {
      if c - context <= hi { hi = min(c + context + 1, ops.count); continue }
      spans.append(lo..<hi)
      lo = c - context; hi = min(c + context + 1, ops.count)
    }
    spans.append(lo..<hi)

    var out: [Hunk] = []
    for s in spans {
      // Where the hunk starts in each file: the line of its first op, or, for an op the file
      // does not have, the line after the ops before it.
      var oldStart = 0, newStart = 0
      for op in ops[..<s.lowerBound] {
        switch op {
        case .same(let i, let j): oldStart = i + 1; newStart = j + 1
        case .delete(let i): oldStart = i + 1
        case .insert(let j): newStart = j + 1
        }
      }
      var oldCount = 0, newCount = 0
      for op in ops[s] {
        switch op {
        case .same: oldCount += 1; newCount += 1
        case .delete: oldCount += 1
        case .insert: newCount += 1
        }
      }
      out.append(Hunk(ops: s, oldStart: oldStart, oldCount: oldCount, newStart: newStart, newCount: newCount))
    }
    return out
  }
}
