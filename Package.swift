// swift-tools-version: 6.2
import PackageDescription
import Foundation

// One package, two builds from the same sources:
//   swift build / swift test                      full Swift (tests)
//   EDGE_EMBEDDED=1 swift build -c release         Embedded Swift, the binary we ship
// Cross builds (Cross/build.sh) add EDGE_TRIPLE, EDGE_STATIC=1, EDGE_MUSL and a toolset file;
// Package.swift cannot see --triple, hence the environment.
let env = Context.environment
let embedded = env["EDGE_EMBEDDED"] == "1"
let triple = env["EDGE_TRIPLE"] ?? "x86_64-unknown-linux-gnu"
let isStatic = env["EDGE_STATIC"] == "1"
// EDGE_MUSL: the static builds link musl instead of glibc. Its value is Cross/musl-deps.sh's
// directory for the target (out/musl/TARGET): libc/{include,lib} (musl-dev), include/ (libuv,
// LMDB, libsodium and the kernel's headers), lib/ (those libraries built for musl, and libgcc).
let musl = env["EDGE_MUSL"]

// The toolchain's usr/: $EDGE_TOOLCHAIN_USR, else the folder above the bin/ of the first swiftc on PATH.
let toolchainUsr: String = env["EDGE_TOOLCHAIN_USR"] ?? {
  for dir in (env["PATH"] ?? "").split(separator: ":") {
    let swiftc = URL(fileURLWithPath: String(dir)).appendingPathComponent("swiftc")
    if FileManager.default.isExecutableFile(atPath: swiftc.path) {
      return swiftc.resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent().path
    }
  }
  return "/usr"
}()
let embeddedLib = "\(toolchainUsr)/lib/swift/embedded/\(triple)"
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path

var defines: [SwiftSetting] = []
if isStatic { defines.append(.define("EDGE_STATIC")) }
// EDGE_MOCKING compiles in EdgeHost's test seam (Sources/EdgeHost/Mocking.swift: forced syscall
// failures, a settable clock) for the full-Swift debug build that `swift test` runs. The Embedded
// build, the one we ship, never has it.
let mocking: [SwiftSetting] = embedded ? [] : [.define("EDGE_MOCKING", .when(configuration: .debug))]
defines += mocking
if musl != nil { defines.append(.define("EDGE_MUSL")) }

// musl's headers instead of glibc's, for the C compiler and for Swift's view of C alike.
let muslIncludes: [String] = musl.map { ["-nostdlibinc", "-isystem", "\($0)/libc/include", "-isystem", "\($0)/include"] } ?? []
// Clang names its cached modules by a hash that leaves out the include paths: a scratch path that
// built against glibc would hand its CEdgeSupport module to a musl build ("'timespec' has
// different definitions in different modules"). The strict hash counts them.
let muslSwiftFlags: [String] = muslIncludes.isEmpty ? [] : muslIncludes.flatMap { ["-Xcc", $0] } + ["-Xcc", "-Xclang", "-Xcc", "-fmodules-strict-context-hash"]

// object-outliner: Swift 6.3.1's Embedded mode emits each array literal it outlines as a weak
// global named by its function and a per-copy counter (`...Tv_r`, `...Tv0_r`). A function
// inlined into another module gets its own copy with its own numbering, the linker keeps one
// of the same-named globals, and code then reads another literal: `[.spawn]` came back as
// `[.disarm]`. Cross/check-outlined-globals.sh fails the build if such a duplicate reappears.
//
// x86_64 and aarch64 static builds are linked with full LTO (Cross/build.sh passes
// `--experimental-lto-mode=full`): the objects are LLVM bitcode and lld generates the code
// once for the whole program, so LLVM inlines and drops code across our modules, which
// --gc-sections cannot. Stripped aarch64 1,080,528 -> 972,144 bytes; on x86_64 every benchmark
// got faster (policy-decode -18%, plan -28%; Benchmarks/README.md, "Full LTO"). Not armv7:
// Swift's triple there is armv7-none-none-eabi, and lld's code generation took the soft-float
// calling convention from it (no Tag_ABI_VFP_args; `-mllvm -float-abi=hard` did not change that)
// against musl's hard-float libc. Without LTO the hard float comes from the clang importer's
// gnueabihf target.
//
// machine outliner, armv7 only: `always` outlines repeated instruction sequences from every
// function (armv7 stripped -46,304 bytes). With linkonce_odr functions and two reruns as well
// (-61,264) the armv7 binary segfaulted at start under qemu-arm (2026-12-05, not pinned down).
// Under LTO (through -mllvm) it took 8,464 more bytes off aarch64 and 128,320 off x86_64, but
// made x86_64's policy-decode 1.5x and plan 1.8x slower, so the LTO builds go without it. NOTE:
// swiftc keeps an object whose LLVM IR is unchanged (.swift_modhash), so a change to -Xllvm
// codegen flags alone reaches only the objects deleted first
// (`find .build-TARGET -name '*.swift.o' -delete`).
let machineOutliner: [String] = isStatic && triple.hasPrefix("armv7") ? ["-Xllvm", "-enable-machine-outliner=always"] : []
let swiftSettings: [SwiftSetting] = defines + (muslSwiftFlags.isEmpty ? [] : [.unsafeFlags(muslSwiftFlags)])
  + (embedded ? [
  .enableExperimentalFeature("Embedded"),
  .unsafeFlags(["-Osize", "-Xfrontend", "-function-sections", "-Xllvm", "-sil-disable-pass=object-outliner"]
    + machineOutliner),
  .treatWarning("EmbeddedRestrictions", as: .error),
] : [
  .treatWarning("EmbeddedRestrictions", as: .warning),
])

