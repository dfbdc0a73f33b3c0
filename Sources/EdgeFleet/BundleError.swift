import EdgeCore
import EdgeHost
import EdgeStore

/// What can stop a bundle command or an acceptance: the bundle was refused (a reason about the
/// bundle), or the host or the store failed (the agent's side). The CLI maps `.rejected` to exit
/// 1, `.input` to 2 and the rest to 111.
public enum BundleError: Error, CustomStringConvertible {
  case rejected(BundleRejection)
  case host(HostError)
  case store(StoreError)
  /// Bad input that is not a bundle: an argument, a source policy, a key file's content.
  case input(String)

  public var description: String {
    switch self {
    case .rejected(let r): return "bundle rejected: \(r)"
    case .host(let e): return e.description
    case .store(let e): return e.description
    case .input(let s): return s
    }
  }
}
