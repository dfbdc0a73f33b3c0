import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore
import EdgeSupervise

/// The policy in force: read from the file, or the last good one from the state, and installed.
extension Daemon {
  /// Reads the policy file; on any problem keeps the policy in force (or the last good one
  /// from the state at start) and says why.
  ///
  /// With both a policy file and upstreams, the file is the bootstrap: it is in force until the
  /// first bundle is accepted, and from then on bundles win, across restarts: the file is
  /// ignored (said once), since a signed serial must not be undone by a local edit, nor flip
  /// back and forth with it at every interval.
  func loadPolicy(initial: Bool) {
    if let path = config.policy, !config.upstreams.isEmpty, let serial = heldSerialOrSaid() {
      if !policyFileSuperseded {
        policyFileSuperseded = true
        log.info("policy file ignored: a signed bundle is in force", [("file", .string(path)), ("serial", .int(Int(serial)))])
      }
    } else if let path = config.policy {
      do throws(AgentError) {
        var bytes: [UInt8]
        do { bytes = try readWholeFile(path, limit: maxPolicyBytes) } catch { throw AgentError.host(error) }
        let digest = SHA256.hash(bytes)
        if digest == policyDigest && policy != nil { return }
        TransientBuffers.note(bytes.count)
        let p: Policy
        do { p = try PolicyDecoder.decode(releasing: &bytes, readPast: dropTextPages) } catch { throw AgentError.policy(error, file: path) }
        guard install(p, digest: digest) else { watchPolicyFile(path); return }
        log.info("policy loaded", [("policy", .string(p.name)), ("promises", .int(p.promises.count)), ("file", .string(path))])
        watchPolicyFile(path)
        return
      } catch {
        log.error("policy rejected, keeping the last good one", [("file", path), ("err", error.description)])
        watchPolicyFile(path)
      }
    }
    if initial && policy == nil {
      do throws(StoreError) {
        if let p = try lastGoodPolicy() {
          guard install(p, digest: try storedPolicyDigest()) else { return }
          log.info("converging to the last good policy from the state", [("policy", .string(p.name)), ("promises", .int(p.promises.count))])
        } else {
          log.warn("no policy yet: nothing to converge", [("state", config.stateDir)])
        }
      } catch {
        log.error("unable to read the last good policy", [("err", error.description)])
      }
    }
  }

  /// Puts a validated policy in force (the puller calls this for an accepted bundle too).
  public func replacePolicy(_ p: Policy, digest: Digest) {
    install(p, digest: digest)
    converge()
  }

  /// False when the policy cannot be put in force (a template that does not render here, said):
  /// the one in force stays.
  @discardableResult
  func install(_ p: Policy, digest: Digest) -> Bool {
    // The convergence in flight holds the old policy's indexes: the new one waits for its end.
    if inFlight != nil {
      pendingInstall = (p, digest)
      return true
    }
    guard let o = try? p.order() else { return false }
    var p = p
    guard render(&p) else { return false }
    policy = p
    order = o
    prepared = converger.prepare(p)
    policyDigest = digest
    outcomes = [Outcome?](repeating: nil, count: p.promises.count)
    return true
  }

  /// The digest stored with `desired`; .zero when there is none (the next record replaces it).
  func storedPolicyDigest() throws(StoreError) -> Digest {
    let txn = try env.read()
    let d = try txn.policyDigest()
    txn.abort()
    return d ?? .zero
  }
}
