/// The candidate an operator most likely meant by `word`, for "did you mean" hints: the one at
/// the smallest edit distance (insertions, deletions, substitutions and swaps of two neighbours,
/// counted on bytes, ASCII case ignored), when it is close: 1 edit for words of up to 4 bytes, 2
/// for longer ones, and never the whole word. The first such candidate wins a tie; nil when none.
public func suggestion(for word: String, among candidates: [String]) -> String? {
  let w = Array(word.utf8)
  if w.isEmpty || w.count > 64 { return nil }
  let limit = w.count <= 4 ? 1 : 2
  var best: String? = nil, bestDistance = limit + 1
  for c in candidates {
    let u = Array(c.utf8)
    let d = editDistance(w, u)
    if d < bestDistance && d < u.count { best = c; bestDistance = d }
  }
  return best
}

private func folded(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5A ? c | 0x20 : c }

/// Optimal string alignment distance (Levenshtein plus adjacent swaps), in three rows.
private func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
  if a.isEmpty || b.isEmpty { return a.count + b.count }
  var before = [Int](repeating: 0, count: b.count + 1)
  var previous = before, current = before
  for j in 0...b.count { previous[j] = j }
  for i in 1...a.count {
    current[0] = i
    for j in 1...b.count {
      let x = folded(a[i - 1]), y = folded(b[j - 1])
      var d = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x == y ? 0 : 1))
      if i > 1 && j > 1 && x == folded(b[j - 2]) && folded(a[i - 2]) == y { d = min(d, before[j - 2] + 1) }
      current[j] = d
    }
    (before, previous, current) = (previous, current, before)
  }
  return previous[b.count]
}
