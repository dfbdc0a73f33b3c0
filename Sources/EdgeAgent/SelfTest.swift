import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore

/// This binary's target, as a bundle's `agent.targets` names it.
public var agentTargetName: String {
  #if arch(x86_64)
  return "x86_64"
  #elseif arch(arm64)
  return "aarch64"
  #else
  return "armv7"
  #endif
}

/// What a staged agent binary proves before the running agent switches to it (`edgeagent
/// self-test`, run by EdgeUpdate's stager as a child): it starts at all on this machine (a
/// truncated or foreign binary does not), it is the target it was offered for, it reads the
/// daemon's config, and it opens the state read-only and decodes the records it will start
/// from. It writes nothing. Returns the line it prints.
public func selfTest(stateDir: String, target: String, configPath: String?) throws(AgentError) -> String {
  guard target == agentTargetName else {
    throw .input("built for \(agentTargetName), offered for \(target)")
  }
  if let configPath { _ = try DaemonConfig.load(configPath) }
  do throws(StoreError) {
    let env = try Environment(path: stateDir, readOnly: true)
    let txn = try env.read()
    _ = try txn.schemaVersion()
    _ = try txn.agentUpdate()
    _ = try txn.bundleIdentity()
    txn.abort()
    env.close()
  } catch { throw .store(error) }
  return "self-test passed: edgeagent \(edgeagentVersion) for \(agentTargetName), config \(configPath ?? "none"), state \(stateDir)"
}
