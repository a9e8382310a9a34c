// Where a gateway keeps its state (CONTRACT 1). File names match the reference Python gateway
// so existing boot scripts and dashboards keep working.
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ExitCode, ExitingError } from "../lifecycle/ExitCode.js"
import { describeError } from "./AtomicFile.js"
import { ensurePrivateDirectorySync } from "./SafeOpen.js"

export interface HomePaths {
  readonly dir: string
  readonly config: string
  readonly pidFile: string
  readonly state: string
  readonly plannedStop: string
  readonly cleanShutdown: string
  readonly database: string
  readonly logs: string
  readonly lifecycleLog: string
  readonly diagnosticLog: string
}

export class HomeError extends ExitingError("HomeError", ExitCode.Config)<{
  readonly message: string
}> {}

/** `--home` beats `HERMES_HOME` beats `~/.hermes`. */
export const resolveHomeDir = (flag: string | undefined, env: Record<string, string | undefined>): string => {
  const chosen = flag !== undefined && flag !== "" ? flag : env.HERMES_HOME !== undefined && env.HERMES_HOME !== ""
    ? env.HERMES_HOME
    : path.join(os.homedir(), ".hermes")
  return path.resolve(chosen)
}

export const homePaths = (dir: string): HomePaths => {
  const logs = path.join(dir, "logs")
  return {
    dir,
    config: path.join(dir, "config.yaml"),
    pidFile: path.join(dir, "gateway.pid"),
    state: path.join(dir, "gateway_state.json"),
    plannedStop: path.join(dir, ".gateway-planned-stop.json"),
    cleanShutdown: path.join(dir, ".clean_shutdown"),
    database: path.join(dir, "state.db"),
    logs,
    lifecycleLog: path.join(logs, "lifecycle.jsonl"),
    diagnosticLog: path.join(logs, "shutdown-diag.log")
  }
}

/**
 * The secrets file that generated service definitions load into the gateway's environment
 * (`KEY=value` lines: bot token, API keys). The gateway never reads it itself; doctor checks that
 * it is private. Kept beside the home's other files so one `chmod 700` covers it.
 */
export const environmentFileName = "gateway.env"

export const environmentFilePath = (dir: string): string => path.join(dir, environmentFileName)

/**
 * Creates the home (0700) and its logs folder if absent. Used by commands that write. A `logs` that
 * is a symbolic link (even to a directory) is refused: the logs would be written elsewhere.
 */
export const ensureHome = (paths: HomePaths): Effect.Effect<void, HomeError> =>
  Effect.try({
    try: () => {
      fs.mkdirSync(paths.dir, { recursive: true, mode: 0o700 })
      ensurePrivateDirectorySync(paths.logs)
      fs.accessSync(paths.dir, fs.constants.W_OK)
    },
    catch: (error) => new HomeError({ message: `home ${paths.dir} is not usable: ${describeError(error)}` })
  })
