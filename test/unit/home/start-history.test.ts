import { afterEach, describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { StartHistory, startHistoryFile } from "../../../src/home/StartHistory.js"
import { historyLimit } from "../../../src/lifecycle/RespawnStorm.js"

const dirs: Array<string> = []
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})
const home = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-starts-"))
  dirs.push(dir)
  return dir
}
const now = Date.parse("2026-12-05T00:00:00.000Z")
const window = Duration.seconds(120)
const record = (dir: string, at: number) =>
  Effect.flatMap(StartHistory, (h) => h.record(at, window)).pipe(Effect.provide(StartHistory.live(startHistoryFile(dir))))

describe("starts.json", () => {
  it.effect("records each start (0600, ISO times) and returns the earlier ones", () =>
    Effect.gen(function*() {
      const dir = home()
      expect(yield* record(dir, now)).toEqual([])
      expect(yield* record(dir, now + 1000)).toEqual([now])
      const file = startHistoryFile(dir)
      expect(fs.statSync(file).mode & 0o777).toBe(0o600)
      expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual({
        starts: [new Date(now).toISOString(), new Date(now + 1000).toISOString()]
      })
    }))

  it.effect("garbage, a truncated file or odd entries are treated as absent, never a failure", () =>
    Effect.gen(function*() {
      const dir = home()
      const file = startHistoryFile(dir)
      for (const text of ["", "{\"starts\": [", "[1,2,3]", "\u0000\u0001binary", "{\"starts\": 7}"]) {
        fs.writeFileSync(file, text)
        expect(yield* record(dir, now)).toEqual([])
        expect(JSON.parse(fs.readFileSync(file, "utf8")).starts).toHaveLength(1)
      }
      fs.writeFileSync(file, JSON.stringify({ starts: [new Date(now - 1000).toISOString(), "yesterday-ish", 12, null] }))
      expect(yield* record(dir, now)).toEqual([now - 1000])
    }))

  it.effect("stays bounded: only starts inside the window, at most the history limit", () =>
    Effect.gen(function*() {
      const dir = home()
      const file = startHistoryFile(dir)
      const many = Array.from({ length: 1000 }, (_, i) => new Date(now - 100_000 + i * 100).toISOString())
      fs.writeFileSync(file, JSON.stringify({ starts: many }))
      yield* record(dir, now)
      const kept: Array<string> = JSON.parse(fs.readFileSync(file, "utf8")).starts
      expect(kept.length).toBe(historyLimit)
      expect(kept.every((t) => Date.parse(t) > now - 120_000)).toBe(true)
      expect(kept[kept.length - 1]).toBe(new Date(now).toISOString())
    }))

  it.effect("an unwritable home only logs: the start still goes on", () =>
    Effect.gen(function*() {
      const dir = path.join(home(), "missing", "deeper")
      expect(yield* record(dir, now)).toEqual([])
    }))
})
