// `--help` in the shape of a man page's synopsis: a usage line, the description, then the options
// and commands in two columns, wrapped to fit 100 columns. Plain text: no colour to strip in a pipe.
import type { CommandNode, OptionEntry } from "./CommandTree.js"

export const helpWidth = 100
const indent = "  "
const gap = "  "
/** The description column never starts further right than this; longer labels get their own line. */
const maxLabelWidth = 28

/** Options every command accepts, handled before or by @effect/cli rather than declared per verb. */
export const globalOptions: ReadonlyArray<OptionEntry> = [
  {
    name: "--log-level",
    aliases: [],
    placeholder: "LEVEL",
    choices: ["trace", "debug", "info", "warning", "error", "fatal", "none"],
    description: "the least severe log lines to print; wins over $HERMES_LOG_LEVEL and log.level in the config",
    required: false,
    defaultValue: undefined
  },
  {
    name: "--help",
    aliases: ["-h"],
    placeholder: undefined,
    choices: [],
    description: "print this help and exit",
    required: false,
    defaultValue: undefined
  }
]

const versionOption: OptionEntry = {
  name: "--version",
  aliases: [],
  placeholder: undefined,
  choices: [],
  description: "print the version and exit",
  required: false,
  defaultValue: undefined
}

/** Words of `text` in lines of at most `width` characters (a longer single word stands alone). */
export const wrap = (text: string, width: number): Array<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line === "") line = word
    else if (line.length + 1 + word.length <= width) line += ` ${word}`
    else {
      lines.push(line)
      line = word
    }
  }
  if (line !== "") lines.push(line)
  return lines
}

/** `label  description`, the description wrapped in its column. */
const twoColumns = (rows: ReadonlyArray<readonly [string, string]>): Array<string> => {
  const labelWidth = Math.min(maxLabelWidth, Math.max(0, ...rows.map(([label]) => label.length)))
  const column = indent.length + labelWidth + gap.length
  const out: Array<string> = []
  for (const [label, description] of rows) {
    const body = wrap(description, helpWidth - column)
    const padding = " ".repeat(column)
    if (label.length > labelWidth) {
      out.push(indent + label)
      out.push(...body.map((line) => padding + line))
    } else {
      const [first = "", ...rest] = body
      out.push((indent + label.padEnd(labelWidth) + gap + first).trimEnd())
      out.push(...rest.map((line) => padding + line))
    }
  }
  return out
}

const optionLabel = (option: OptionEntry): string => {
  const names = [...option.aliases.map((alias) => (alias.startsWith("-") ? alias : `-${alias}`)), option.name.startsWith("-") ? option.name : `--${option.name}`]
  return names.join(", ") + (option.placeholder === undefined ? "" : ` ${option.placeholder}`)
}

const optionDescription = (option: OptionEntry): string => {
  const parts = [option.description]
  if (option.choices.length > 0) parts.push(`(one of: ${option.choices.join(", ")})`)
  if (option.defaultValue !== undefined && !/\bdefault\b/.test(option.description)) parts.push(`(default: ${option.defaultValue})`)
  return parts.filter((part) => part !== "").join(" ")
}

/** The first sentence of a description, up to a colon: what a list of commands shows. */
export const summary = (description: string): string => {
  const match = /^(.*?)([.!?:])(\s|$)/.exec(description)
  return match?.[1] ?? description
}

const usageLines = (path: ReadonlyArray<string>, node: CommandNode): Array<string> => {
  const prefix = path.join(" ")
  const required = node.options.filter((o) => o.required).map((o) => `${optionLabel(o)}`)
  const args = node.args.map((a) => (a.optional ? `[${a.name}]` : `<${a.name}>`))
  const lines: Array<string> = []
  // A node without options or arguments of its own only groups commands; it does nothing alone.
  const runnable = node.children.length === 0 || node.options.length > 0 || node.args.length > 0
  if (runnable) lines.push([prefix, ...required, "[options]", ...args].join(" "))
  if (node.children.length > 0) lines.push(`${prefix} <command> [options]`)
  return lines.flatMap((line, index) => {
    const lead = index === 0 ? "Usage: " : "       "
    return wrap(line, helpWidth - lead.length).map((part, i) => (i === 0 ? lead : lead.replace(/./g, " ") + "  ") + part)
  })
}

/** The help of the command at the end of `path` (names from the root, e.g. hermes, gateway, run). */
export const renderHelp = (path: ReadonlyArray<CommandNode>): string => {
  const node = path[path.length - 1]!
  const names = path.map((n) => n.name)
  const out: Array<string> = [...usageLines(names, node), ""]
  if (node.description !== "") out.push(...wrap(node.description, helpWidth), "")
  if (node.args.length > 0) {
    out.push("Arguments:", ...twoColumns(node.args.map((a) => [a.name, a.description] as const)), "")
  }
  if (node.children.length > 0) {
    out.push("Commands:", ...twoColumns(node.children.map((c) => [c.name, summary(c.description)] as const)), "")
  }
  const options = [...node.options, ...globalOptions, ...(path.length === 1 ? [versionOption] : [])]
  out.push("Options:", ...twoColumns(options.map((o) => [optionLabel(o), optionDescription(o)] as const)))
  if (node.children.length > 0) out.push("", `Run '${names.join(" ")} <command> --help' for the options of a command.`)
  return out.join("\n") + "\n"
}
