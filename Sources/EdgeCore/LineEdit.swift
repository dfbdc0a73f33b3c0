/// A `line` promise's edit of a file it does not own wholly: the file's new bytes, with every
/// line the edit does not concern kept byte for byte (order, blank lines, comments, a missing
/// final newline), or the same bytes when the edit holds already (kept).
///
/// Two kinds:
/// - a **line**: `line` held somewhere in the file. With `match` (LineRegex), the first line
///   that matches is replaced by it and any later matches are removed (sshd takes a keyword's
///   first value, sysctl.conf its last: one line leaves no doubt); with no match, `line` is
///   added. Absent: every line that matches (or equals `line`) is removed.
/// - a **setting**: `key` + `separator` + `value` (`ip_forward=1`, `PasswordAuthentication no`,
///   `port = 80`), found by its key (leading blanks, the key, blanks, the separator's mark; a
///   commented-out `#key` is a comment and stays), optionally within an ini `[section]`: the first
///   is rewritten, later ones removed; none is added (a missing section is added at the end).
///   Absent: every line of that key goes.
///
/// Added lines go at the end (of the file, or of the section after its last non-blank line) or,
/// with `insert: "start"`, at the start.
public final class LineEdit: Sendable {
  /// The line to hold (line kind).
  public let line: String
  public let match: LineRegex?
  /// The setting (setting kind: `key` is not empty).
  public let key: String
  public let value: String
  public let separator: String
  public let section: String
  public let atStart: Bool

  public init(line: String = "", match: LineRegex? = nil, key: String = "", value: String = "", separator: String = "=",
              section: String = "", atStart: Bool = false) {
    self.line = line
    self.match = match
    self.key = key
    self.value = value
    self.separator = separator
    self.section = section
    self.atStart = atStart
  }

  public var isSetting: Bool { !key.isEmpty }

  /// What the kept check compares the file against, as text for the digest that stands for
  /// "this edit" in the stat cache (a changed promise is checked again).
  public var identity: [UInt8] {
    var b: [UInt8] = []
    for part in [line, match?.source ?? "", key, value, separator, section, atStart ? "start" : "end"] {
      b.append(contentsOf: part.utf8)
      b.append(0)
    }
    return b
  }

  /// The file's bytes after the edit (`absent`: the lines removed).
  public func apply(to text: [UInt8], absent: Bool) -> [UInt8] {
    var lines = splitLines(text)
    var lo = 0, hi = lines.count
    if isSetting && !section.isEmpty {
      guard let header = lines.firstIndex(where: { sectionName($0) == section }) else {
        if absent { return text }
        var out = text
        if let last = out.last, last != 0x0A { out.append(0x0A) }
        out.append(contentsOf: ("[" + section + "]\n" + key + separator + value + "\n").utf8)
        return out
      }
      lo = header + 1
      hi = lines[lo...].firstIndex(where: { sectionName($0) != nil }) ?? lines.count
    }
    let wanted = Array((isSetting ? key + separator + value : line).utf8)
    var found: [Int] = []
    for k in lo..<hi where concerns(lines[k].body) { found.append(k) }
    if absent {
      if !isSetting && match == nil { found = (lo..<hi).filter { lines[$0].body == wanted } }
      for k in found.reversed() { lines.remove(at: k) }
      return joinLines(lines)
    }
    if let first = found.first {
      lines[first].body = wanted
      for k in found.dropFirst().reversed() { lines.remove(at: k) }
    } else if !(lo..<hi).contains(where: { lines[$0].body == wanted }) {
      var at = lo
      if !atStart {
        at = hi
        while at > lo && lines[at - 1].body.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { at -= 1 }
      }
      // A last line without its newline gets one, so the added line is a line of its own.
      if at == lines.count, let last = lines.indices.last, !lines[last].newline { lines[last].newline = true }
      lines.insert(Line(body: wanted, newline: true), at: at)
    }
    return joinLines(lines)
  }

  /// Whether a line is one this edit replaces or removes.
  private func concerns(_ body: [UInt8]) -> Bool {
    if !isSetting { return match?.matches(body[...]) ?? false }
    var i = 0
    while i < body.count && (body[i] == 0x20 || body[i] == 0x09) { i += 1 }
    let k = Array(key.utf8)
    guard body.count - i >= k.count, Array(body[i..<(i + k.count)]) == k else { return false }
    i += k.count
    var blanks = 0
    while i < body.count && (body[i] == 0x20 || body[i] == 0x09) { i += 1; blanks += 1 }
    var mark: UInt8? = nil
    for c in separator.utf8 where c != 0x20 && c != 0x09 { mark = c; break }
    if let mark { return i < body.count && body[i] == mark }
    return blanks > 0
  }

  private func sectionName(_ l: Line) -> String? {
    var b = l.body[...]
    while let f = b.first, f == 0x20 || f == 0x09 { b = b.dropFirst() }
    while let e = b.last, e == 0x20 || e == 0x09 || e == 0x0D { b = b.dropLast() }
    guard b.first == UInt8(ascii: "["), b.last == UInt8(ascii: "]"), b.count >= 2 else { return nil }
    return String(decoding: b.dropFirst().dropLast(), as: UTF8.self)
  }
}

private struct Line {
  var body: [UInt8]
  var newline: Bool
}

private func splitLines(_ text: [UInt8]) -> [Line] {
  var out: [Line] = []
  var start = 0
  for (i, c) in text.enumerated() where c == 0x0A {
    out.append(Line(body: Array(text[start..<i]), newline: true))
    start = i + 1
  }
  if start < text.count { out.append(Line(body: Array(text[start...]), newline: false)) }
  return out
}

private func joinLines(_ lines: [Line]) -> [UInt8] {
  var out: [UInt8] = []
  for l in lines {
    out.append(contentsOf: l.body)
    if l.newline { out.append(0x0A) }
  }
  return out
}
