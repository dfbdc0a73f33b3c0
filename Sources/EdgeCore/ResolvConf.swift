/// What /etc/resolv.conf tells a stub resolver, read as glibc reads it: `nameserver` lines
/// (IPv4 only, since the agent connects over IPv4; at most 3, as MAXNS), `search` or `domain`
/// (the last one wins, at most 6 domains), and `options timeout:N attempts:N ndots:N` with
/// glibc's caps. Unknown lines and options are ignored, as glibc does. No nameserver at all
/// means 127.0.0.1, glibc's default.
public struct ResolvConf: Equatable {
  public var nameservers: [String] = []
  public var search: [String] = []
  /// Names with at least this many dots are tried as given before the search list.
  public var ndots = 1
  /// Per query and server.
  public var timeoutMs: UInt64 = 5000
  /// Rounds over all the servers.
  public var attempts = 2

  public init() {}

  public static func parse(_ text: [UInt8]) -> ResolvConf {
    var c = ResolvConf()
    for line in text.split(separator: UInt8(ascii: "\n")) {
      var content = line
      if let hash = line.firstIndex(where: { $0 == UInt8(ascii: "#") || $0 == UInt8(ascii: ";") }) { content = line[line.startIndex..<hash] }
      let fields = content.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }).map { String(decoding: $0, as: UTF8.self) }
      guard let keyword = fields.first else { continue }
      switch keyword {
      case "nameserver":
        if fields.count >= 2, isIPv4Literal(fields[1]), c.nameservers.count < 3 { c.nameservers.append(fields[1]) }
      case "search", "domain":
        c.search = Array(fields.dropFirst().prefix(6))
      case "options":
        for o in fields.dropFirst() {
          if let n = option(o, "timeout:") { c.timeoutMs = UInt64(max(1, min(n, 30))) * 1000 }
          if let n = option(o, "attempts:") { c.attempts = max(1, min(n, 5)) }
          if let n = option(o, "ndots:") { c.ndots = min(n, 15) }
        }
      default: break
      }
    }
    if c.nameservers.isEmpty { c.nameservers = ["127.0.0.1"] }
    return c
  }

  static func option(_ field: String, _ prefix: String) -> Int? {
    guard field.hasPrefix(prefix) else { return nil }
    let digits = field.utf8.dropFirst(prefix.utf8.count)
    guard !digits.isEmpty, digits.count <= 4 else { return nil }
    var v = 0
    for c in digits {
      guard c >= 0x30 && c <= 0x39 else { return nil }
      v = v * 10 + Int(c - 0x30)
    }
    return v
  }

  /// The names to ask for, in order: a name ending in '.' only as given; one with `ndots` dots
  /// or more as given, then with each search domain; a shorter one the other way round.
  public func candidates(_ name: String) -> [String] {
    if name.utf8.last == UInt8(ascii: ".") { return [name] }
    var dots = 0
    for c in name.utf8 where c == UInt8(ascii: ".") { dots += 1 }
    var expanded: [String] = []
    for d in search where !d.isEmpty && d != "." { expanded.append(name + "." + d) }
    return dots >= ndots ? [name] + expanded : expanded + [name]
  }
}
