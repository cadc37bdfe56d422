// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "tok",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "TokEncoding", targets: ["TokEncoding"]),
        .library(name: "TokCorpus", targets: ["TokCorpus"]),
        .library(name: "TokTraining", targets: ["TokTraining"]),
        .library(name: "TokBuild", targets: ["TokBuild"]),
        .executable(name: "tok", targets: ["tok"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // ICU's C API names are versioned macros; this shim gives Swift stable names.
        .target(
            name: "CTokICU",
            linkerSettings: [.linkedLibrary("icuuc")]
        ),
        .target(
            name: "TokEncoding",
            dependencies: ["CTokICU"]
        ),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .target(
            name: "TokCorpus",
            dependencies: ["TokEncoding", "CZstd"]
        ),
        .target(
            name: "TokTraining",
            dependencies: ["TokEncoding", "TokCorpus"]
        ),
        .target(
            name: "TokBuild",
            dependencies: ["TokEncoding", "TokCorpus", "TokTraining"]
        ),
        .executableTarget(
            name: "tok",
            dependencies: [
                "TokEncoding",
                "TokCorpus",
                "TokTraining",
                "TokBuild",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "tok-bench",
            dependencies: ["TokEncoding"],
            path: "Benchmarks/TokBenchmarks"
        ),
        .testTarget(
            name: "TokEncodingTests",
            dependencies: ["TokEncoding"]
        ),
        .testTarget(
            name: "TokTrainingTests",
            dependencies: ["TokTraining", "TokCorpus", "TokEncoding"]
        ),
        .testTarget(
            name: "TokBuildTests",
            dependencies: ["TokBuild", "TokTraining", "TokEncoding"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
