// The Command-based query helper: output of a command that succeeds, nothing otherwise, and the child
// never outlives the query (overrun or interrupted: killed, its process gone).
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { commandOutput } from "../../../src/supervision/CommandOutput.js"

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** A shell that writes its pid to `file`, then sleeps for a long time. */
const sleeper = (file: string) => ["-c", `echo $$ > ${file}; exec sleep 300`]

/** Polls until `probe` returns a value (a fact), bounded so a broken helper fails rather than hangs. */
const eventually = <A>(probe: () => A | undefined) =>
  Effect.suspend(() => {
    const value = probe()
    return value === undefined ? Effect.fail("not yet" as const) : Effect.succeed(value)
  }).pipe(Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 500 }))

const readPid = (file: string) => () => {
  try {
    const pid = Number(fs.readFileSync(file, "utf8").trim())
    return pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

const withDir = <A, E, R>(body: (dir: string) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "hermes-cmd-"))),
    body,
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

describe("commandOutput", () => {
  it.live("returns the trimmed stdout of a command that exits 0", () =>
    Effect.gen(function*() {
      expect(yield* commandOutput("sh", ["-c", "echo '  90s  '"])).toEqual(Option.some("90s"))
      expect(yield* commandOutput("sh", ["-c", "echo out; exit 3"])).toEqual(Option.none())
      expect(yield* commandOutput("/nonexistent/hermes-no-such-command", [])).toEqual(Option.none())
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("a command that overruns its bound is killed and gives nothing", () =>
    withDir((dir) =>
      Effect.gen(function*() {
        const file = path.join(dir, "pid")
        const fiber = yield* Effect.fork(commandOutput("sh", sleeper(file), "300 millis"))
        const pid = yield* eventually(readPid(file))
        expect(yield* Fiber.join(fiber)).toEqual(Option.none())
        expect(isAlive(pid)).toBe(false)
      })
    ).pipe(Effect.provide(NodeContext.layer)), 20_000)

  it.live("interrupting the query kills the child", () =>
    withDir((dir) =>
      Effect.gen(function*() {
        const file = path.join(dir, "pid")
        const fiber = yield* Effect.fork(commandOutput("sh", sleeper(file), "1 hour"))
        const pid = yield* eventually(readPid(file))
        expect(isAlive(pid)).toBe(true)
        yield* Fiber.interrupt(fiber)
        expect(isAlive(pid)).toBe(false)
      })
    ).pipe(Effect.provide(NodeContext.layer)), 20_000)
})
