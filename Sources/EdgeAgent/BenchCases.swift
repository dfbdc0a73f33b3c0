import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore

/// The benchmarks of `edgeagent bench` (DESIGN.md §9). Each works in a temporary directory
/// made for it and removed after, never on the host's own paths.
public func runBenchmarks(_ options: BenchOptions) throws(AgentError) -> BenchReport {
  let dir: String
  do { dir = try makeTemporaryDirectory("edgeagent-bench") } catch { throw .host(error) }
  defer { removeTree(dir) }
  let files = options.quick ? 200 : 10_000
  let big = options.quick ? 1_000 : 10_000
  var results: [BenchResult] = []
  func wanted(_ name: String) -> Bool {
    guard let f = options.filter else { return true }
    return containsText(name, f)
  }

  // A root of `files` 64-byte files, converged once so the stat cache is warm.
  let root = dir + "/root", state = dir + "/state", policyPath = dir + "/policy.json"
  do { try makeBenchRoot(root) } catch { throw .host(error) }
  let policyBytes = benchPolicy(files: files)
  do { try writeWholeFile(policyPath, policyBytes) } catch { throw .host(error) }
  // A file's identity is trusted once the clock has passed its stamps (FileIdentity.settled: a
  // tick here, 4 ms): the policy file's, so that `apply-kept` measures the steady state.
  sleepNanoseconds(50_000_000)
  var options1 = ApplyOptions(policyPath: policyPath)
  options1.root = root
  options1.stateDir = state
  options1.reportKept = false
  // The first run writes every file and, waiting for their stamps, vouches for each: left to
  // the clock, which of them it vouches for would vary, and with it the state's history that
  // LMDB's allocations below depend on (the static builds count them). The second, verified in
  // place, records them kept.
  options1.waitToVouchFrom = 1
  _ = try apply(options1)
  options1.waitToVouchFrom = ApplyOptions(policyPath: policyPath).waitToVouchFrom
  _ = try apply(options1)

  let policy: Policy
  do { policy = try PolicyDecoder.decode(policyBytes) } catch { throw .policy(error, file: policyPath) }
  let converger: Converger
  do { converger = try Converger(root: root, classes: hostClasses(labels: []), dryRun: false) } catch { throw .host(error) }
  let prepared = converger.prepare(policy)
  converger.outcomes = [Outcome?](repeating: nil, count: policy.promises.count)
  converger.notified = [Bool](repeating: false, count: policy.promises.count)
  let env: Environment
  do { env = try Environment(path: state) } catch { throw .store(error) }

  if wanted("kept-file-check") || wanted("cold-check") {
    do throws(StoreError) {
      let txn = try env.read()
      if wanted("kept-file-check") {
        var kept = 0
        results.append(measure("kept-file-check", ops: files, rounds: options.rounds) {
          for i in 1...files {
            let o = converger.check(policy.promises[i], prepared[i], cachedStat: { key in
              (try? txn.value(.statcache, key) { $0.flatMap(StatRecord.decode) }) ?? nil
            }, blob: { _, body in body(nil) }, previous: { _ in nil })
            if o.status == .kept { kept += 1 }
          }
        })
        if kept != files * (options.rounds + 1) { throw StoreError.lmdb(code: -1, operation: "keep every file in the kept-file benchmark (\(kept) kept)") }
      }
      if wanted("cold-check") {
        // Files whose stamps are settled are recorded in statUpdates as they are hashed
        // (`rememberHash`); whether they are yet must not change the count: room for one round,
        // emptied before each.
        converger.statUpdates.removeAll(keepingCapacity: true)
        converger.statUpdates.reserveCapacity(files + 1)
        results.append(measure("cold-check", ops: files, rounds: options.rounds) {
          converger.statUpdates.removeAll(keepingCapacity: true)
          for i in 1...files {
            _ = converger.check(policy.promises[i], prepared[i], cachedStat: { _ in nil },
                                blob: { _, body in body(nil) }, previous: { _ in nil })
          }
        })
        converger.statUpdates.removeAll()
      }
      txn.abort()
    } catch { throw .store(error) }
  }

  let edits = options.quick ? 50 : 1_000
  if wanted("kept-template-check") {
    // Templates rendered with vars and facts when accepted, then checked as files are.
    var s = "{\"policy\":\"templates\",\"vars\":{\"port\":\"8080\",\"peers\":[{\"a\":\"10.0.0.1\"},{\"a\":\"10.0.0.2\"}]},\"promises\":["
    for i in 0..<edits {
      s += (i > 0 ? ",\n" : "") + "{\"id\":\"t\(i)\",\"type\":\"template\",\"path\":\"/t/t\(i).conf\",\"mode\":\"0644\"," +
        "\"template\":\"# {{hostname}} \(i)\\nlisten {{port}}\\n{{#peers}}\\npeer {{a}}\\n{{/peers}}\\n\"}"
    }
    results.append(try keptCheck("kept-template-check", dir: dir + "/templates", policy: s + "]}\n", count: edits,
                                 rounds: options.rounds) { _ in })
  }
  if wanted("kept-account-check") {
    // Users and their groups: each kept at four lstats of /etc's files and a lookup.
    let users = options.quick ? 20 : 200
    var s = "{\"policy\":\"accounts\",\"promises\":["
    for i in 0..<users {
      s += (i > 0 ? ",\n" : "") + "{\"id\":\"u\(i)\",\"type\":\"user\",\"name\":\"user\(i)\",\"uid\":\(2000 + i),\"shell\":\"/bin/sh\"}"
    }
    results.append(try keptCheck("kept-account-check", dir: dir + "/accounts", policy: s + "]}\n", count: users, rounds: options.rounds) { root throws(HostError) in
      try writeWholeFile(root + "/etc/passwd", Array("root:x:0:0:root:/root:/bin/sh\n".utf8))
      try writeWholeFile(root + "/etc/group", Array("root:x:0:\n".utf8))
      try writeWholeFile(root + "/etc/shadow", Array("root:*:19000:0:99999:7:::\n".utf8), mode: 0o640)
      try writeWholeFile(root + "/etc/gshadow", Array("root:*::\n".utf8), mode: 0o640)
    })
  }
  if wanted("kept-package-check") {
    // Packages read from dpkg's database, never by running dpkg: one lstat of it per run.
    var s = "{\"policy\":\"packages\",\"promises\":[", status = ""
    for i in 0..<edits {
      s += (i > 0 ? ",\n" : "") + "{\"id\":\"p\(i)\",\"type\":\"package\",\"name\":\"pkg\(i)\",\"state\":\"1.\(i)-1\"}"
      status += "Package: pkg\(i)\nStatus: install ok installed\nArchitecture: all\nVersion: 1.\(i)-1\nDescription: a package\n\n"
    }
    results.append(try keptCheck("kept-package-check", dir: dir + "/packages", policy: s + "]}\n", count: edits, rounds: options.rounds) { root throws(HostError) in
      try makeDirectory(root + "/var")
      try makeDirectory(root + "/var/lib")
      try makeDirectory(root + "/var/lib/dpkg")
      try writeWholeFile(root + "/var/lib/dpkg/status", Array(status.utf8))
    })
  }
  if wanted("kept-line-check") {
    // Settings in files others write too: each file has its own lines and one promise's.
    var s = "{\"policy\":\"lines\",\"promises\":["
    for i in 0..<edits {
      s += (i > 0 ? ",\n" : "") + "{\"id\":\"l\(i)\",\"type\":\"line\",\"path\":\"/l/l\(i).conf\",\"key\":\"Setting\",\"value\":\"no\",\"separator\":\" \"}"
    }
    results.append(try keptCheck("kept-line-check", dir: dir + "/lines", policy: s + "]}\n", count: edits, rounds: options.rounds) { root throws(HostError) in
      try makeDirectory(root + "/l")
      for i in 0..<edits { try writeWholeFile(root + "/l/l\(i).conf", Array("# by hand\nOther yes\nSetting yes\n".utf8)) }
    })
  }

  if wanted("apply-kept") {
    results.append(measure("apply-kept-\(files)", ops: 1, rounds: options.rounds) {
      _ = try? apply(options1)
    })
  }

  let bigPolicy = benchPolicy(files: big)
  if wanted("policy-decode") {
    results.append(measure("policy-decode-\(big)", ops: 1, rounds: options.rounds) {
      _ = try? PolicyDecoder.decode(bigPolicy)
    })
  }
  if wanted("plan") {
    let decoded: Policy
    do { decoded = try PolicyDecoder.decode(bigPolicy) } catch { throw .policy(error, file: "(generated)") }
    results.append(measure("plan-\(big)", ops: 1, rounds: options.rounds) {
      _ = try? Plan.order(decoded.promises)
    })
  }
  if wanted("sha256-64") {
    let bytes = [UInt8](repeating: 0x61, count: 64)
    results.append(measure("sha256-64B", ops: 10_000, rounds: options.rounds) {
      for _ in 0..<10_000 { _ = SHA256.hash(bytes) }
    })
  }
  if wanted("lmdb-read") {
    let key = PromiseRecord.key(1)
    results.append(measure("lmdb-read-txn", ops: 10_000, rounds: options.rounds) {
      for _ in 0..<10_000 {
        guard let txn = try? env.read() else { continue }
        _ = try? withBytes(key) { (k) throws(StoreError) -> Int in try txn.value(.desired, k) { $0?.count ?? 0 } }
        txn.abort()
      }
    })
  }
  if wanted("lmdb-commit") {
    let rec = ActualRecord(status: .kept, reason: "", checkedAt: 0, changedAt: 0).encode()
    results.append(measure("lmdb-commit-1", ops: 50, rounds: options.rounds) {
      for _ in 0..<50 {
        _ = try? env.withWrite { (txn) throws(StoreError) in try txn.put(.actual, "bench", rec) }
      }
    })
  }
  return BenchReport(results: results, peakRSSKiB: peakRSSKiB(), build: buildName, workload: options.workload)
}

