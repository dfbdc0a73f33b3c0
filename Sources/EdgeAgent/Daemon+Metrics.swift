import EdgeCore
import EdgeFleet
import EdgeSupervise

/// The daemon's part of the relay's `/metrics` (the relay adds the bundle, the last run's
/// promise outcomes and its own requests): pull rounds and their answers, and each service's
/// state and restarts, so a fleet's dashboards see a crash-looping service without `status`.
extension Daemon {
  func daemonMetrics() -> String {
    var m = ""
    if let st = puller?.stats {
      m += """
        # HELP edgeagent_pulls_total Pull rounds and their answers.
        # TYPE edgeagent_pulls_total counter
        edgeagent_pulls_total{result="round"} \(st.rounds)
        edgeagent_pulls_total{result="not_modified"} \(st.notModified)
        edgeagent_pulls_total{result="accepted"} \(st.accepted)
        edgeagent_pulls_total{result="rejected"} \(st.rejected)
        edgeagent_pulls_total{result="failed"} \(st.failures)
        # HELP edgeagent_upstream_last_contact_seconds When an upstream last answered (Unix seconds).
        # TYPE edgeagent_upstream_last_contact_seconds gauge
        edgeagent_upstream_last_contact_seconds \(st.lastContact)
        # HELP edgeagent_pulls_unheld_long_polls_total Unchanged answers to a long-poll that were not held (a relay that pins agents).
        # TYPE edgeagent_pulls_unheld_long_polls_total counter
        edgeagent_pulls_unheld_long_polls_total \(st.unheldLongPolls)
        # HELP edgeagent_pulls_origin_checks_total Rounds that asked the origins before the relays.
        # TYPE edgeagent_pulls_origin_checks_total counter
        edgeagent_pulls_origin_checks_total \(st.originChecks)
        # HELP edgeagent_bundle_expired Whether the bundle in force is past its expiry (1) or not (0).
        # TYPE edgeagent_bundle_expired gauge
        edgeagent_bundle_expired \(st.heldExpired ? 1 : 0)

        """
    }
    let runners = supervisor.runners
    m += "# HELP edgeagent_service_restarts_total Restarts of each service since the agent started.\n"
    m += "# TYPE edgeagent_service_restarts_total counter\n"
    for r in runners { m += "edgeagent_service_restarts_total{service=\"\(escapedQuotes(r.id))\"} \(r.machine.restarts)\n" }
    m += "# HELP edgeagent_service_up Whether each service is running (1) or not (0): starting, backing off or stopped.\n"
    m += "# TYPE edgeagent_service_up gauge\n"
    for r in runners { m += "edgeagent_service_up{service=\"\(escapedQuotes(r.id))\"} \(r.machine.phase == .running ? 1 : 0)\n" }
    m += "# HELP edgeagent_service_crash_looping Whether each service tripped the crash-loop rule (1) or not (0).\n"
    m += "# TYPE edgeagent_service_crash_looping gauge\n"
    for r in runners { m += "edgeagent_service_crash_looping{service=\"\(escapedQuotes(r.id))\"} \(r.machine.crashLooping ? 1 : 0)\n" }
    return m
  }
}
