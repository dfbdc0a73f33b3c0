import EdgeCore
import Foundation
import XCTest

final class UnifiedDiffTests: XCTestCase {
  private func diff(_ old: String, _ new: String) -> String {
    UnifiedDiff().text(old: Array(old.utf8), new: Array(new.utf8), path: "/etc/x")
  }

  /// The body (hunks) of GNU diff's `diff -u --minimal` on the same two texts.
  private func gnuHunks(_ old: String, _ new: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("udiff-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    try Data(old.utf8).write(to: dir.appendingPathComponent("a"))
    try Data(new.utf8).write(to: dir.appendingPathComponent("b"))
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/diff")
    p.arguments = ["-u", "--minimal", dir.appendingPathComponent("a").path, dir.appendingPathComponent("b").path]
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: out, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
      .dropFirst(2).joined(separator: "\n")
  }

  private func body(_ d: String) -> String {
    d.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(2).joined(separator: "\n")
  }

  func testEqualTextsHaveNoDiff() {
    XCTAssertEqual(diff("a\nb\n", "a\nb\n"), "")
  }

  func testOneChangedLineInALongFileShowsThreeLinesOfContext() {
    let old = (1...20).map { "line \($0)\n" }.joined()
    let new = old.replacingOccurrences(of: "line 10\n", with: "line ten\n")
    XCTAssertEqual(diff(old, new), """
      --- /etc/x
      +++ /etc/x (promised)
      @@ -7,7 +7,7 @@
       line 7
       line 8
       line 9
      -line 10
      +line ten
       line 11
       line 12
       line 13

      """)
  }

  func testAFileCreatedIsAllAdditionsAndAMissingNewlineIsSaid() {
    XCTAssertEqual(diff("", "a\nb"), "--- /etc/x\n+++ /etc/x (promised)\n@@ -0,0 +1,2 @@\n+a\n+b\n\\ No newline at end of file\n")
    XCTAssertEqual(diff("a\nend", "a\nend\n"), "--- /etc/x\n+++ /etc/x (promised)\n@@ -1,2 +1,2 @@\n a\n-end\n\\ No newline at end of file\n+end\n")
  }

  /// Applies a unified diff's hunks as patch(1) would, checking every context and removed line
  /// and each hunk's position and counts.
  private func patched(_ old: String, with diff: String) throws -> String {
    let a = old.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    var out: [String] = [], next = 0
    var lines = diff.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    if lines.last == "" { lines.removeLast() }
    var i = 0
    while i < lines.count {
      let h = lines[i].split(separator: " ")   // @@ -s,c +s,c @@
      guard h.count == 4, h[0] == "@@" else { throw PatchError("not a hunk header: \(lines[i])") }
      func range(_ t: Substring) -> (Int, Int) {
        let p = t.dropFirst().split(separator: ",").map { Int($0)! }
        return (p[0], p.count > 1 ? p[1] : 1)
      }
      let (os, oc) = range(h[1]), (_, nc) = range(h[2])
      let start = oc == 0 ? os : os - 1
      guard start >= next else { throw PatchError("hunks overlap or go back") }
      out += a[next..<start]
      next = start
      var seenOld = 0, seenNew = 0
      i += 1
      while i < lines.count && !lines[i].hasPrefix("@@") {
        let l = lines[i], text = String(l.dropFirst())
        switch l.first {
        case " ": guard a[next] == text else { throw PatchError("context differs at \(next + 1)") }
          out.append(text); next += 1; seenOld += 1; seenNew += 1
        case "-": guard a[next] == text else { throw PatchError("removed line differs at \(next + 1)") }
          next += 1; seenOld += 1
        case "+": out.append(text); seenNew += 1
        default: throw PatchError("bad line \(l)")
        }
        i += 1
      }
      guard seenOld == oc, seenNew == nc else { throw PatchError("counts: \(seenOld)/\(oc) \(seenNew)/\(nc)") }
    }
    out += a[next...]
    return out.map { $0 + "\n" }.joined()
  }

  /// Against GNU diff on texts a seeded generator edits at random: the same hunks, line for line,
  /// where both scripts are the shortest (--minimal), which random small texts make likely but
  /// not certain; so the count of lines removed and added must always agree, and the hunks
  /// are compared whole when they do.
  func testHunksAgreeWithGNUDiff() throws {
    var rng = SplitMix(seed: 42)
    var sameHunks = 0
    for round in 0..<100 {
      let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
      let old = (0..<Int(rng.next() % 30)).map { _ in words[Int(rng.next() % 6)] }
      var new = old
      for _ in 0..<Int(rng.next() % 6) {
        switch rng.next() % 3 {
        case 0 where !new.isEmpty: new.remove(at: Int(rng.next() % UInt64(new.count)))
        case 1: new.insert(words[Int(rng.next() % 6)], at: Int(rng.next() % UInt64(new.count + 1)))
        default: if !new.isEmpty { new[Int(rng.next() % UInt64(new.count))] = "changed" }
        }
      }
      let a = old.map { $0 + "\n" }.joined(), b = new.map { $0 + "\n" }.joined()
      let mine = body(diff(a, b)), gnu = try gnuHunks(a, b)
      func count(_ s: String, _ c: Character) -> Int { s.split(separator: "\n").filter { $0.first == c }.count }
      XCTAssertEqual(count(mine, "-"), count(gnu, "-"), "round \(round):\n\(mine)\nGNU:\n\(gnu)")
      XCTAssertEqual(count(mine, "+"), count(gnu, "+"), "round \(round):\n\(mine)\nGNU:\n\(gnu)")
      XCTAssertEqual(try patched(a, with: mine), b, "round \(round): the diff does not turn the old text into the new:\n\(mine)")
      if mine == gnu { sameHunks += 1 }
    }
    print("\(sameHunks) of 100 rounds print exactly GNU diff's hunks")
    XCTAssertGreaterThan(sameHunks, 50, "most rounds print exactly GNU diff's hunks")
  }

  func testBinaryLargeAndVeryDifferentFilesAreNamedNotDiffed() {
    XCTAssertEqual(UnifiedDiff().text(old: [0x61, 0, 0x62], new: [0x61], path: "/bin/x"), "Binary file /bin/x differs (3 -> 1 bytes)\n")
    var small = UnifiedDiff()
    small.maxBytes = 8
    XCTAssertEqual(small.text(old: Array("0123456789".utf8), new: [], path: "/x"), "File /x differs (10 -> 0 bytes, too large to show)\n")
    var few = UnifiedDiff()
    few.maxEdits = 3
    XCTAssertEqual(few.text(old: Array("a\nb\nc\n".utf8), new: Array("d\ne\nf\n".utf8), path: "/x"),
                   "File /x differs (6 -> 6 bytes; more than 3 lines changed)\n")
  }

  func testOutputIsCutAtMaxLinesAndSaysHowManyMore() {
    var d = UnifiedDiff()
    d.maxLines = 5
    let out = d.text(old: [], new: Array((1...10).map { "\($0)\n" }.joined().utf8), path: "/x")
    let lines = out.split(separator: "\n")
    XCTAssertEqual(lines.count, 8, out)   // two file names, five lines, the rest counted
    XCTAssertEqual(lines.last, "... 6 more lines of diff not shown")
  }
}

struct PatchError: Error, CustomStringConvertible {
  var description: String
  init(_ d: String) { description = d }
}

/// A small seeded generator (SplitMix64), so that a failing round is the same on every run.
struct SplitMix {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
