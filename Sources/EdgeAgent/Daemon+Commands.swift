import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeLoop
import EdgeStore
import EdgeSupervise

/// A convergence in flight: what it converges (the policy as it was at its start: a policy that
/// arrives meanwhile is installed after it), when it began, and the command it waits for.
struct Convergence {
  let policy: Policy
  let order: [Int]
  let prepared: [PreparedPromise]
  let digest: Digest
  /// nil: a full run; else the drifted promises.
  let only: [Int]?
  let t0: UInt64
  var child: CommandChild? = nil
}

/// Commands run as children watched by the loop, never inside a convergence: PID 1 goes on
/// reaping, supervising and repairing drift while one runs (up to its timeout).
extension Daemon {
  /// Advances the convergence in flight until it waits for a command (started as a child whose
  /// exit resumes it) or is over (recorded, then what was asked meanwhile runs).
  func step() {
    while var c = inFlight {
      let request: CommandRequest?
      do throws(StoreError) {
        request = try advanceConverger(converger, env)
      } catch {
        log.error("unable to read the state", [("err", error.description)])
        converger.abandon()
        inFlight = nil
        runQueued()
        return
      }
      guard let request else {
        inFlight = nil
        complete(c, converger, converger.outcomes)
        runQueued()
        return
      }
      do throws(HostError) {
        c.child = try CommandChild(loop, reaper: reaper, argv: request.argv, environment: request.environment,
                                   cwd: request.cwd, timeout: request.timeout) { [unowned(unsafe) self] result in
          self.inFlight?.child = nil
          self.converger.resume(.finished(result))
          self.step()
        }
        inFlight = c
        return
      } catch {
        converger.resume(.failed(error))   // and on: the promise fails with why it could not start
      }
    }
  }

  /// Asked to converge while a command runs: drifted files, directories and links are repaired
  /// now by the drift converger (they run no program, so it never waits); a full run, or drift
  /// of anything else, runs once the command's convergence is over. The queue is bounded: one
  /// flag and a set of promise indexes.
  func convergeWhileCommandRuns(_ only: [Int]?) {
    guard let policy, let c = inFlight else { return }
    guard let only else {
      queuedFull = true
      return
    }
    var paths: [Int] = []
    for i in only {
      if policy.promises[i].type.managesPath { paths.append(i) } else { queuedDrift.insert(i) }
    }
    if paths.isEmpty { return }
    runs += 1
    let drift = Convergence(policy: c.policy, order: c.order, prepared: c.prepared, digest: c.digest, only: paths,
                            t0: monotonicNanoseconds())
    let runOrder = c.order.filter { paths.contains($0) }
    let result: [Outcome?]
    do throws(StoreError) {
      result = try runConverger(driftConverger, env, c.policy, c.prepared, order: runOrder)
    } catch {
      log.error("unable to read the state", [("err", error.description)])
      return
    }
    complete(drift, driftConverger, result)
  }

  /// After a convergence: a policy that arrived meanwhile goes in force, then what was queued runs.
  func runQueued() {
    if let p = pendingInstall {
      pendingInstall = nil
      install(p.policy, digest: p.digest)
      queuedFull = true
    }
    if queuedFull {
      queuedFull = false
      queuedDrift.removeAll()
      converge()
    } else if !queuedDrift.isEmpty {
      let only = Array(queuedDrift)
      queuedDrift.removeAll()
      converge(only: only)
    }
  }

  /// Shutdown while a command runs: its group is killed and its convergence given up (the
  /// promise is checked again at the next start).
  func cancelCommand() {
    guard let c = inFlight else { return }
    c.child?.cancel()
    converger.abandon()
    inFlight = nil
  }
}

/// One stretch of a stepped convergence, inside one read transaction (closed before a wait:
/// no transaction is held while a command runs).
func advanceConverger(_ converger: Converger, _ env: Environment) throws(StoreError) -> CommandRequest? {
  let txn = try env.read()
  var failure: StoreError? = nil
  var pages = ResidentPages()
  let request = converger.advance(cachedStat: { key in cachedStat(txn, key, &failure, &pages) },
                                  blob: { digest, body in lendBlob(txn, digest, &failure, body) },
                                  previous: { id in previousOutcome(txn, id, &failure, &pages) })
  txn.abort()
  if let failure { throw failure }
  return request
}
