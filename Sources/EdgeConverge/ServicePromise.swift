import EdgeCore
import EdgeHost

/// `service`: supervised by the daemon (Supervisor.swift, ServiceRunner.swift), which answers
/// for it through `Converger.serviceOutcome`; `apply` skips it.
enum ServicePromise: PromiseKind {
  static func check(_ c: Converger, _ p: Promise, _ pp: PreparedPromise,
                    cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                    blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void,
                    previous: (String) -> ActualRecord?) throws(HostError) -> CheckStep {
    .outcome(c.serviceOutcome?(p) ?? Outcome(.skipped, Converger.serviceInApply))
  }

  /// `apply` is the only one to verify in place, and it skips services.
  static func keptInPlace(_ v: PromiseView, _ f: inout InPlaceVerifier, _ root: borrowing Directory,
                          cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                          previous: (String) -> ActualRecord?) -> Outcome? {
    Outcome(.skipped, Converger.serviceInApply)
  }
}
