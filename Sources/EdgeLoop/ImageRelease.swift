import EdgeHost

/// Lets go of the agent's code mappings (`releaseImagePages`) once the loop has had nothing to
/// do for a while: after a convergence, its services' starts and their first logs. Each `soon()`
/// puts the moment off again, so a busy agent is not made to fault its code back in between two
/// pieces of work; an idle one holds in its page tables only what it ran since.
public final class ImageRelease {
  /// Quiet time before the release. Long enough for the work a convergence sets off (service
  /// starts, their first output); short beside any interval a fleet runs at.
  public static let quietMs: UInt64 = 1_000
  let timer: Timer

  public init(_ loop: Loop) { timer = Timer(loop) }

  public func soon() {
    timer.start(after: Self.quietMs) { releaseImagePages() }
  }

  public func close() {
    timer.stop()
    timer.close()
  }
}
