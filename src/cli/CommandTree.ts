// Our command tree as plain data, read from the @effect/cli descriptors we already declare: the
// help text and the unknown-verb check are ours, parsing stays @effect/cli's. A new subcommand or
// option shows up here without being listed twice.
import type * as Command from "@effect/cli/Command"

export interface OptionEntry {
  readonly name: string
  readonly aliases: ReadonlyArray<string>
  /** What follows the option (`DIR`, `N`); undefined for a flag. */
  readonly placeholder: string | undefined
  readonly choices: ReadonlyArray<string>
  readonly description: string
  readonly required: boolean
  readonly defaultValue: string | undefined
}

export interface ArgEntry {
  readonly name: string
  readonly description: string
  readonly optional: boolean
}

export interface CommandNode {
  readonly name: string
  readonly description: string
  readonly options: ReadonlyArray<OptionEntry>
  readonly args: ReadonlyArray<ArgEntry>
  readonly children: ReadonlyArray<CommandNode>
}

// The descriptors are plain tagged objects; only the fields read below are relied upon.
interface Node {
  readonly _tag: string
  readonly [key: string]: any
}

/** The words of a help document, without its layout (ours is applied when rendering). */
export const docText = (doc: Node | undefined): string => {
  if (doc === undefined) return ""
  switch (doc._tag) {
    case "Text":
    case "URI":
      return String(doc.value)
    case "Strong":
    case "Weak":
    case "Highlight":
    case "Paragraph":
    case "Header":
      return docText(doc.value)
    case "Sequence":
      return [docText(doc.left), docText(doc.right)].filter((part) => part !== "").join(" ")
    case "Enumeration":
      return (doc.elements as ReadonlyArray<Node>).map(docText).join(" ")
    case "DescriptionList":
      return (doc.definitions as ReadonlyArray<[Node, Node]>).map(([span, body]) => `${docText(span)} ${docText(body)}`).join(" ")
    default:
      return ""
  }
}

/** A placeholder a reader understands: `DIR` for a directory, `N` for a number, else the name. */
const placeholderOf = (name: string, primitive: Node): string | undefined => {
  switch (primitive._tag) {
    case "Bool":
      return undefined
    case "Integer":
    case "Float":
      return "N"
    case "Path":
      return primitive.pathType === "directory" ? "DIR" : "FILE"
    default:
      return name.toUpperCase().replace(/-/g, "_")
  }
}

const shown = (value: unknown): string | undefined =>
  value === undefined || value === null || typeof value === "boolean" || typeof value === "object" ? undefined : String(value)

const optionEntries = (options: Node, required = true, defaultValue?: string): Array<OptionEntry> => {
  switch (options._tag) {
    case "Single":
      return [{
        name: options.name,
        aliases: options.aliases,
        placeholder: options.pseudoName?._tag === "Some" && options.primitiveType._tag !== "Bool"
          ? String(options.pseudoName.value)
          : placeholderOf(options.name, options.primitiveType),
        choices: options.primitiveType._tag === "Choice"
          ? (options.primitiveType.alternatives as ReadonlyArray<[string, unknown]>).map(([choice]) => choice)
          : [],
        description: docText(options.description),
        // A flag is never required: absent means false.
        required: required && options.primitiveType._tag !== "Bool",
        defaultValue
      }]
    case "Map":
      return optionEntries(options.options, required, defaultValue)
    case "WithDefault": {
      const fallback = options.fallback as { _tag?: string; value?: unknown } | unknown
      // Options.optional defaults to Option.none(): optional, no default worth printing.
      const isOption = typeof fallback === "object" && fallback !== null && "_tag" in fallback &&
        (fallback._tag === "None" || fallback._tag === "Some")
      return optionEntries(options.options, false, isOption ? undefined : shown(fallback))
    }
    case "WithFallback":
    case "Variadic":
      return optionEntries(options.options ?? options.argumentOption, false, defaultValue)
    case "Both":
    case "OrElse":
      return [...optionEntries(options.left, required, defaultValue), ...optionEntries(options.right, required, defaultValue)]
    default:
      return []
  }
}

const argEntries = (args: Node, optional = false): Array<ArgEntry> => {
  switch (args._tag) {
    case "Single":
      return [{ name: String(args.name).replace(/^<|>$/g, ""), description: docText(args.description), optional }]
    case "Map":
    case "WithFallbackConfig":
      return argEntries(args.args, optional)
    case "WithDefault":
    case "Variadic":
      return argEntries(args.args, true)
    case "Both":
      return [...argEntries(args.left, optional), ...argEntries(args.right, optional)]
    default:
      return []
  }
}

const fromDescriptor = (descriptor: Node): CommandNode => {
  switch (descriptor._tag) {
    case "Map":
      return fromDescriptor(descriptor.command)
    case "Subcommands": {
      const parent = fromDescriptor(descriptor.parent)
      return { ...parent, children: (descriptor.children as ReadonlyArray<Node>).map(fromDescriptor) }
    }
    default:
      return {
        name: descriptor.name,
        description: docText(descriptor.description),
        options: descriptor.options === undefined ? [] : optionEntries(descriptor.options),
        args: descriptor.args === undefined ? [] : argEntries(descriptor.args),
        children: []
      }
  }
}

export const commandTree = (command: Command.Command<any, any, any, any>): CommandNode =>
  fromDescriptor((command as unknown as { descriptor: Node }).descriptor)
