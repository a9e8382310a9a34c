// What the command line asks for, decided before @effect/cli parses it: our own help, an unknown
// or missing verb named as typed (with the closest verb), and the one `--log-level` flag. Anything
// else goes to @effect/cli unchanged.
import type { CommandNode } from "./CommandTree.js"
import { type LogLevelName, logLevelNames, parseLogLevelName } from "../logging/LogLevelName.js"

export type CommandLine =
  | { readonly _tag: "Help"; readonly path: ReadonlyArray<CommandNode> }
  | { readonly _tag: "Version" }
  | { readonly _tag: "Usage"; readonly message: string }
  | { readonly _tag: "Parse"; readonly argv: ReadonlyArray<string>; readonly logLevel: LogLevelName | undefined }

/** Edits (insert, delete, substitute, swap two neighbours) between two words. */
export const editDistance = (a: string, b: string): number => {
  const d: Array<Array<number>> = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1)
    }
  }
  return d[a.length]![b.length]!
}

/** The closest of `candidates` to what was typed, if it is close enough to be what was meant. */
export const closest = (typed: string, candidates: ReadonlyArray<string>): string | undefined => {
  const word = typed.toLowerCase()
  const scored = candidates
    .map((candidate) => ({ candidate, distance: candidate.startsWith(word) && word.length >= 2 ? 0 : editDistance(word, candidate) }))
    .sort((x, y) => x.distance - y.distance)
  const best = scored[0]
  return best !== undefined && best.distance <= Math.max(1, Math.floor(best.candidate.length / 3)) ? best.candidate : undefined
}

const unknownCommand = (path: ReadonlyArray<CommandNode>, typed: string): string => {
  const node = path[path.length - 1]!
  const names = path.map((n) => n.name).join(" ")
  const near = closest(typed, node.children.map((c) => c.name))
  // `hermes run`: the verb exists one level down.
  const nested = node.children.find((c) => c.children.some((g) => g.name === typed))
  const guess = near ?? (nested !== undefined ? `${nested.name} ${typed}` : undefined)
  return guess !== undefined
    ? `unknown command '${typed}'; did you mean '${guess}'?`
    : `unknown command '${typed}'; run '${names} --help' to list the commands`
}

/**
 * Options @effect/cli handles for every command that we keep. Its --wizard and --completions are
 * unknown options here (exit 64): an interactive wizard has no place in a daemon's command line, and
 * the completion scripts it prints would not know our own parsing (--log-level, help).
 */
const builtIns = ["--version"]

/** Every option of `node` and the commands under it, as typed (`--home`). */
const everyOption = (node: CommandNode): ReadonlyArray<string> =>
  [...node.options.map((o) => `--${o.name}`), ...node.children.flatMap(everyOption)]

const unknownOption = (path: ReadonlyArray<CommandNode>, unknown: string): CommandLine => {
  const known = path.flatMap((n) => n.options.map((o) => `--${o.name}`))
  const near = unknown.startsWith("--") ? closest(unknown.slice(2), known.map((k) => k.slice(2))) : undefined
  const command = path.map((n) => n.name).join(" ")
  return {
    _tag: "Usage",
    message: near !== undefined
      ? `unknown option '${unknown}'; did you mean '--${near}'?`
      : `unknown option '${unknown}' for '${command}'; run '${command} --help' to list its options`
  }
}

const takesValue = (node: CommandNode, token: string): boolean =>
  !token.includes("=") && node.options.some((o) => `--${o.name}` === token && o.placeholder !== undefined)

/** `argv` as node gives it (interpreter, script, then the words typed). */
export const readCommandLine = (root: CommandNode, argv: ReadonlyArray<string>): CommandLine => {
  const words = argv.slice(2)
  const kept: Array<string> = []
  const path: Array<CommandNode> = [root]
  let help = false
  let logLevel: string | undefined
  let verbsDone = false
  let versionAsked = false
  const optionWords: Array<string> = []
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!
    const node = path[path.length - 1]!
    if (word === "--") {
      kept.push(...words.slice(i))
      break
    }
    if (word === "--version") versionAsked = true
    if (word === "--help" || word === "-h") {
      help = true
      continue
    }
    if (word === "--log-level" || word.startsWith("--log-level=")) {
      const value = word === "--log-level" ? words[++i] : word.slice("--log-level=".length)
      if (value === undefined) return { _tag: "Usage", message: `--log-level needs a level (one of: ${logLevelNames.join(", ")})` }
      logLevel = value
      continue
    }
    kept.push(word)
    if (word.startsWith("-")) {
      if (!builtIns.includes(word)) optionWords.push(word.split("=")[0]!)
      if (takesValue(node, word)) {
        const value = words[i + 1]
        if (value === undefined || value === "--help" || value === "-h") return { _tag: "Usage", message: `${word} needs a value` }
        kept.push(value)
        i++
      }
      continue
    }
    if (verbsDone || node.children.length === 0) {
      verbsDone = true
      continue
    }
    const child = node.children.find((c) => c.name === word)
    if (child !== undefined) path.push(child)
    else if (node.args.length > 0) verbsDone = true
    else {
      // `hermes --completions bash`: the option nobody knows is the mistake, not its value.
      const stray = optionWords.find((option) => !everyOption(root).includes(option))
      return stray !== undefined ? unknownOption(path, stray) : { _tag: "Usage", message: unknownCommand(path, word) }
    }
  }
  const known = path.flatMap((n) => n.options.map((o) => `--${o.name}`))
  const unknown = optionWords.find((word) => !known.includes(word))
  if (unknown !== undefined) return unknownOption(path, unknown)
  if (help) return { _tag: "Help", path }
  if (versionAsked) return { _tag: "Version" }
  const level = logLevel === undefined ? undefined : parseLogLevelName(logLevel)
  if (logLevel !== undefined && level === undefined) {
    return { _tag: "Usage", message: `unknown log level '${logLevel}' for --log-level (one of: ${logLevelNames.join(", ")})` }
  }
  const last = path[path.length - 1]!
  if (last.children.length > 0 && last.options.length === 0 && last.args.length === 0) {
    const names = path.map((n) => n.name).join(" ")
    return { _tag: "Usage", message: `'${names}' needs a command; run '${names} --help' to list them` }
  }
  return { _tag: "Parse", argv: [...argv.slice(0, 2), ...kept], logLevel: level }
}
