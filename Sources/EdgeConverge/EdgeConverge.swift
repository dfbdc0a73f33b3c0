// EdgeConverge: keeping promises. The promise types (each checks and repairs its own kind),
// the converger that walks a plan (observe, compare, repair, record), the in-place fast check,
// `apply`, and the records a run leaves: outcomes, the event ring, the desired policy. Also the
// wing's shared error, AgentError, since every module above reports through it.
//
// Imports EdgeCore, EdgeStore and EdgeHost; never EdgeLoop (a command runs blocking here, or is
// handed to the daemon as a CommandRequest) and never a module of the wing. Does not log: it
// returns reports and records outcomes, and the modules above decide what an operator sees.
