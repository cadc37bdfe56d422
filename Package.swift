// swift-tools-version: 6.1
import PackageDescription

// Linux only: the file and process code calls Glibc directly (open, read,
// glob, signals), and the build needs ICU and zstd from Debian's libicu-dev
// and libzstd-dev. SwiftPM has no platform entry for Linux, so none is listed.
//
// The pipeline, one target per stage:
// TokCorpus (corpora) -> TokCounts (piece counts) -> TokTraining (BPE trainer)
// -> TokBuild (balanced multi-domain build) -> TokEncoding (vocabulary, encoder)
// -> TokData (training datasets).
let package = Package(
    name: "tok",
    products: [
        .library(name: "TokEncoding", targets: ["TokEncoding"]),
        .library(name: "TokCorpus", targets: ["TokCorpus"]),
        .library(name: "TokCounts", targets: ["TokCounts"]),
        .library(name: "TokTraining", targets: ["TokTraining"]),
        .library(name: "TokBuild", targets: ["TokBuild"]),
        .library(name: "TokData", targets: ["TokData"]),
        .executable(name: "tok", targets: ["tok"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // ICU's C API names are versioned macros; this shim gives Swift stable names.
        .target(name: "CTokICU", linkerSettings: [.linkedLibrary("icuuc")]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .target(name: "TokEncoding", dependencies: ["CTokICU"]),
        .target(name: "TokCorpus", dependencies: ["TokEncoding", "CZstd"]),
        .target(name: "TokCounts", dependencies: ["TokEncoding", "TokCorpus"]),
        .target(name: "TokTraining", dependencies: ["TokEncoding", "TokCorpus", "TokCounts"]),
        .target(name: "TokBuild", dependencies: ["TokEncoding", "TokCorpus", "TokCounts", "TokTraining"]),
        // Training data: corpora encoded into megatron-core indexed datasets.
        .target(name: "TokData", dependencies: ["TokEncoding", "TokCorpus"]),
        .executableTarget(
            name: "tok",
            dependencies: [
                "TokEncoding", "TokCorpus", "TokCounts", "TokTraining", "TokBuild", "TokData",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "tok-bench", dependencies: ["TokEncoding"], path: "Benchmarks/TokBenchmarks"),
        // Corpora of any size for the scale benchmarks: an order-k model of real text.
        .executableTarget(name: "tok-scale-corpus", dependencies: ["TokEncoding"], path: "Benchmarks/ScaleCorpus"),
        .testTarget(name: "TokEncodingTests", dependencies: ["TokEncoding"]),
        .testTarget(name: "TokCorpusTests", dependencies: ["TokCorpus", "TokEncoding"]),
        .testTarget(name: "TokCountsTests", dependencies: ["TokCounts", "TokCorpus", "TokEncoding"]),
        .testTarget(name: "TokTrainingTests", dependencies: ["TokTraining", "TokCounts", "TokEncoding"]),
        .testTarget(name: "TokBuildTests", dependencies: ["TokBuild", "TokTraining", "TokCounts", "TokCorpus", "TokEncoding"]),
    ],
    swiftLanguageModes: [.v6]
)
