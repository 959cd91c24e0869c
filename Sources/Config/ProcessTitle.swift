// The process title `ps` shows, from `proc-title-template` as Redis expands it: variables in
// braces ({title} {listen-addr} {server-mode} {config-file} {port} {tls-port} {unixsocket}),
// "{{" for a literal brace, surrounding spaces trimmed. A template that is malformed, names
// an unknown variable or expands to nothing is refused with Redis's error.

public enum ProcessTitle {
    public static let invalidTemplate = "template format is invalid or contains unknown variables"

    /// The title for `template`, `title` being the executable as started (argv[0]); nil when
    /// the template is malformed or names an unknown variable.
    public static func expand(_ template: String, title: String, config: ServerConfig) -> String? {
        var result = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            result += rest[..<open]
            let name = rest[rest.index(after: open)...]
            if name.first == "{" {
                result += "{"
                rest = name.dropFirst()
                continue
            }
            guard let close = name.firstIndex(of: "}"), let value = variable(String(name[..<close]), title: title, config: config) else {
                return nil
            }
            result += value
            rest = name[name.index(after: close)...]
        }
        result += rest
        return result.trimmingCharacters(in: " ")
    }

    /// Redis's check when the template is set: it must expand, to something.
    static func validationError(_ template: String, config: ServerConfig) -> String? {
        guard let title = expand(template, title: "", config: config), !title.isEmpty else { return invalidTemplate }
        return nil
    }

    private static func variable(_ name: String, title: String, config: ServerConfig) -> String? {
        switch name {
        case "title": return title
        case "listen-addr":
            return config.port != 0 ? "\(config.bind.first ?? "*"):\(config.port)" : "unixsocket:\(config.unixsocket)"
        case "server-mode": return ""
        case "config-file": return config.configFilePath ?? "-"
        case "port": return String(config.port)
        case "tls-port": return String(config.tlsPort)
        case "unixsocket": return config.unixsocket
        default: return nil
        }
    }
}
