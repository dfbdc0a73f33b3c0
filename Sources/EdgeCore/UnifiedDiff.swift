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
    func emit(_ line: String) {
      if shown < maxLines { out += line + "\n"; shown += 1 } else { hidden += 1 }
    }
    // Each hunk: the changes with `context` unchanged lines around them; changes closer than
    // twice that share one, as diff's do. i and j are the lines of a and b before ops[k].
    var k = 0, i = 0, j = 0
    while k < ops.count {
      guard let first = ops[k...].firstIndex(where: { $0 != same }) else { break }
      let lead = min(context, first - k)
      while k < first - lead { k += 1; i += 1; j += 1 }
      // The hunk ends `context` lines after a change with no other within 2 * context.
      var end = first, quiet = 0
      while end < ops.count {
        quiet = ops[end] == same ? quiet + 1 : 0
        end += 1
        if quiet > 2 * context { break }
      }
      end -= max(quiet - context, 0)
      var oldCount = 0, newCount = 0
      for op in ops[k..<end] {
        if op != insert { oldCount += 1 }
        if op != delete { newCount += 1 }
      }
      emit("@@ -\(range(i, oldCount)) +\(range(j, newCount)) @@")
      while k < end {
        switch ops[k] {
        case same: emit(" " + a.text(i)); if a.missingNewline(i) { emit(noNewline) }; i += 1; j += 1
        case delete: emit("-" + a.text(i)); if a.missingNewline(i) { emit(noNewline) }; i += 1
        default: emit("+" + b.text(j)); if b.missingNewline(j) { emit(noNewline) }; j += 1
        }
        k += 1
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

  /// An edit script is one byte per step: the positions in both texts follow from the steps
  /// before it (one enum with indexes costs a specialisation of every array operation).
  let same: UInt8 = 0, delete: UInt8 = 1, insert: UInt8 = 2

  /// The shortest edit script (Myers 1986), after the common head and tail are taken off: a
  /// config change is most often a few lines in a long file. Each step's frontier is kept for the
  /// walk back, so memory grows with the square of the edits, hence `maxEdits`; nil beyond it.
  func edits(_ a: Lines, _ b: Lines) -> [UInt8]? {
    var head = 0
    while head < a.count && head < b.count && a.equal(head, b, head) { head += 1 }
    var tail = 0
    while tail < a.count - head && tail < b.count - head && a.equal(a.count - 1 - tail, b, b.count - 1 - tail) { tail += 1 }
    let n = a.count - head - tail, m = b.count - head - tail

    // The frontier before step d is kept at trace[d * d ..< (d + 1) * (d + 1)], k = -d...d.
    var trace: [Int] = []
    var v = [Int](repeating: 0, count: 2 * (n + m) + 3)
    let off = n + m + 1
    var steps = -1
    search: for d in 0...(n + m) {
      if d > maxEdits { return nil }
      trace += v[(off - d)...(off + d)]
      for k in stride(from: -d, through: d, by: 2) {
        var x = k == -d || (k != d && v[off + k - 1] < v[off + k + 1]) ? v[off + k + 1] : v[off + k - 1] + 1
        var y = x - k
        while x < n && y < m && a.equal(head + x, b, head + y) { x += 1; y += 1 }
        v[off + k] = x
        if x >= n && y >= m { steps = d; break search }
      }
    }
    guard steps >= 0 else { return nil }

    // Walk back from (n, m), one step of d at a time, diagonals first.
    var backwards: [UInt8] = []
    var x = n, y = m
    for d in stride(from: steps, through: 1, by: -1) {
      let k = x - y, base = d * d + d   // index of k = 0 in step d's frontier
      let pk = k == -d || (k != d && trace[base + k - 1] < trace[base + k + 1]) ? k + 1 : k - 1
      let px = trace[base + pk], py = px - pk
      while x > px && y > py { x -= 1; y -= 1; backwards.append(same) }
      if pk == k + 1 { y -= 1; backwards.append(insert) } else { x -= 1; backwards.append(delete) }
    }
    backwards += repeatElement(same, count: x)

    var ops = [UInt8](repeating: same, count: head)
    ops += backwards.reversed()
    ops += repeatElement(same, count: tail)
    return ops
  }
}
