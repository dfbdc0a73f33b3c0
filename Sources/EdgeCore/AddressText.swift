/// Addresses as text, in Swift: libc's inet_ntop formats with snprintf, and that one call would
/// link printf's whole formatter into the static binaries (about 20 KB on aarch64).

/// "192.0.2.1" from 4 bytes in network order.
public func ipv4Text(_ b: UnsafeRawBufferPointer) -> String {
  String(b[0]) + "." + String(b[1]) + "." + String(b[2]) + "." + String(b[3])
}

/// RFC 5952's form from 16 bytes in network order: lowercase hex groups without leading zeros,
/// the longest run of two or more zero groups (the first of equals) as "::".
public func ipv6Text(_ b: UnsafeRawBufferPointer) -> String {
  var groups = [UInt16](repeating: 0, count: 8)
  for g in 0..<8 { groups[g] = UInt16(b[2 * g]) << 8 | UInt16(b[2 * g + 1]) }
  var bestStart = -1, bestLength = 1, runStart = -1
  for g in 0...8 {
    if g < 8 && groups[g] == 0 {
      if runStart < 0 { runStart = g }
    } else if runStart >= 0 {
      if g - runStart > bestLength { bestStart = runStart; bestLength = g - runStart }
      runStart = -1
    }
  }
  var s = ""
  var g = 0
  var afterGap = false
  while g < 8 {
    if g == bestStart {
      s += "::"
      g += bestLength
      afterGap = true
      continue
    }
    if g > 0 && !afterGap { s += ":" }
    afterGap = false
    s += hexGroup(groups[g])
    g += 1
  }
  return s
}

private func hexGroup(_ v: UInt16) -> String {
  let digits: [UInt8] = Array("0123456789abcdef".utf8)
  var out: [UInt8] = []
  var started = false
  for shift in stride(from: 12, through: 0, by: -4) {
    let d = Int((v >> UInt16(shift)) & 0xF)
    if d != 0 || started || shift == 0 {
      out.append(digits[d])
      started = true
    }
  }
  return String(decoding: out, as: UTF8.self)
}
