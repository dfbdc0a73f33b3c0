import EdgeHost
import EdgeLoop
import EdgeStore

public let edgeagentVersion = "0.1.0"

/// The target this binary was built for.
public var buildTarget: String {
  #if arch(x86_64) && EDGE_MUSL
  let arch = "x86_64-linux-musl"
  #elseif arch(x86_64)
  let arch = "x86_64-linux-gnu"
  #elseif arch(arm64) && EDGE_MUSL
  let arch = "aarch64-linux-musl"
  #elseif arch(arm64)
  let arch = "aarch64-linux-gnu"
  #elseif arch(arm) && EDGE_MUSL
  let arch = "armv7-linux-musleabihf"
  #elseif arch(arm)
  let arch = "armv7-linux-gnueabihf"
  #else
  let arch = "unknown"
  #endif
  #if hasFeature(Embedded)
  let mode = "embedded"
  #else
  let mode = "full"
  #endif
  #if EDGE_STATIC
  let linkage = "static"
  #else
  let linkage = "dynamic"
  #endif
  return "\(arch) (\(mode), \(linkage))"
}

public var versionText: String {
  "edgeagent \(edgeagentVersion)\ntarget \(buildTarget)\nlibuv \(libuvVersion())\nlmdb \(lmdbVersion())\nlibsodium \(libsodiumVersion())\n"
}
