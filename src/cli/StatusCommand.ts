// `hermes gateway status [--json]`: is the gateway running, and how did it last stop.
// Exit 0 running, 3 not running, 1 recorded as running but dead (LSB).
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { readJsonSync } from "../home/AtomicFile.js"
import { claimsAlive, GatewayStateDocument } from "../home/GatewayStateFile.js"
import { PidFileDocument } from "../home/PidFile.js"
import { ExitingError, StatusExitCode } from "../lifecycle/ExitCode.js"
import { findGateway } from "./GatewayTarget.js"
import { homeOption, resolvePaths } from "./HomeOption.js"

export class NotRunning extends ExitingError("NotRunning")<{
  readonly exitCode: typeof StatusExitCode.NotRunning | typeof StatusExitCode.DeadButRecorded
  /** Already printed to stdout; the runner adds nothing. */
  readonly reported: true
  readonly message: string
}> {}

export type StatusVerdict = "running" | "not_running" | "dead"

/** Pure: the LSB verdict from liveness and what the state file claims. */
export const statusVerdict = (alive: boolean, recorded: GatewayStateDocument | undefined): StatusVerdict =>
  alive ? "running" : recorded !== undefined && claimsAlive(recorded.gateway_state) ? "dead" : "not_running"

const formatUptime = (ms: number): string => {
  const s = Math.floor(ms / 1000)
  const parts = [[Math.floor(s / 86400), "d"], [Math.floor(s / 3600) % 24, "h"], [Math.floor(s / 60) % 60, "m"], [s % 60, "s"]] as const
  return parts.filter(([n], i) => n > 0 || i === 3).map(([n, u]) => `${n}${u}`).join(" ")
}

export const statusCommand = Command.make("status", {
  home: homeOption,
  json: Options.boolean("json").pipe(Options.withDescription("print machine-readable JSON"))
}, ({ home, json }) =>
  Effect.gen(function*() {
    const paths = yield* resolvePaths(home)
    const target = yield* findGateway(paths)
    const reading = readJsonSync(paths.state, GatewayStateDocument)
    const state = reading._tag === "Valid" ? reading.value : undefined
    const alive = target._tag === "Running"
    const verdict = statusVerdict(alive, state)
    if (json) {
      process.stdout.write(JSON.stringify({
        status: verdict,
        pid: alive ? target.identity.pid : null,
        home: paths.dir,
        state_file: reading._tag === "Invalid" ? { error: reading.reason } : state ?? null
      }, null, 2) + "\n")
    } else {
      const lines: Array<string> = []
      if (alive) {
        lines.push(`gateway: ${state?.gateway_state ?? "running"} (pid ${target.identity.pid})`)
        if (state?.pid === target.identity.pid) {
          const started = readJsonSync(paths.pidFile, PidFileDocument)
          const startedAt = started._tag === "Valid" ? started.value.started_at : undefined
          if (startedAt !== undefined) lines.push(`uptime: ${formatUptime((yield* Clock.currentTimeMillis) - Date.parse(startedAt))}`)
        }
      } else if (verdict === "dead") {
        lines.push(`gateway: not running, but its state file says ${state?.gateway_state} (pid ${state?.pid})`)
        lines.push(
          state?.shutdown !== null && state?.shutdown !== undefined && state.gateway_state === "running"
            ? "  it stopped unplanned; its run-intent was kept so a supervisor or container restart brings it back"
            : "  it died without shutting down (killed, OOM or power loss)"
        )
      } else {
        lines.push(`gateway: not running${target._tag === "NotRunning" ? ` (${target.note})` : ""}`)
      }
      lines.push(`home: ${paths.dir}`)
      if (reading._tag === "Invalid") lines.push(`state file: ${reading.reason}`)
      if (state !== undefined) {
        lines.push(`desired state: ${state.desired_state ?? "unknown"}`)
        for (const [name, platform] of Object.entries(state.platforms)) {
          const extra = typeof platform.url === "string" ? ` ${platform.url}` : ""
          lines.push(`adapter ${name}: ${platform.state}${extra}${platform.error !== null ? ` (${platform.error})` : ""}`)
        }
        if (alive) lines.push(`active turns: ${state.active_turns}`)
        if (state.replica_id !== undefined) lines.push(`replica: ${state.replica_id}`)
        const storage = state.storage
        if (alive && storage !== undefined) {
          lines.push(storage.state === "available"
            ? "session database: available"
            : `session database: unavailable since ${storage.since ?? "?"} (${storage.problem ?? "unknown problem"})`)
        }
        lines.push(`supervisor: ${state.supervisor === null ? "none detected" : state.supervisor.kind}`)
        const last = state.shutdown
        if (last !== null) {
          lines.push(
            `last shutdown: ${last.classification} (${last.signal ?? "no signal"}) at ${last.at}, exit ${last.exit_code}, ` +
              `took ${last.took_ms}ms, turns drained ${last.turns_drained}, interrupted ${last.turns_interrupted}` +
              (last.deadline_fired !== null ? `, deadline fired: ${last.deadline_fired}` : "")
          )
        }
      }
      process.stdout.write(lines.join("\n") + "\n")
    }
    if (verdict === "running") return
    return yield* new NotRunning({
      exitCode: verdict === "dead" ? StatusExitCode.DeadButRecorded : StatusExitCode.NotRunning,
      reported: true,
      message: verdict
    })
  })).pipe(Command.withDescription("Show whether the gateway runs, its adapters, and how it last stopped."))
