// swift-tools-version:6.0
// Swiftlet: a Redis 7.0.15-compatible cache server. Targets follow shared/ARCHITECTURE.md §1:
// RESP, Storage and Config do no I/O; Commands builds on them; only Server touches libevent.
import PackageDescription

let optimize: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "swiftlet",
    products: [
        .executable(name: "swiftlet-server", targets: ["swiftlet-server"]),
    ],
    targets: [
        .systemLibrary(name: "CLibevent", pkgConfig: "libevent",
                       providers: [.apt(["libevent-dev"])]),
        .systemLibrary(name: "CSystem"),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CLua", pkgConfig: "lua5.1", providers: [.apt(["liblua5.1-0-dev"])]),
        // Redis's extra script libraries: Debian's cjson and bitop, our own cmsgpack and struct.
        .target(name: "CLuaLibs", dependencies: ["CLua"],
                linkerSettings: [.linkedLibrary("lua5.1-cjson"), .linkedLibrary("lua5.1-bitop")]),
        .target(name: "Support", swiftSettings: optimize),
        .target(name: "RESP", dependencies: ["Support"], swiftSettings: optimize),
        .target(name: "Storage", dependencies: ["CSystem", "CZlib", "Support"], swiftSettings: optimize),
        .target(name: "Config", dependencies: ["Support"], swiftSettings: optimize),
        .target(name: "Persistence", dependencies: ["Support", "Storage", "RESP"], swiftSettings: optimize),
        .target(name: "Commands", dependencies: ["CSystem", "CLua", "CLuaLibs", "Support", "RESP", "Storage", "Config", "Persistence"],
                swiftSettings: optimize),
        .target(name: "Server", dependencies: ["CLibevent", "CSystem", "Support", "RESP", "Storage", "Config", "Commands"],
                swiftSettings: optimize),
        .executableTarget(name: "swiftlet-server", dependencies: ["Server", "Config"], swiftSettings: optimize),
        .target(name: "TestSupport"),
        .testTarget(name: "SupportTests", dependencies: ["Support"]),
        .testTarget(name: "RESPTests", dependencies: ["RESP"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "Support", "CSystem"]),
        .testTarget(name: "ConfigTests", dependencies: ["Config"]),
        .testTarget(name: "PersistenceTests", dependencies: ["Persistence", "Storage", "Support"]),
        .testTarget(name: "CommandsTests", dependencies: ["Commands"]),
        .testTarget(name: "CLuaLibsTests", dependencies: ["CLuaLibs", "CLua", "TestSupport"]),
        // Python/ holds scripts the tests run with an interpreter of their own.
        .testTarget(name: "IntegrationTests", dependencies: ["TestSupport"], exclude: ["Python"]),
    ],
    swiftLanguageModes: [.v5]
)
