// The Forensics service: the live layer works against a real home's paths; the test layer does no I/O.
import { afterEach, beforeEach, describe, expect, it } from "@effect/vitest"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Context from "effect/Context"
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

/** This process's children whose command line contains `text`. */
const childrenWith = (text: string): Array<number> =>
  fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).flatMap((entry) => {
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8")
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      return ppid === process.pid && fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(text) ? [Number(entry)] : []
    } catch {
      return [] // gone while we looked
    }
  })

const waitUntil = async (what: string, fact: () => boolean) => {
  for (let i = 0; i < 400; i++) {
    if (fact()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

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

describe("Forensics.live's witness", () => {
  const witnessMark = "hermes shutdown diagnostic of pid"
  const withForensics = <A>(use: (forensics: Context.Tag.Service<typeof Forensics>) => Effect.Effect<A>) =>
    Effect.scoped(Effect.gen(function*() {
      const built = yield* Layer.build(Forensics.live(homePaths(dir), self).pipe(Layer.provide(NodeContext.layer)))
      return yield* use(Context.get(built, Forensics))
    }))

  it.live("once started, the stop's diagnostic goes through it; one no stop needed ends with the layer", () =>
    Effect.gen(function*() {
      const paths = homePaths(dir)
      expect(childrenWith(witnessMark)).toEqual([])
      const used = yield* withForensics((forensics) =>
        Effect.gen(function*() {
          yield* forensics.startWitness
          yield* forensics.startWitness // once per life: a second call starts nothing
          const [witness, ...others] = childrenWith(witnessMark)
          expect(others).toEqual([])
          expect(yield* forensics.spawnDiagnostic({ signal: "SIGTERM", classification: "unplanned" })).toEqual({ _tag: "Spawned", childPid: witness })
          return witness!
        }))
      yield* Effect.promise(() => waitForText(paths.diagnosticLog, "=== end of shutdown diagnostic"))
      yield* Effect.promise(() => waitUntil("the used witness to end", () => !childrenWith(witnessMark).includes(used)))

      const unused = yield* withForensics((forensics) =>
        Effect.gen(function*() {
          yield* forensics.startWitness
          return childrenWith(witnessMark)[0]!
        }))
      yield* Effect.promise(() => waitUntil("the unused witness to end", () => !childrenWith(witnessMark).includes(unused)))
      expect(fs.readFileSync(paths.diagnosticLog, "utf8").match(/^=== shutdown diagnostic /gm)).toHaveLength(1)
    }), 60_000)
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
