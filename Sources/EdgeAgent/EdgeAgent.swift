// EdgeAgent: what edgeagent does. The converger (observe, compare, repair, record), `apply`,
// `status`, and later the daemon's supervisor, puller and relay.
//
// Imports EdgeCore, EdgeStore, EdgeHost and EdgeLoop; never a C module directly. Libraries below
// do not log: this module decides what an operator sees. Runs on the agent's one thread.
