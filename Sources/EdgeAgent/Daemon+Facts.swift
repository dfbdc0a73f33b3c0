import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore
import EdgeSupervise

/// Templates in the daemon: rendered with this host's facts when a policy is put in force
/// (renderTemplates, EdgeConverge), and again before a full run whose facts changed since (an
/// address came or went, the hostname was set), so a template follows its host.
extension Daemon {
  /// Renders `p`'s templates; false (said) when one does not render on this host.
  func render(_ p: inout Policy) -> Bool {
    guard p.hasTemplates else {
      factsClassName = nil
      return true
    }
    let facts = readFacts(root: root, labels: config.labels, hostID: hostID)
    var failure: StoreError? = nil
    do throws(PolicyError) {
      try renderTemplates(&p, facts: facts, classes: classes, blob: { d in stateBlob(self.env, d, &failure) })
    } catch {
      log.error("policy rejected, keeping the last good one", [("policy", .string(p.name)),
                                                              ("err", .string(failure?.description ?? error.description))])
      return false
    }
    factsClassName = factsClass(facts)
    return true
  }

  /// Before a full run: when the facts the templates were rendered with changed, renders again
  /// and puts the result in force (a file's new content is then a repair of this run).
  func refreshFacts() {
    guard let p = policy, let was = factsClassName, inFlight == nil else { return }
    let now = factsClass(readFacts(root: root, labels: config.labels, hostID: hostID))
    if now == was { return }
    log.info("facts changed: rendering the templates again", [("policy", .string(p.name))])
    install(p, digest: policyDigest)
  }

  /// The classes' digest a run records: with the facts' pseudo-class when templates were
  /// rendered, as `apply` records it (FastVerify.swift).
  var recordedClasses: Digest {
    guard let f = factsClassName else { return classDigest(classes) }
    var c = classes
    c.insert(f)
    return classDigest(c)
  }
}
