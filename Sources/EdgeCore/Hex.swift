/// Lowercase hex text of bytes, and back: key files, signatures in messages, ETags.
public enum Hex {
  public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    let digits: [UInt8] = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
      out.append(digits[Int(b >> 4)])
      out.append(digits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// Parses an even number of hex digits (either case); nil for anything else.
  public static func decode(_ text: String) -> [UInt8]? {
    let u = Array(text.utf8)
    guard u.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(u.count / 2)
    var i = 0
    while i < u.count {
      guard let hi = hexValue(u[i]), let lo = hexValue(u[i + 1]) else { return nil }
      out.append(hi << 4 | lo)
      i += 2
    }
    return out
  }
}

/// `text` without leading and trailing ASCII whitespace (key files end with a newline).
public func trimmedASCII(_ text: String) -> String {
  let u = Array(text.utf8)
  var a = 0, b = u.count
  func space(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }
  while a < b && space(u[a]) { a += 1 }
  while b > a && space(u[b - 1]) { b -= 1 }
  return String(decoding: u[a..<b], as: UTF8.self)
}
