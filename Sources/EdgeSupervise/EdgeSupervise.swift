// EdgeSupervise: the services. The supervisor starts them in dependency order, restarts them by
// their machines' rules, runs their health checks, stops them in reverse order, and records their
// state; each ServiceRunner owns one child, its output and its log file, and takes the reaper's
// exit reports. Also the Logger: the supervisor is the lowest module that tells an operator
// anything, and the daemon above logs through the same one.
//
// Imports EdgeCore, EdgeStore, EdgeHost, EdgeLoop and EdgeConverge (a service's outcome is
// recorded as a promise's is); never EdgeFleet or EdgeAgent. Runs on the agent's one thread.
