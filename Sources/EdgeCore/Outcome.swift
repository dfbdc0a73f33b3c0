/// How a promise ended a run (Promise Theory's kept / repaired / failed), plus `skipped` for a
/// promise whose `if` was false, or whose `after` dependency failed. Raw values are stored.
public enum OutcomeStatus: UInt8, Sendable {
  case kept = 1, repaired = 2, failed = 3, skipped = 4

  public var name: String {
    switch self {
    case .kept: return "kept"
    case .repaired: return "repaired"
    case .failed: return "failed"
    case .skipped: return "skipped"
    }
  }
}

/// One promise's result: status, and why in words an operator can act on.
public struct Outcome: Sendable, Equatable {
  public var status: OutcomeStatus
  /// Empty for a plain kept; for repaired, what changed; for failed, why.
  public var reason: String

  public init(_ status: OutcomeStatus, _ reason: String = "") {
    self.status = status
    self.reason = reason
  }

  public static let kept = Outcome(.kept)
}

/// Counts of a run's outcomes, and the exit code they mean (0 all kept or repaired, 1 some failed).
public struct RunSummary: Sendable, Equatable, CustomStringConvertible {
  public var kept = 0, repaired = 0, failed = 0, skipped = 0

  public init() {}

  public mutating func add(_ s: OutcomeStatus) {
    switch s {
    case .kept: kept += 1
    case .repaired: repaired += 1
    case .failed: failed += 1
    case .skipped: skipped += 1
    }
  }

  public var description: String { "kept=\(kept) repaired=\(repaired) failed=\(failed) skipped=\(skipped)" }
}
