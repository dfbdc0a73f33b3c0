// EdgeCore: edgeagent's pure logic. The policy model and its strict JSON reader, validation,
// the dependency plan, outcomes, digests and the binary record encoding shared by the store
// and the agent; the HTTP and DNS message codecs and the resolv.conf and hosts file readers.
//
// It imports nothing (no C module, no Foundation) and does no I/O: every function here is a pure
// computation over values, so it runs the same in tests, in the Embedded binary and on any loop.
