import EdgeCore
import EdgeHost

/// One line per event on stderr: logfmt by default (`ts=… level=info msg="…" key=value`), JSON
/// with `--log-format json`. Messages say what was done, or what the agent was unable to do.
/// `ts` is UTC with milliseconds (`2026-12-06T17:13:52.123Z`); fields given as `LogValue`s keep
/// their type in JSON (numbers and booleans unquoted), plain strings stay strings.
public struct Logger {
  public var json: Bool
  /// Monotonic ns of the process's start; when set (the kernel's /init), every line carries
  /// `t_ms`, the milliseconds since then, so each boot phase can be timed from the console.
  public var startedNs: UInt64?

  public init(json: Bool, startedNs: UInt64? = nil) {
    self.json = json
    self.startedNs = startedNs
  }

  public func info(_ msg: String, _ fields: [(String, String)] = []) { emit("info", msg, strings(fields)) }
  public func warn(_ msg: String, _ fields: [(String, String)] = []) { emit("warn", msg, strings(fields)) }
  public func error(_ msg: String, _ fields: [(String, String)] = []) { emit("error", msg, strings(fields)) }
  public func info(_ msg: String, _ fields: [(String, LogValue)]) { emit("info", msg, fields) }
  public func warn(_ msg: String, _ fields: [(String, LogValue)]) { emit("warn", msg, fields) }
  public func error(_ msg: String, _ fields: [(String, LogValue)]) { emit("error", msg, fields) }

  func strings(_ fields: [(String, String)]) -> [(String, LogValue)] { fields.map { ($0.0, .string($0.1)) } }

  func emit(_ level: String, _ msg: String, _ fields: [(String, LogValue)]) {
    let ns = wallClockNanoseconds()
    writeStderr(line(level, msg, fields, ts: isoTime(milliseconds: ns >= 0 ? ns / 1_000_000 : (ns - 999_999) / 1_000_000)) + "\n")
  }

  /// One event's line, without its newline: one line whatever the message and values hold.
  func line(_ level: String, _ msg: String, _ fields: [(String, LogValue)], ts: String) -> String {
    var fields = fields
    if let s = startedNs { fields.append(("t_ms", elapsed(since: s))) }
    var line: String
    if json {
      var w = JSONWriter()
      w.beginObject()
      w.member("ts", ts); w.member("level", level); w.member("msg", msg)
      for (k, v) in fields {
        w.key(k)
        if case .string(let s) = v { w.string(s) } else { w.number(v.bare ?? "") }
      }
      w.endObject()
      line = w.text
    } else {
      line = "ts=\(ts) level=\(level) msg=\(quoted(msg))"
      for (k, v) in fields {
        if case .string(let s) = v { line += " \(k)=\(quoted(s))" } else { line += " \(k)=\(v.bare ?? "")" }
      }
    }
    return line
  }

  /// logfmt: bare when safe, else quoted, with `"`, `\` and every control character escaped
  /// (`escapedText`): a value from a policy or a child's output cannot end the line or reach
  /// the terminal reading the console.
  func quoted(_ v: String) -> String {
    var safe = !v.isEmpty
    for c in v.utf8 where c <= 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "=") || c == UInt8(ascii: "\\") || c >= 0x7F {
      safe = false
      break
    }
    if safe { return v }
    return "\"" + escapedText(v, quote: true) + "\""
  }
}

/// Milliseconds since `start` (monotonic ns) with one decimal: `12.3`, as a line's `t_ms`.
public func elapsedMilliseconds(since start: UInt64) -> String { elapsed(since: start).description }

/// The time since `start` (monotonic ns) as a log value; 0 if the clock reads earlier.
func elapsed(since start: UInt64) -> LogValue {
  let now = monotonicNanoseconds()
  return .ms(now > start ? now - start : 0)
}
