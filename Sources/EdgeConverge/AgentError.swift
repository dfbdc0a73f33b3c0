import EdgeCore
import EdgeHost
import EdgeStore

/// Everything that can stop an agent command, wrapping the layer below so errors stay typed.
/// The CLI maps each case to an exit code.
public enum AgentError: Error, CustomStringConvertible {
  /// The policy was rejected; nothing was touched. `file` names it in messages.
  case policy(PolicyError, file: String)
  case host(HostError)
  case store(StoreError)
  /// Bad input that is not a policy (a config value, an argument).
  case input(String)

  public var description: String {
    var s = ""
    for (i, l) in lines.enumerated() { s += (i > 0 ? "\n" : "") + l }
    return s
  }

  /// One line per problem: a rejected policy has one per issue. Each line is raw text that may
  /// hold a path or value from the policy; the CLI escapes each one (`escapedText`), so a value
  /// cannot forge a line, while the lines themselves stay lines.
  public var lines: [String] {
    switch self {
    case .policy(let e, let file):
      return e.issues.map { issue in issue.position.line > 0 ? "\(file):\(issue)" : "\(file): \(issue)" }
    case .host(let e): return [e.description]
    case .store(let e): return [e.description]
    case .input(let s): return [s]
    }
  }
}
