// EdgeFleet: the agent as one of many. Signed bundles (verification, acceptance into the state,
// rejection and expiry records) and the teams' bundles the baseline delegates to (their
// acceptance and the plan they compose), the puller that fetches them from an upstream, the relay
// that serves them to agents below, `publish`, which makes them, and the fleet's reports.
//
// Imports EdgeCore, EdgeStore, EdgeHost, EdgeLoop and EdgeConverge (an accepted bundle becomes
// the desired state the converger reads); never EdgeSupervise or EdgeAgent. Does not log: the
// daemon is told through callbacks and stats. Runs on the agent's one thread.
