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
  return "\(arch) (\(buildMode), \(buildLinkage))"
}

/// The build as a file name, `ARCH-LIBC-LINKAGE-MODE` (`x86_64-glibc-dynamic-embedded`): what a
/// bench baseline is valid for. Counts differ between builds (a dynamic build cannot see the
/// allocations inside shared libuv, LMDB and libsodium; the full build's runtime allocates
/// otherwise), so a baseline is compared only with the build that made it
/// (Benchmarks/baselines/NAME.json).
public var buildName: String {
  #if arch(x86_64)
  let arch = "x86_64"
  #elseif arch(arm64)
  let arch = "aarch64"
  #elseif arch(arm)
  let arch = "armv7"
  #else
  let arch = "unknown"
  #endif
  return "\(arch)-\(libcName())-\(buildLinkage)-\(buildMode)"
}

#if hasFeature(Embedded)
private let buildMode = "embedded"
#else
private let buildMode = "full"
#endif
#if EDGE_STATIC
private let buildLinkage = "static"
#else
private let buildLinkage = "dynamic"
#endif

public var versionText: String {
  "edgeagent \(edgeagentVersion)\ntarget \(buildTarget)\nlibuv \(libuvVersion())\nlmdb \(lmdbVersion())\nlibsodium \(libsodiumVersion())\n"
}
