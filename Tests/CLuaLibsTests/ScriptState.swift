// A Lua 5.1 state opened as the libraries' tests need it: Lua's standard libraries plus
// Redis's extra ones from CLuaLibs. Snippets run as chunks named like Redis's scripts
// ("@user_script"), so error texts carry the same positions as in Redis.
import CLua
import CLuaLibs

final class ScriptState {
    private let state: OpaquePointer

    init() {
        guard let state = luaL_newstate() else { fatalError("luaL_newstate failed: out of memory") }
        self.state = state
        luaL_openlibs(state)
        swiftlet_lua_open_extra_libraries(state)
    }

    deinit { lua_close(state) }

    /// Runs `script` and returns the bytes of the string it returns, or "lua error: ..."
    /// when loading or running it fails outside the script's own pcall.
    func run(_ script: String) -> [UInt8] {
        lua_settop(state, 0)
        defer { lua_settop(state, 0) }
        let source = Array(script.utf8)
        let loaded = source.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { luaL_loadbuffer(state, $0.baseAddress, $0.count, "@user_script") }
        }
        if loaded != 0 || lua_pcall(state, 0, 1, 0) != 0 { return Array("lua error: ".utf8) + topBytes() }
        return topBytes()
    }

    /// `run` as text (the snippets' replies are ASCII).
    func runText(_ script: String) -> String { String(decoding: run(script), as: UTF8.self) }

    private func topBytes() -> [UInt8] {
        var length = 0
        guard let bytes = lua_tolstring(state, -1, &length) else { return Array("(not a string)".utf8) }
        return bytes.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
    }
}
