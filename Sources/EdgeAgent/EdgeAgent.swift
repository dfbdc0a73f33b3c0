// EdgeAgent: the daemon, which wires the wing to the loop. Policy loading, convergence rounds
// and drift watches, the puller and relay, signals and shutdown, PID-1 duties (disks, the host
// id), timers and metrics; also `status`, `bench` and the version.
//
// Imports EdgeCore, EdgeStore, EdgeHost, EdgeLoop, EdgeConverge, EdgeSupervise and EdgeFleet;
// never a C module directly. Runs on the agent's one thread.
