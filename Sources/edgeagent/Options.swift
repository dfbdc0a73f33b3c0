import EdgeAgent
import EdgeConverge
import EdgeCore

/// A command's argv after the command name: options it declared (`--name VALUE` or
/// `--name=VALUE`), flags, and positionals. Anything undeclared is a usage error.
struct Options {
  var values: [String: [String]] = [:]
  var flags: Set<String> = []
  var positional: [String] = []

  /// `valued` options take an argument; `flags` take none. "--help" and "-h" are always flags.
  init(_ args: ArraySlice<String>, valued: [String], flags allowed: [String]) throws(UsageError) {
    var i = args.startIndex
    while i < args.endIndex {
      let a = args[i]
      i += 1
      if a == "--" { positional.append(contentsOf: args[i...]); break }
      if a == "-h" || a == "--help" { flags.insert("--help"); continue }
      guard a.hasPrefix("-") && a != "-" else { positional.append(a); continue }
      var name = a
      var inline: String? = nil
      if let eq = a.utf8.firstIndex(of: UInt8(ascii: "=")) {
        name = String(a[..<eq])
        inline = String(a[a.index(after: eq)...])
      }
      if valued.contains(name) {
        let v: String
        if let inline { v = inline } else {
          guard i < args.endIndex else { throw UsageError("option \(name) needs a value") }
          v = args[i]
          i += 1
        }
        values[name, default: []].append(v)
      } else if allowed.contains(name) && inline == nil {
        flags.insert(name)
      } else {
        throw UsageError("unknown option \(name)")
      }
    }
  }

  func value(_ name: String) -> String? { values[name]?.last }
  func all(_ name: String) -> [String] { values[name] ?? [] }
  func has(_ name: String) -> Bool { flags.contains(name) }
}

/// Bad command line: printed with the command's usage, exit 2.
struct UsageError: Error {
  var message: String
  init(_ message: String) { self.message = message }
}

/// How each kind of failure leaves the process: s6's convention for system failures.
enum ExitCode {
  static let ok: Int32 = 0
  /// Some promise failed.
  static let failed: Int32 = 1
  /// Bad usage or bad input (a rejected policy): nothing was touched.
  static let usage: Int32 = 2
  /// The host or the state failed us (permissions, disk, a corrupt store).
  static let system: Int32 = 111

  /// `--detailed-exitcodes`, Puppet's convention, so that CI can tell drift from a clean run:
  /// bit 2 something was (or, in a dry run, would be) repaired, bit 4 something failed.
  static func detailed(_ s: RunSummary) -> Int32 {
    (s.repaired > 0 ? 2 : 0) | (s.failed > 0 ? 4 : 0)
  }
}

func exitCode(for error: AgentError) -> Int32 {
  switch error {
  case .policy, .input: return ExitCode.usage
  case .host, .store: return ExitCode.system
  }
}
