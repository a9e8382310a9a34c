// The Forensics service: the live layer works against a real home's paths; the test layer does no I/O.
import { afterEach, beforeEach, describe, expect, it } from "@effect/vitest"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Forensics } from "../../../src/forensics/Forensics.js"
import { homePaths } from "../../../src/home/HomePaths.js"

let dir = ""
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-forensics-"))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const self = { pid: process.pid, startTime: "4711" }

const waitForText = async (file: string, text: string) => {
  for (let i = 0; i < 200; i++) {
    if (fs.existsSync(file) && fs.readFileSync(file, "utf8").includes(text)) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`${text} never appeared in ${file}`)
}

describe("Forensics.live", () => {
  it.live("reads the home's marker, writes into its logs, and reads its lifecycle log", () =>
    Effect.gen(function*() {
      const paths = homePaths(dir)
      fs.writeFileSync(paths.plannedStop, JSON.stringify({ target_pid: self.pid, target_start_time: self.startTime, action: "restart" }))
      fs.mkdirSync(paths.logs)
      fs.writeFileSync(paths.lifecycleLog, JSON.stringify({ event: "loop_stall", at: "2026-01-01T00:00:00.000Z", stall_timeout_ms: 60000, stalled_ms: 61000, exit_code: 75, report: null, pid: 9 }) + "\n")
      const forensics = yield* Effect.provide(Forensics, Forensics.live(paths, self).pipe(Layer.provide(NodeContext.layer)))

      const snapshot = yield* forensics.snapshot("SIGTERM")
      expect(snapshot).toMatchObject({ signal: "SIGTERM", marker_present: true, marker_names_self: true, marker_note: "action:restart" })

      const spawned = yield* forensics.spawnDiagnostic({ signal: "SIGTERM", classification: "restart" })
      expect(spawned._tag).toBe("Spawned")
      yield* Effect.promise(() => waitForText(paths.diagnosticLog, "=== end of shutdown diagnostic"))
      expect(fs.readFileSync(paths.diagnosticLog, "utf8")).toContain(`pid=${self.pid} signal=SIGTERM classification=restart`)

      const report = yield* forensics.diagnosticReport({ activeTurns: 1, phase: "running" })
      expect(report.errors).toEqual([])
      expect(path.dirname(report.summary!)).toBe(paths.logs)

      expect(yield* forensics.recentLifecycle).toMatchObject([{ event: "loop_stall", pid: 9 }])
    }))
})

describe("Forensics.test", () => {
  it.effect("records each call and touches nothing", () =>
    Effect.gen(function*() {
      const calls: Array<string> = []
      const forensics = yield* Effect.provide(Forensics, Forensics.test(calls))
      yield* forensics.snapshot("SIGINT")
      expect((yield* forensics.spawnDiagnostic({ signal: "SIGINT" }))._tag).toBe("Skipped")
      yield* forensics.diagnosticReport({ activeTurns: 2, phase: "drain" })
      expect(yield* forensics.kernelLogTail).toBeUndefined()
      expect(calls).toEqual(["snapshot:SIGINT", "diagnostic:SIGINT", "report:drain:2"])
    }))
})
