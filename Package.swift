// swift-tools-version: 6.1
import PackageDescription

// Linux only: the file and process code calls Glibc directly (open, read,
// glob, signals), and the build needs ICU and zstd from Debian's libicu-dev
// and libzstd-dev. SwiftPM has no platform entry for Linux, so none is listed.
//
// One target per stage; each depends only on the stages beneath it:
// TokRuntime (files, temporaries and signals, parallel lanes, huge pages)
// <- TokEncoding (vocabulary, pre-tokenizer, encoder, formats)
// <- TokCorpus (corpora read in blocks cut at piece boundaries)
// <- TokCounts (piece counts) <- TokTraining (BPE trainer)
// <- TokBuild (balanced multi-domain build);
// TokData (training datasets) <- TokEncoding, TokCorpus.
let package = Package(
    name: "tok",
    products: [
        .library(name: "TokRuntime", targets: ["TokRuntime"]),
        .library(name: "TokEncoding", targets: ["TokEncoding"]),
        .library(name: "TokCorpus", targets: ["TokCorpus"]),
        .library(name: "TokCounts", targets: ["TokCounts"]),
        .library(name: "TokTraining", targets: ["TokTraining"]),
        .library(name: "TokBuild", targets: ["TokBuild"]),
        .library(name: "TokData", targets: ["TokData"]),
        .executable(name: "tok", targets: ["tok"]),
        // The C ABI the Python package loads (python/): libTokC.so.
        .library(name: "TokC", type: .dynamic, targets: ["TokC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // ICU's C API names are versioned macros; this shim gives Swift stable names.
        .target(name: "CTokICU", linkerSettings: [.linkedLibrary("icuuc")]),
        // Atomics, prefetch, SSE2 byte classes, O_DIRECT and the vector UTF-8 check.
        .target(name: "CTokRuntime"),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .target(name: "TokRuntime", dependencies: ["CTokRuntime"]),
        .target(name: "TokEncoding", dependencies: ["TokRuntime", "CTokRuntime", "CTokICU"]),
        .target(name: "TokCorpus", dependencies: ["TokRuntime", "TokEncoding", "CZstd"]),
        .target(name: "TokCounts", dependencies: ["TokRuntime", "TokEncoding", "TokCorpus"]),
        .target(name: "TokTraining", dependencies: ["TokRuntime", "TokEncoding", "TokCorpus", "TokCounts"]),
        .target(name: "TokBuild", dependencies: ["TokRuntime", "TokEncoding", "TokCorpus", "TokCounts", "TokTraining"]),
        // Training data: corpora encoded into megatron-core indexed datasets.
        .target(name: "TokData", dependencies: ["TokRuntime", "TokEncoding", "TokCorpus"]),
        .executableTarget(
            name: "tok",
            dependencies: [
                "TokRuntime", "TokEncoding", "TokCorpus", "TokCounts", "TokTraining", "TokBuild", "TokData",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The C ABI over the libraries, for the Python package and other foreign callers. A release
        // build links the Swift runtime in (--static-swift-stdlib reaches executables only, so it
        // is asked for here; build releases with --static-swift-stdlib, which compiles against the
        // static runtime's modules), so the library needs no Swift where it is loaded.
        .target(name: "TokC", dependencies: ["TokRuntime", "TokEncoding", "TokCorpus", "TokCounts", "TokTraining", "TokBuild", "TokData"],
                linkerSettings: [.unsafeFlags(["-static-stdlib"], .when(configuration: .release))]),
        .executableTarget(name: "tok-bench", dependencies: ["TokRuntime", "TokEncoding"], path: "Benchmarks/TokBenchmarks"),
        // Corpora of any size for the scale benchmarks: an order-k model of real text.
        .executableTarget(name: "tok-scale-corpus", dependencies: ["TokRuntime", "TokEncoding"], path: "Benchmarks/ScaleCorpus"),
        .testTarget(name: "TokEncodingTests", dependencies: ["TokEncoding", "TokRuntime", "CTokRuntime"]),
        .testTarget(name: "TokCorpusTests", dependencies: ["TokRuntime", "TokCorpus", "TokEncoding"]),
        .testTarget(name: "TokCountsTests", dependencies: ["TokRuntime", "TokCounts", "TokCorpus", "TokEncoding"]),
        .testTarget(name: "TokTrainingTests", dependencies: ["TokRuntime", "TokTraining", "TokCounts", "TokEncoding"]),
        .testTarget(name: "TokBuildTests", dependencies: ["TokRuntime", "TokBuild", "TokTraining", "TokCounts", "TokCorpus", "TokEncoding"]),
    ],
    swiftLanguageModes: [.v6]
)
