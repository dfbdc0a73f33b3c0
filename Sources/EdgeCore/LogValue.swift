/// One value of a log line's field, typed so a JSON line carries numbers and booleans as JSON
/// numbers and booleans (`"kept":10`, `"pid1":false`), not strings. logfmt writes them bare.
public enum LogValue: CustomStringConvertible {
  case string(String)
  case int(Int)
  case bool(Bool)
  /// A duration in nanoseconds, written as milliseconds with one decimal (`12.3`).
  case ms(UInt64)

  /// The value as logfmt and JSON both write it, unquoted; nil for a string (the writer quotes
  /// it as its format says).
  public var bare: String? {
    switch self {
    case .string: return nil
    case .int(let v): return String(v)
    case .bool(let b): return b ? "true" : "false"
    case .ms(let ns): return "\(ns / 1_000_000).\(ns / 100_000 % 10)"
    }
  }

  /// The text as logfmt writes it before quoting: a string as is, the others `bare`.
  public var description: String {
    if case .string(let s) = self { return s }
    return bare ?? ""
  }
}
