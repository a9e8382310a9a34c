// The command tree: `hermes gateway <verb>`. Parse errors become UsageError (exit 64).
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import { installCommand, uninstallCommand } from "./InstallCommand.js"
import { bootCommand } from "./BootCommand.js"
import { doctorCommand } from "./DoctorCommand.js"
import { reportCommand } from "./ReportCommand.js"
import { sessionsCommand } from "./SessionsCommand.js"
import { runCommand } from "./RunCommand.js"
import { statusCommand } from "./StatusCommand.js"
import { restartCommand, stopCommand } from "./StopCommand.js"
import { UsageError } from "./UsageError.js"
import { readCommandLine } from "./CommandLine.js"
import { commandTree } from "./CommandTree.js"
import { renderHelp } from "./HelpText.js"
import { levels } from "../logging/Logging.js"
import { logLevelFlag } from "../logging/LogLevelName.js"

export const version = "0.1.0"

const gateway = Command.make("gateway").pipe(
  Command.withDescription("Run and control the Hermes messaging gateway."),
  Command.withSubcommands([
    runCommand,
    stopCommand,
    restartCommand,
    statusCommand,
    reportCommand,
    sessionsCommand,
    doctorCommand,
    installCommand,
    uninstallCommand,
    bootCommand
  ])
)

const hermes = Command.make("hermes").pipe(
  Command.withDescription("Hermes: connects chat platforms to an agent."),
  Command.withSubcommands([gateway])
)

const ansi = /\u001b\[[0-9;?]*[A-Za-z]/g

export const commands = commandTree(hermes)

/**
 * @effect/cli's own parse errors, as one plain `hermes: ...` line each, in correct English. Help
 * and the unknown-verb check are ours (CommandLine.ts), so only errors about options and
 * arguments of a known verb reach this.
 */
export const usageText = (raw: string): string =>
  raw.replace(ansi, "")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .map((line) =>
      line
        .replace(/\ba (integer|option|argument|existing|empty|unknown|invalid)\b/g, "an $1")
        .replace(/^Expected to find option: '([^']+)'$/, "missing option $1")
        .replace(/^Expected one of the following cases: /, "expected one of: ")
        .replace(/^Received unknown argument: '([^']+)'$/, "unknown argument '$1'")
        .replace(/\.$/, "")
        .replace(/^[A-Z](?=[a-z])/, (first) => first.toLowerCase())
    )
    .map((line) => `hermes: ${line}\n`)
    .join("")

/** The console @effect/cli prints through: its errors rewritten, its colours never shown. */
const usageConsole = Effect.map(Effect.console, (console): Console.Console => {
  const plain = (args: ReadonlyArray<unknown>) => args.map((a) => (typeof a === "string" ? a.replace(ansi, "") : a))
  const error = (...args: ReadonlyArray<unknown>) => {
    process.stderr.write(usageText(args.map(String).join(" ")))
  }
  return {
    ...console,
    log: (...args: ReadonlyArray<unknown>) => console.log(...plain(args)),
    error: (...args: ReadonlyArray<unknown>) => Effect.sync(() => error(...args)),
    unsafe: { ...console.unsafe, log: (...args: ReadonlyArray<unknown>) => console.unsafe.log(...plain(args)), error }
  }
})

const cli = Command.run(hermes, { name: "hermes", version })

/**
 * `--pid=` with nothing after it is how systemd spells an empty $MAINPID inside a word, and the
 * contract makes it a no-op; @effect/cli rejects an empty `--x=` value, so split it into two words.
 */
export const normalizeArgv = (argv: ReadonlyArray<string>): ReadonlyArray<string> =>
  argv.flatMap((arg) => (/^--[a-z][a-z-]*=$/.test(arg) ? [arg.slice(0, -1), ""] : [arg]))

/** Where to read about the verb that was typed: its own help if it is known, else the top's. */
const helpHint = (argv: ReadonlyArray<string>): string => {
  const read = readCommandLine(commands, [...argv, "--help"])
  const path = read._tag === "Help" ? read.path : [commands]
  return `run '${path.map((n) => n.name).join(" ")} --help' for usage`
}

export const main = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const line = readCommandLine(commands, normalizeArgv(argv))
    if (line._tag === "Help") return yield* Effect.sync(() => void process.stdout.write(renderHelp(line.path)))
    if (line._tag === "Version") return yield* Effect.sync(() => void process.stdout.write(`hermes ${version}\n`))
    if (line._tag === "Usage") return yield* new UsageError({ message: line.message })
    const console = yield* usageConsole
    return yield* cli(line.argv).pipe(
      Effect.catchIf(ValidationError.isValidationError, () =>
        Effect.fail(new UsageError({ message: helpHint(line.argv) }))),
      Effect.withConsole(console),
      // Commands without a logging layer of their own (stop, status, ...) honour the flag too.
      line.logLevel === undefined ? (effect) => effect : Logger.withMinimumLogLevel(levels[line.logLevel]),
      Effect.locally(logLevelFlag, line.logLevel)
    )
  }).pipe(Effect.provide(NodeContext.layer))
