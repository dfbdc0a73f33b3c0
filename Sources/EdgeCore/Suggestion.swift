/// The candidate an operator most likely meant by `word`, for "did you mean" hints: the one at
/// the smallest edit distance (insertions, deletions, substitutions and swaps of two neighbours,
/// counted on bytes, case ignored), when it is close: 1 edit for words of up to 4 bytes, 2 for
/// longer ones, and never the whole word. The first such candidate wins a tie; nil when none.
public func suggestion(for word: String, among candidates: [String]) -> String? {
  let w = lowered(word)
  if w.isEmpty || w.count > 64 { return nil }
  let limit = w.count <= 4 ? 1 : 2
  var best: String? = nil, bestDistance = limit + 1
  for c in candidates {
    let d = editDistance(w, lowered(c))
    if d < bestDistance && d < c.utf8.count { best = c; bestDistance = d }
  }
  return best
}

private func lowered(_ s: String) -> [UInt8] {
  s.utf8.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 + 32 : $0 }
}

/// Optimal string alignment distance (Levenshtein plus adjacent swaps), in three rows.
private func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
  if a.isEmpty { return b.count }
  if b.isEmpty { return a.count }
  var before = [Int](repeating: 0, count: b.count + 1)
  var previous = Array(0...b.count)
  var current = [Int](repeating: 0, count: b.count + 1)
  for i in 1...a.count {
    current[0] = i
    for j in 1...b.count {
      let cost = a[i - 1] == b[j - 1] ? 0 : 1
      var d = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
      if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] { d = min(d, before[j - 2] + 1) }
      current[j] = d
    }
    (before, previous, current) = (previous, current, before)
  }
  return previous[b.count]
}
