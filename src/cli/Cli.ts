// The command tree: `hermes gateway <verb>`. Parse errors become UsageError (exit 64).
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { installCommand, uninstallCommand } from "./InstallCommand.js"
import { bootCommand } from "./BootCommand.js"
import { doctorCommand } from "./DoctorCommand.js"
import { reportCommand } from "./ReportCommand.js"
import { sessionsCommand } from "./SessionsCommand.js"
import { runCommand } from "./RunCommand.js"
import { statusCommand } from "./StatusCommand.js"
import { restartCommand, stopCommand } from "./StopCommand.js"
import { UsageError } from "./UsageError.js"

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

/** @effect/cli always colours its help and errors; plain text when stdout is not a terminal. */
const plainConsole = Effect.gen(function*() {
  const console = yield* Effect.console
  if (process.stdout.isTTY === true) return console
  const strip = (args: ReadonlyArray<unknown>) => args.map((a) => (typeof a === "string" ? a.replace(ansi, "") : a))
  return {
    ...console,
    log: (...args: ReadonlyArray<unknown>) => console.log(...strip(args)),
    error: (...args: ReadonlyArray<unknown>) => console.error(...strip(args)),
    unsafe: {
      ...console.unsafe,
      log: (...args: ReadonlyArray<unknown>) => console.unsafe.log(...strip(args)),
      error: (...args: ReadonlyArray<unknown>) => console.unsafe.error(...strip(args))
    }
  } satisfies Console.Console
})

const cli = Command.run(hermes, { name: "hermes", version })

/**
 * `--pid=` with nothing after it is how systemd spells an empty $MAINPID inside a word, and the
 * contract makes it a no-op; @effect/cli rejects an empty `--x=` value, so split it into two words.
 */
export const normalizeArgv = (argv: ReadonlyArray<string>): ReadonlyArray<string> =>
  argv.flatMap((arg) => (/^--[a-z][a-z-]*=$/.test(arg) ? [arg.slice(0, -1), ""] : [arg]))

export const main = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const console = yield* plainConsole
    return yield* cli(normalizeArgv(argv)).pipe(
      Effect.catchIf(ValidationError.isValidationError, (error) =>
        ValidationError.isHelpRequested(error)
          ? Effect.void
          : Effect.fail(new UsageError({ message: "invalid command line (see above, or run with --help)" }))),
      Effect.withConsole(console)
    )
  }).pipe(Effect.provide(NodeContext.layer))
