/// The text with every control character written as a visible escape, for anything an operator
/// reads on a terminal or in a line-based log: logfmt values, `status` tables, CLI errors.
///
/// Names, paths, reasons and a child's output come from a policy or a service, not from us: a
/// raw newline or CR forges a log line or a table row, and ESC, BEL or a C1 control (U+009B is a
/// CSI on many terminals) drives the operator's terminal. So `\n`, `\r`, `\t` are written by
/// name, every other C0 control, DEL and C1 as `\xHH`, and `\` as `\\` so that an escape in the
/// output is never text that was there. With `quote`, `"` becomes `\"` (a logfmt value).
/// Text without any of these comes back as it is, without a copy.
public func escapedText(_ s: String, quote: Bool = false) -> String {
  guard needsEscaping(s, quote: quote) else { return s }
  var out = ""
  out.reserveCapacity(s.utf8.count + 8)
  for c in s.unicodeScalars {
    switch c.value {
    case 0x5C: out += "\\\\"
    case 0x22 where quote: out += "\\\""
    case 0x0A: out += "\\n"
    case 0x0D: out += "\\r"
    case 0x09: out += "\\t"
    case 0..<0x20, 0x7F, 0x80...0x9F:
      out += "\\x"
      out.unicodeScalars.append(Unicode.Scalar(hexDigit(UInt8(c.value >> 4))))
      out.unicodeScalars.append(Unicode.Scalar(hexDigit(UInt8(c.value & 15))))
    default: out.unicodeScalars.append(c)
    }
  }
  return out
}

/// Whether `escapedText` would change `s`: one pass over the UTF-8 bytes. C1 controls are the
/// two-byte sequences C2 80 … C2 9F.
func needsEscaping(_ s: String, quote: Bool) -> Bool {
  var afterC2 = false
  for b in s.utf8 {
    if b < 0x20 || b == 0x7F || b == 0x5C || (quote && b == 0x22) { return true }
    if afterC2 && b >= 0x80 && b <= 0x9F { return true }
    afterC2 = b == 0xC2
  }
  return false
}
