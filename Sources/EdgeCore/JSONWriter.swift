/// Builds JSON text for machine output (`status --json`, bundles). Appends to one byte buffer;
/// the caller decides where the bytes go.
public struct JSONWriter {
  public private(set) var bytes: [UInt8] = []
  private var needsComma: [Bool] = [false]

  public init() {}

  public var text: String { String(decoding: bytes, as: UTF8.self) }

  // Never inlined: a document of 30 members inlined 30 copies of the separator and quoting
  // logic, kilobytes of the shipped binary per writer (FleetView, status --json).
  @inline(never) public mutating func beginObject() { separate(); bytes.append(UInt8(ascii: "{")); needsComma.append(false) }
  @inline(never) public mutating func endObject() { needsComma.removeLast(); bytes.append(UInt8(ascii: "}")) }
  @inline(never) public mutating func beginArray() { separate(); bytes.append(UInt8(ascii: "[")); needsComma.append(false) }
  @inline(never) public mutating func endArray() { needsComma.removeLast(); bytes.append(UInt8(ascii: "]")) }

  /// Writes `"key":`; the next value call completes the member.
  @inline(never) public mutating func key(_ k: String) {
    separate()
    appendQuoted(k)
    bytes.append(UInt8(ascii: ":"))
    needsComma[needsComma.count - 1] = false
  }

  @inline(never) public mutating func string(_ s: String) { separate(); appendQuoted(s) }
  @inline(never) public mutating func int(_ v: Int64) { separate(); bytes.append(contentsOf: String(v).utf8) }
  @inline(never) public mutating func bool(_ v: Bool) { separate(); bytes.append(contentsOf: (v ? "true" : "false").utf8) }
  public mutating func null() { separate(); bytes.append(contentsOf: "null".utf8) }
  /// A number given as its JSON text (as `JSONValue.number` holds it); the caller ensures it is valid.
  public mutating func number(_ text: String) { separate(); bytes.append(contentsOf: text.utf8) }

  @inline(never) public mutating func member(_ k: String, _ v: String) { key(k); string(v) }
  @inline(never) public mutating func member(_ k: String, _ v: Int64) { key(k); int(v) }
  @inline(never) public mutating func member(_ k: String, _ v: Bool) { key(k); bool(v) }

  private mutating func separate() {
    if needsComma[needsComma.count - 1] { bytes.append(UInt8(ascii: ",")) }
    needsComma[needsComma.count - 1] = true
  }

  /// JSON requires only C0 to be escaped; DEL and C1 (U+0080…U+009F, UTF-8 C2 80…C2 9F) are
  /// escaped too, so `status --json` piped to a terminal cannot drive it either.
  private mutating func appendQuoted(_ s: String) {
    bytes.append(UInt8(ascii: "\""))
    var afterC2 = false
    for c in s.utf8 {
      defer { afterC2 = c == 0xC2 }
      if afterC2 && c >= 0x80 && c <= 0x9F {
        bytes.removeLast()   // the C2 lead byte, written on the previous step
        bytes.append(contentsOf: "\\u00".utf8)
        bytes.append(hexDigit(c >> 4))
        bytes.append(hexDigit(c & 15))
        continue
      }
      switch c {
      case UInt8(ascii: "\""): bytes.append(contentsOf: "\\\"".utf8)
      case UInt8(ascii: "\\"): bytes.append(contentsOf: "\\\\".utf8)
      case 0x0A: bytes.append(contentsOf: "\\n".utf8)
      case 0x0D: bytes.append(contentsOf: "\\r".utf8)
      case 0x09: bytes.append(contentsOf: "\\t".utf8)
      case ..<0x20, 0x7F:
        bytes.append(contentsOf: "\\u00".utf8)
        bytes.append(hexDigit(c >> 4))
        bytes.append(hexDigit(c & 15))
      default: bytes.append(c)
      }
    }
    bytes.append(UInt8(ascii: "\""))
  }
}

/// The lowercase hex digit of `v` (0…15), as an ASCII byte.
func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 + v : 0x57 + v }
