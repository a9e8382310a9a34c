// `hermes gateway report`: newest first, --last N, --json as an array, exit 0 even with nothing to show.
import { afterEach, beforeEach, describe, expect, it } from "@effect/vitest"
import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { reportCommand } from "../../../src/cli/ReportCommand.js"

let dir = ""
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-reportcmd-"))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const cli = Command.run(reportCommand, { name: "hermes", version: "0.0.0" })

/** Runs `report ARGS` and returns what it printed and how it ended. */
const report = (...args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    let stdout = ""
    const write = process.stdout.write
    process.stdout.write = ((chunk: string | Uint8Array) => {
      stdout += String(chunk)
      return true
    }) as typeof process.stdout.write
    const exit = yield* Effect.exit(cli(["node", "hermes", ...args])).pipe(
      Effect.ensuring(Effect.sync(() => (process.stdout.write = write)))
    )
    return { stdout, exit }
  }).pipe(Effect.provide(NodeContext.layer))

const writeLog = (records: ReadonlyArray<Record<string, unknown>>) => {
  fs.mkdirSync(path.join(dir, "logs"), { recursive: true })
  fs.writeFileSync(path.join(dir, "logs", "lifecycle.jsonl"), records.map((r) => JSON.stringify(r)).join("\n") + "\n")
}

const startRecord = (pid: number) => ({
  event: "start",
  at: `2026-01-01T0${pid}:00:00.000Z`,
  pid,
  start_time: "1",
  previous_life: { verdict: "first_start_or_unknown" }
})

describe("report command", () => {
  it.effect("says there is nothing to report, and succeeds, on a fresh home", () =>
    Effect.gen(function*() {
      const { stdout, exit } = yield* report("--home", dir)
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(stdout).toContain("no shutdown reports yet")
    }))

  it.effect("--json prints an empty array when there is nothing", () =>
    Effect.gen(function*() {
      const { stdout, exit } = yield* report("--home", dir, "--json")
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(JSON.parse(stdout)).toEqual([])
    }))

  it.effect("--last N --json gives the N newest records, newest first", () =>
    Effect.gen(function*() {
      writeLog([1, 2, 3, 4, 5, 6, 7].map(startRecord))
      const { stdout } = yield* report("--json", "--last", "3", "--home", dir)
      expect((JSON.parse(stdout) as Array<{ pid: number }>).map((r) => r.pid)).toEqual([7, 6, 5])
      const defaults = yield* report("--home", dir, "--json")
      expect(JSON.parse(defaults.stdout)).toHaveLength(5)
    }))

  it.effect("the text report tells each record", () =>
    Effect.gen(function*() {
      writeLog([startRecord(1), startRecord(2)])
      const { stdout } = yield* report("--home", dir)
      expect(stdout).toContain("2 most recent lifecycle record(s)")
      expect(stdout.indexOf("START pid 2")).toBeLessThan(stdout.indexOf("START pid 1"))
    }))

  it.effect("--last 0 is a usage error (exit 64)", () =>
    Effect.gen(function*() {
      const { exit } = yield* report("--home", dir, "--last", "0")
      expect(exit).toMatchObject({ _tag: "Failure", cause: { _tag: "Fail", error: { _tag: "UsageError", exitCode: 64 } } })
    }))
})
