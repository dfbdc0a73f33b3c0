/// The one duration grammar of policies, configs and flags: a whole number of seconds ("3600",
/// or the JSON number 3600), or one or more `<digits><unit>` parts with units `d`, `h`, `m`,
/// `s` and `ms`, largest first and each at most once: "1h30m", "5m30s", "250ms", "2s", "30d".
/// Returns milliseconds; nil when malformed or past `maxDurationMs`. Zero ("0", "0s") parses:
/// each key's bounds are its caller's.
public func parseDuration(_ text: String) -> Int64? {
  let u = Array(text.utf8)
  var i = 0, total: Int64 = 0
  var lastRank = -1   // the rank of the last unit seen: d 0, h 1, m 2, s 3, ms 4
  while i < u.count {
    var v: Int64 = 0, digits = 0
    while i < u.count && u[i] >= UInt8(ascii: "0") && u[i] <= UInt8(ascii: "9") {
      v = v * 10 + Int64(u[i] - UInt8(ascii: "0"))
      digits += 1
      i += 1
      if digits > 13 { return nil }   // past 100 years in any unit
    }
    if digits == 0 { return nil }
    if i == u.count {
      // Bare digits are seconds, only as the whole text ("90", not "1m30").
      return lastRank < 0 && v <= maxDurationMs / 1000 ? v * 1000 : nil
    }
    let rank: Int, unit: Int64
    switch u[i] {
    case UInt8(ascii: "d"): rank = 0; unit = 86_400_000
    case UInt8(ascii: "h"): rank = 1; unit = 3_600_000
    case UInt8(ascii: "m"):
      if i + 1 < u.count && u[i + 1] == UInt8(ascii: "s") { rank = 4; unit = 1; i += 1 } else { rank = 2; unit = 60_000 }
    case UInt8(ascii: "s"): rank = 3; unit = 1000
    default: return nil
    }
    i += 1
    guard rank > lastRank, v <= maxDurationMs / unit else { return nil }
    lastRank = rank
    total += v * unit
    if total > maxDurationMs { return nil }
  }
  return lastRank < 0 ? nil : total
}

/// "3d4h", "2h5m", "40s": a coarse age for humans.
public func duration(_ seconds: Int64) -> String {
  if seconds < 0 { return "in the future (clock behind?)" }
  if seconds < 120 { return "\(seconds)s" }
  if seconds < 7200 { return "\(seconds / 60)m" }
  if seconds < 172_800 { return "\(seconds / 3600)h\((seconds % 3600) / 60)m" }
  return "\(seconds / 86_400)d\((seconds % 86_400) / 3600)h"
}

/// The longest duration anything takes (a bundle's `--expires`): 100 years, in milliseconds.
public let maxDurationMs: Int64 = 100 * 365 * 86_400_000

/// The message for a value that is not a duration from `min` to `max` (as the grammar writes
/// them, "100ms", "1d").
public func durationExpected(from min: String, to max: String) -> String {
  "expected a duration from " + min + " to " + max
    + ": whole seconds, or a string like \"1h30m\", \"5m30s\", \"250ms\" (units d h m s ms, largest first)"
}

extension JSONNode {
  /// The duration this value holds, in milliseconds: a JSON number is whole seconds, a string
  /// is read by `parseDuration`. Nil for anything else, a negative number included.
  public var durationMs: Int64? {
    if let n = integer { return n >= 0 && n <= maxDurationMs / 1000 ? n * 1000 : nil }
    if let s = string { return parseDuration(s) }
    return nil
  }
}
