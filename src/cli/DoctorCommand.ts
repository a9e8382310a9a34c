// `hermes gateway doctor`: what would make this gateway misbehave, checked without changing
// anything: the config and the secrets and model server it points at, the home and its files, the
// lock, and the supervisor's kill timeout.
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import { loadConfig } from "../config/LoadConfig.js"
import { defaultConfig } from "../config/GatewayConfig.js"
import { checkHomeUsable } from "../forensics/HomeCheck.js"
import { readJsonSync } from "../home/AtomicFile.js"
import { auditHomeFiles } from "../home/HomeFiles.js"
import { CleanShutdownDocument } from "../home/CleanShutdownFile.js"
import { GatewayStateDocument } from "../home/GatewayStateFile.js"
import { lockFileOf } from "../home/InstanceLock.js"
import { PidFileDocument } from "../home/PidFile.js"
import { PlannedStopDocument } from "../home/PlannedStopFile.js"
import { ExitCode, ExitingError } from "../lifecycle/ExitCode.js"
import { hardDeadline, minimumKillTimeout } from "../lifecycle/ShutdownBudget.js"
import { formatDuration } from "../config/Duration.js"
import { budgetWarning, readSupervisorTimeout } from "../supervision/SupervisorTimeout.js"
import type { Finding, Verdict } from "./DoctorFinding.js"
import { platformFindings } from "./DoctorPlatforms.js"
import { sessionFindings } from "./DoctorSessions.js"
import { traceFindings } from "./DoctorTraces.js"
import { findGateway } from "./GatewayTarget.js"
import { homeOption, resolvePaths } from "./HomeOption.js"
import { budgetOf } from "./RunCommand.js"


export class DoctorFoundProblems extends ExitingError("DoctorFoundProblems", ExitCode.CommandFailed)<{
  readonly message: string
  readonly reported: true
}> {}

const lstatIfAny = (file: string): fs.Stats | undefined => {
  try {
    return fs.lstatSync(file)
  } catch {
    return undefined
  }
}

export const doctorCommand = Command.make("doctor", { home: homeOption }, ({ home }) =>
  Effect.gen(function*() {
    const paths = yield* resolvePaths(home)
    const findings: Array<Finding> = []
    const add = (verdict: Verdict, check: string, detail: string) => findings.push({ verdict, check, detail })

    const config = yield* loadConfig({ file: paths.config, env: process.env }).pipe(Effect.either)
    if (config._tag === "Left") add("fail", "config", config.left.message)
    else add("ok", "config", fs.existsSync(paths.config) ? `${paths.config} is valid` : "no config.yaml: defaults")
    if (config._tag === "Right") findings.push(...yield* platformFindings(config.right, process.env, paths.dir))
    if (config._tag === "Right") findings.push(...traceFindings(config.right.telemetry, process.env))
    if (config._tag === "Right") findings.push(...yield* sessionFindings(config.right, process.env))
    const budget = budgetOf(config._tag === "Right" ? config.right : defaultConfig)
    add("ok", "budget", `hard shutdown deadline ${formatDuration(hardDeadline(budget))}; supervisors should wait ${formatDuration(minimumKillTimeout(budget))}`)

    const homeCheck = checkHomeUsable(paths.dir, { create: false })
    if (homeCheck.problems.length === 0) add("ok", "home", `${paths.dir} is a private directory we own and can write`)
    for (const problem of homeCheck.problems) add("fail", "home", problem.message)

    const files = [
      ["gateway_state.json", paths.state, GatewayStateDocument],
      ["gateway.pid", paths.pidFile, PidFileDocument],
      [".gateway-planned-stop.json", paths.plannedStop, PlannedStopDocument],
      [".clean_shutdown", paths.cleanShutdown, CleanShutdownDocument]
    ] as const
    for (const [name, file, schema] of files) {
      const reading = readJsonSync(file, schema as never)
      if (reading._tag === "Invalid") add("warn", name, `${reading.reason} (treated as absent)`)
    }
    // Owner, mode and type of every file and directory the gateway keeps in the home, one line each.
    const fileProblems = auditHomeFiles(paths)
    if (fileProblems.length === 0 && homeCheck.problems.length === 0) {
      add("ok", "files", "the gateway's files in the home are private regular files (0600) and directories (0700) of the home's owner")
    }
    for (const problem of fileProblems) add("fail", "files", problem)

    const lockFile = lockFileOf(paths.dir)
    const lockStat = lstatIfAny(lockFile)
    if (lockStat !== undefined && !lockStat.isFile()) {
      add("fail", "gateway.lock", "is not a regular file (a symbolic link?): no gateway can take the home's lock; remove it")
    } else if (lockStat !== undefined && (lockStat.mode & 0o077) !== 0) {
      add("warn", "gateway.lock", `mode ${(lockStat.mode & 0o777).toString(8)}: others may open it; expected 600`)
    }

    const target = yield* findGateway(paths)
    if (target._tag === "Running") {
      add("ok", "lock", `held by the running gateway (pid ${target.identity.pid})`)
      const state = readJsonSync(paths.state, GatewayStateDocument)
      const supervisor = state._tag === "Valid" ? state.value.supervisor : null
      const live = yield* readSupervisorTimeout(supervisor)
      if (Option.isSome(live)) {
        Option.match(budgetWarning(live.value, budget), {
          onNone: () => add("ok", "supervisor", `${live.value.source} is ${formatDuration(live.value.timeout)}: enough`),
          onSome: (warning) => add("fail", "supervisor", warning)
        })
      } else {
        add("ok", "supervisor", supervisor === null ? "none detected" : `${supervisor.kind}: its kill timeout cannot be read from here`)
      }
    } else {
      add("ok", "lock", `free: no gateway is running (${target.note})`)
    }

    const width = Math.max(...findings.map((f) => f.check.length))
    for (const f of findings) {
      process.stdout.write(`${f.verdict === "ok" ? "ok  " : f.verdict === "warn" ? "warn" : "FAIL"}  ${f.check.padEnd(width)}  ${f.detail}\n`)
    }
    const failed = findings.filter((f) => f.verdict === "fail").length
    if (failed > 0) {
      return yield* new DoctorFoundProblems({ message: `${failed} problem(s) found`, reported: true })
    }
  })).pipe(Command.withDescription(
    "Check the config and environment (platform secrets set, the openai model server answering, a PostgreSQL " +
      "session database reachable with a schema this binary knows), the home's " +
      "files and permissions, the lock, and the supervisor's kill timeout against the shutdown budget. " +
      "Exits 1 when something is wrong."
  ))