/// A root as a host's is: with an os-release, which every run reads for the distribution's classes.
func makeBenchRoot(_ root: String) throws(HostError) {
  try makeDirectory(root)
  try makeDirectory(root + "/etc")
  try writeWholeFile(root + "/etc/os-release", Array("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n".utf8))
}

/// A policy of `files` 64-byte files, mode 0644, in one directory.
func benchPolicy(files: Int) -> [UInt8] {
  var s = "{\"policy\":\"bench\",\"promises\":[{\"id\":\"data\",\"type\":\"directory\",\"path\":\"/data\",\"mode\":\"0755\"}"
  for i in 0..<files {
    s += ",\n{\"id\":\"f\(i)\",\"type\":\"file\",\"path\":\"/data/f\(i)\",\"mode\":\"0644\",\"content\":\"" +
      String(repeating: "x", count: 63) + "\\n\"}"
  }
  s += "]}\n"
  return Array(s.utf8)
}


/// A kept check of `count` promises of one type, each through the full check (Converger.check)
/// as the daemon makes it: converged once by `apply`, then measured against the state's stat
/// cache. Templates and lines are checked at one lstat and a stat cache lookup each.
func keptCheck(_ name: String, dir: String, policy text: String, count: Int, rounds: Int,
               setup: (String) throws(HostError) -> Void) throws(AgentError) -> BenchResult {
  let root = dir + "/root", state = dir + "/state", policyPath = dir + "/policy.json"
  let bytes = Array(text.utf8)
  do {
    try makeDirectory(dir)
    try makeBenchRoot(root)
    try setup(root)
    try writeWholeFile(policyPath, bytes)
  } catch { throw .host(error) }
  var o = ApplyOptions(policyPath: policyPath)
  o.root = root
  o.stateDir = state
  o.reportKept = false
  o.waitToVouchFrom = 1
  _ = try apply(o)
  // A line or account promise vouches for its files once the run's edits are done and their
  // stamps settled (FileIdentity.settled: a clock tick, 4 ms): a second run, a little later.
  sleepNanoseconds(50_000_000)
  _ = try apply(o)
  var policy: Policy
  do { policy = try PolicyDecoder.decode(bytes) } catch { throw .policy(error, file: policyPath) }
  let classes = hostClasses(labels: [], root: root)
  do { try renderTemplates(&policy, facts: readFacts(root: root, labels: []), classes: classes, blob: { _ in nil }) } catch {
    throw .policy(error, file: policyPath)
  }
  let converger: Converger
  do { converger = try Converger(root: root, classes: classes, dryRun: false) } catch { throw .host(error) }
  let prepared = converger.prepare(policy)
  converger.outcomes = [Outcome?](repeating: nil, count: count)
  converger.notified = [Bool](repeating: false, count: count)
  let env: Environment
  do { env = try Environment(path: state) } catch { throw .store(error) }
  var kept = 0
  let result: BenchResult
  do throws(StoreError) {
    let txn = try env.read()
    result = measure(name, ops: count, rounds: rounds) {
      for i in 0..<count {
        let o = converger.check(policy.promises[i], prepared[i], cachedStat: { key in
          (try? txn.value(.statcache, key) { $0.flatMap(StatRecord.decode) }) ?? nil
        }, blob: { _, body in body(nil) }, previous: { _ in nil })
        if o.status == .kept { kept += 1 }
      }
    }
    txn.abort()
  } catch { throw .store(error) }
  if kept != count * (rounds + 1) {
    throw .store(StoreError.lmdb(code: -1, operation: "keep every promise in the \(name) benchmark (\(kept) kept)"))
  }
  return result
}