// Allocation counting (edgeagent bench, allocation tests): the full build interposes malloc in the
// process (the Swift runtime is a shared library there); the Embedded build has the runtime linked
// in, so --wrap at link time sees every allocation, static libuv/LMDB/libsodium included.
let wrapped = ["malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc", "free"]
let supportC: [CSetting] = (embedded ? [.define("EDGE_EMBEDDED_BRIDGE_RETAIN")] : [.define("EDGE_INTERPOSE_MALLOC")])
  + (musl != nil ? [.define("EDGE_MUSL"), .unsafeFlags(muslIncludes)] : [])

// The musl link: the driver's own start files and libraries are glibc's, so none of them
// (-nostdlib), and musl's crt1/crti/crtn, its libc.a and libgcc named here instead. crt1.o
// hands argc/argv to __libc_start_main, which CSupport/CEdgeSupport/argv.c wraps to keep them.
let muslLink: [String] = musl.map { m in
  ["-Xclang-linker", "-nostdlib", "\(m)/libc/lib/crt1.o", "\(m)/libc/lib/crti.o",
   "\(m)/lib/libuv.a", "\(m)/lib/liblmdb.a", "\(m)/lib/libsodium.a",
   "-Xlinker", "--wrap=__libc_start_main",
   "-Xlinker", "--start-group", "\(m)/libc/lib/libc.a", "\(m)/lib/libgcc.a", "\(m)/lib/libgcc_eh.a",
   "-Xlinker", "--end-group", "\(m)/libc/lib/crtn.o"]
} ?? []

// Embedded does not autolink the module map's `link` lines: the libraries are named here (musl
// builds name their own, above). Debian's static libuv is libuv_a.a.
let libraries: [LinkerSetting] = musl != nil ? [] : [
  .linkedLibrary(isStatic ? "uv_a" : "uv"), .linkedLibrary("lmdb"), .linkedLibrary("sodium"),
  .linkedLibrary("m"),
]
let agentLinker: [LinkerSetting] = !embedded ? [] : libraries + [
  .unsafeFlags(["\(embeddedLib)/libswiftUnicodeDataTables.a"]
    + wrapped.flatMap { ["-Xlinker", "--wrap=\($0)"] }
    // Static builds: fold identical functions, drop unwind tables (CSupport/no-unwind.ld says why).
    + (isStatic ? ["-Xlinker", "--icf=all", "-Xlinker", "-T", "-Xlinker", "\(packageRoot)/CSupport/no-unwind.ld"] : [])
    + muslLink),
]

// Tests, full builds only: EdgeTestSupport (skip, or fail in CI) imports XCTest, which an
// Embedded build has not.
let tests: [Target] = embedded ? [] : [
  .target(name: "EdgeTestSupport", path: "Tests/TestSupport"),
  .testTarget(name: "EdgeCoreTests", dependencies: ["EdgeCore"], swiftSettings: mocking),
  .testTarget(name: "EdgeStoreTests", dependencies: ["EdgeStore"], swiftSettings: mocking),
  .testTarget(name: "EdgeHostTests", dependencies: ["EdgeHost", "EdgeTestSupport"], swiftSettings: mocking),
  .testTarget(name: "EdgeLoopTests", dependencies: ["EdgeLoop"], swiftSettings: mocking),
  .testTarget(name: "EdgeAgentTests", dependencies: ["EdgeConverge", "EdgeSupervise", "EdgeFleet", "EdgeUpdate", "EdgeAgent", "EdgeTestSupport"],
              swiftSettings: mocking),
  .testTarget(name: "edgeagentTests", dependencies: ["edgeagent", "EdgeTestSupport"], swiftSettings: mocking),
]

let package = Package(
  name: "edgeagent",
  targets: [
    .systemLibrary(name: "CEdge", path: "CSupport/CEdge"),
    .target(name: "CEdgeSupport", path: "CSupport/CEdgeSupport", cSettings: supportC),
    .target(name: "EdgeCore", swiftSettings: swiftSettings),
    .target(name: "EdgeStore", dependencies: ["EdgeCore", "CEdge"], swiftSettings: swiftSettings),
    .target(name: "EdgeHost", dependencies: ["EdgeCore", "CEdge", "CEdgeSupport"], swiftSettings: swiftSettings),
    .target(name: "EdgeLoop", dependencies: ["EdgeCore", "EdgeHost", "CEdge"], swiftSettings: swiftSettings),
    // The agent wing, split by job; each module's header says what it may import.
    .target(name: "EdgeConverge", dependencies: ["EdgeCore", "EdgeStore", "EdgeHost"], swiftSettings: swiftSettings),
    .target(name: "EdgeSupervise", dependencies: ["EdgeCore", "EdgeStore", "EdgeHost", "EdgeLoop", "EdgeConverge"],
            swiftSettings: swiftSettings),
    .target(name: "EdgeFleet", dependencies: ["EdgeCore", "EdgeStore", "EdgeHost", "EdgeLoop", "EdgeConverge"],
            swiftSettings: swiftSettings),
    .target(name: "EdgeUpdate", dependencies: ["EdgeCore", "EdgeStore", "EdgeHost", "EdgeLoop", "EdgeConverge"],
            swiftSettings: swiftSettings),
    .target(name: "EdgeAgent", dependencies: ["EdgeCore", "EdgeStore", "EdgeHost", "EdgeLoop",
                                              "EdgeConverge", "EdgeSupervise", "EdgeFleet", "EdgeUpdate"],
            swiftSettings: swiftSettings),
    .executableTarget(name: "edgeagent", dependencies: ["EdgeCore", "EdgeStore", "EdgeHost",
                                                        "EdgeConverge", "EdgeFleet", "EdgeAgent"],
                      swiftSettings: swiftSettings, linkerSettings: agentLinker),
  ] + tests
)
