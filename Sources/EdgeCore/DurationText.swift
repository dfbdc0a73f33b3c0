/// Parses a duration as operators write it: a whole number and one unit, `s`, `m`, `h` or `d`
/// ("30d", "12h", "90s"), or bare seconds ("3600"). Returns seconds; nil for anything else,
/// zero included, or a value past 100 years.
public func parseDuration(_ text: String) -> Int64? {
  var u = Array(text.utf8)
  guard !u.isEmpty else { return nil }
  var unit: Int64 = 1
  switch u.last! {
  case UInt8(ascii: "s"): unit = 1; u.removeLast()
  case UInt8(ascii: "m"): unit = 60; u.removeLast()
  case UInt8(ascii: "h"): unit = 3600; u.removeLast()
  case UInt8(ascii: "d"): unit = 86_400; u.removeLast()
  default: break
  }
  guard !u.isEmpty, u.count <= 12 else { return nil }
  var v: Int64 = 0
  for c in u {
    guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
    v = v * 10 + Int64(c - UInt8(ascii: "0"))
  }
  let seconds = v * unit
  guard seconds > 0, seconds <= 100 * 365 * 86_400 else { return nil }
  return seconds
}
