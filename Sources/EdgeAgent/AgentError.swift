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
    switch self {
    case .policy(let e, let file):
      var s = ""
      for (i, issue) in e.issues.enumerated() {
        if i > 0 { s += "\n" }
        s += issue.position.line > 0 ? "\(file):\(issue)" : "\(file): \(issue)"
      }
      return s
    case .host(let e): return e.description
    case .store(let e): return e.description
    case .input(let s): return s
    }
  }
}
