import EdgeCore
import EdgeHost
import EdgeStore

/// The run of `apply` after a drift: the in-place walk (FastVerify.swift) verified every stored
/// promise but a few, which it put aside decoded from their `desired` records. Those alone are
/// checked and repaired by the Converger, in plan order (their positions), and recorded: the
/// policy file is not read, decoded or planned, and nothing else is written. At 10,000 files, a
/// drift of one cost the full path's 75-110 ms: decode, plan and check everything.
///
/// What makes it the same as the full path: every other promise was verified kept or skipped
/// as the full check would find it; none of those put aside notifies another (`doubt` sends such
/// a run down the full path); and their order among themselves is the plan's. One difference:
/// when a repair here fails, the promises that come `after` it are reported as they were
/// verified (kept) rather than skipped; the failure sends the next run down the full path.
func repairInPlace(_ env: Environment, _ verifier: inout InPlaceVerifier, options: ApplyOptions, root: String,
                   classes: Set<String>, name: String) -> ApplyReport? {
  let promises = verifier.unsure
  let subset = Policy(name: name, promises: promises)
  let converger: Converger
  do { converger = try Converger(root: root, classes: classes, dryRun: options.dryRun) } catch { return nil }
  converger.waitToVouchFrom = options.waitToVouchFrom
  let prepared = converger.prepare(subset)
  let outcomes: [Outcome?]
  do throws(StoreError) {
    outcomes = try runConverger(converger, env, subset, prepared, order: Array(promises.indices))
  } catch {
    return nil
  }

  var summary = verifier.summary
  for k in promises.indices {
    let o = outcomes[k] ?? Outcome(.failed, "internal error: not checked")
    summary.add(o.status)
    verifier.results[verifier.unsureResults[k]].outcome = o
    if let d = converger.diffs[k] { verifier.results[verifier.unsureResults[k]].diff = d }
  }
  var results: [PromiseResult] = []
  for r in verifier.results where options.reportKept || r.outcome.status != .kept { results.append(r) }

  if !options.dryRun {
    let now = wallClockSeconds()
    do throws(StoreError) {
      try env.withWrite { (txn) throws(StoreError) in
        let run = try txn.nextRunSerial()
        // Every promise but those was verified: what earlier runs repaired is kept from now on
        // (this run's mark), and this run's own records come after it (FastVerify.swift).
        try settleRepairs(txn, run: run, now: now, except: verifier.notKept)
        try storeOutcomes(txn, .promises(promises), .prepared(prepared), outcomes, now: now, run: run)
        try storeStatUpdates(txn, verifier.statUpdates)
        try storeStatUpdates(txn, converger.statUpdates)
        try recordRun(txn, now: now, summary: summary)
      }
    } catch {
      return nil
    }
  }
  return ApplyReport(policyName: name, results: results, summary: summary, desiredReplaced: false,
                     verifiedInPlace: true)
}
