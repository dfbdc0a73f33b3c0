import EdgeCore
import EdgeHost
import EdgeStore

// `apply` of a large policy into a state that holds none (a first boot, a new box): staged first,
// letting the decoded promises go as they are written, then converged a window at a time from its
// staged records, so that the policy is not held through converging and recording. It runs once
// the policy is accepted whole (decoded, planned, rendered): a rejected policy never gets here. At
// 100,000 files, the promises and their contents (24.8 MB) were held from decoding to the end of
// the run, beside everything converging and recording need.

/// Whether a policy can be converged a window at a time from its staged records: no promise names
/// another (`after`, `notify`: a window's run sees its own promises only), and every one is a file,
/// directory, link or template, whose check looks at its own path alone (a package's batch, an
/// account's database and a line's shared file span a run; commands are left whole too).
func convergesInWindows(_ policy: Policy) -> Bool {
  for p in policy.promises {
    if !p.after.isEmpty || !p.notify.isEmpty { return false }
    switch p.type {
    case .file, .directory, .link, .template: continue
    default: return false
    }
  }
  return true
}

/// What a run converged from the stage leaves for its record and report, by plan position.
struct StagedRun {
  var ids: [String] = []
  var types: [PromiseType] = []
  var outcomes: [Outcome?] = []
  var fingerprints: [Digest] = []
  var statUpdates: [(key: StatKey, record: StatRecord)] = []
  var windows = 0
}

/// Stages `policy` (into a state whose `desired` holds nothing: `holdsNoPromise`) letting its
/// promises go as they are staged (`stageReleasing`), then converges it from the stage `window`
/// promises at a time: each window's records are read back, decoded and converged as a policy of
/// their own, in order (`runConverger`), and only the ids, types, outcomes and digests of the whole
/// are kept, by position. The pages of the records read leave the process as it goes
/// (`ResidentPages`). Returns the run and the staging database, for `commitRun` to put in force.
func convergeStaged(_ env: Environment, _ converger: Converger, _ policy: inout Policy, order: [Int],
                    window: Int) throws(StoreError) -> (StagedRun, Database) {
  let n = order.count
  var run = StagedRun()
  run.ids.reserveCapacity(n)
  run.types.reserveCapacity(n)
  // Taken out of the policy first, so that the array is this function's alone.
  var promises = policy.promises
  let name = policy.name
  policy = Policy(name: name, promises: [])
  let staged = try stageReleasing(env, &promises, order: order, ids: &run.ids, types: &run.types)
  promises = []
  run.outcomes = [Outcome?](repeating: nil, count: n)
  run.fingerprints = [Digest](repeating: .zero, count: n)
  // Room for every entry, touched only as it fills: grown by doubling, old and new were both alive.
  run.statUpdates.reserveCapacity(n)
  var pages = ResidentPages()
  var start = 0
  while start < n {
    let end = min(start + window, n)
    let part = Policy(name: name, promises: try stagedPromises(env, staged, start..<end, &pages))
    let outcomes = try runConverger(converger, env, part, [], preparingBy: end - start, order: Array(0..<(end - start)))
    for j in 0..<(end - start) {
      run.outcomes[start + j] = outcomes[j]
      run.fingerprints[start + j] = converger.fingerprints[j]
    }
    run.statUpdates.append(contentsOf: converger.statUpdates)
    run.windows += 1
    start = end
  }
  converger.fingerprints = []
  return (run, staged)
}

/// The promises at plan positions `range` of the staged database `db`, decoded. A record that does
/// not decode, or one missing, is an error naming its position (the stage was written by this run).
private func stagedPromises(_ env: Environment, _ db: Database, _ range: Range<Int>,
                            _ pages: inout ResidentPages) throws(StoreError) -> [Promise] {
  var out: [Promise] = []
  out.reserveCapacity(range.count)
  var bad: RecordError? = nil
  let txn = try env.read()
  do throws(StoreError) {
    try withBytes(PromiseRecord.key(range.lowerBound)) { (from) throws(StoreError) in
      try txn.forEach(db, from: from) { _, value in
        pages.saw(value, in: txn)
        do throws(RecordError) { out.append(try PromiseRecord.decode(value)) } catch {
          bad = error
          return false
        }
        return out.count < range.count
      }
    }
    pages.finish(in: txn)
  } catch {
    txn.abort()
    throw error
  }
  txn.abort()
  if bad == nil && out.count < range.count { bad = RecordError("missing: the stage ends early") }
  if let bad { throw .record(bad, key: "\(db.name) #\(range.lowerBound + out.count)") }
  return out
}
