// The reply shape of every `<COMMAND> HELP`: a header naming the command, the family's lines,
// and a closing HELP entry, each as a status string, as Redis's addReplyHelp lays them out.
import RESP

enum HelpText {
    static func reply(_ c: CommandContext, command: String, lines: [String]) {
        c.reply.arrayHeader(lines.count + 3)
        c.reply.simple("\(command) <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
        for line in lines { c.reply.simple(line) }
        c.reply.simple("HELP")
        c.reply.simple("    Print this help.")
    }
}
