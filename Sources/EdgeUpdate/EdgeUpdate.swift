// EdgeUpdate: the agent replacing itself. A bundle's `agent` entry names a binary per target;
// this module decides whether to try it, stages it into the state and runs its self-test as a
// child of the loop, records the trial and the services handed over before the exec, and at
// the next start tells a trial's own image from a restart or reboot that ended one (a
// rollback), and a committed binary to chain to from the image's own.
//
// Imports: EdgeCore, EdgeHost, EdgeStore, EdgeLoop, EdgeConverge (the event ring). The daemon
// (EdgeAgent) glues it to the loop, the supervisor and the exec.
