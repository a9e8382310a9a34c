// The restart parent (Successor.ts) interrupted: a successor that has not taken over the home yet is
// a failed hand-off and is stopped; one that holds the home is the gateway now and outlives us.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runSuccessors, type SuccessorSettings } from "../../../src/lifecycle/Successor.js"

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const eventually = <A>(probe: () => A | undefined) =>
  Effect.suspend(() => {
    const value = probe()
    return value === undefined ? Effect.fail("not yet" as const) : Effect.succeed(value)
  }).pipe(Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 1000 }))

/**
 * A stand-in successor: writes its pid, optionally writes gateway_state.json naming itself (it has
 * taken over the home), then idles until killed.
 */
const successorScript = (pidFile: string, stateFile: string | null): string => `
  const fs = require("node:fs")
  ${stateFile === null ? "" : `fs.writeFileSync(${JSON.stringify(stateFile)}, JSON.stringify({ gateway_state: "running", pid: process.pid, updated_at: new Date().toISOString() }))`}
  fs.writeFileSync(${JSON.stringify(pidFile)}, String(process.pid))
  setInterval(() => {}, 1000)
`

const handOff = (takesOverHome: boolean) =>
  Effect.acquireUseRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "hermes-successor-"))),
    (dir) =>
      Effect.gen(function*() {
        const pidFile = path.join(dir, "successor.pid")
        const stateFile = path.join(dir, "gateway_state.json")
        const settings: SuccessorSettings = {
          argv: ["-e", successorScript(pidFile, takesOverHome ? stateFile : null)],
          plannedStopFile: path.join(dir, ".gateway-planned-stop.json"),
          stateFile,
          lifecycleLog: path.join(dir, "lifecycle.jsonl"),
          self: { pid: process.pid, startTime: "test" },
          markerTtlMs: 60_000
        }
        const fiber = yield* Effect.fork(runSuccessors(settings))
        const pid = yield* eventually(() => {
          try {
            const pid = Number(fs.readFileSync(pidFile, "utf8"))
            return pid > 0 ? pid : undefined
          } catch {
            return undefined
          }
        })
        yield* Fiber.interrupt(fiber)
        const alive = isAlive(pid)
        if (alive) process.kill(pid, "SIGKILL")
        return alive
      }),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

describe("restart parent interrupted", () => {
  it.live("before the successor took over the home: the successor is stopped", () =>
    Effect.gen(function*() {
      expect(yield* handOff(false)).toBe(false)
    }), 30_000)

  it.live("after the successor took over the home: it outlives the parent", () =>
    Effect.gen(function*() {
      expect(yield* handOff(true)).toBe(true)
    }), 30_000)
})
