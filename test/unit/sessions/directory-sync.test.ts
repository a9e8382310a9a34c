// Each open fsyncs the database's directory exactly once, after the first commit that finds the WAL
// on disk (the wasm VFS never does it; node:sqlite does not for the main file). Observed by counting
// directories opened through node:fs, patched for this file only.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { createRequire, syncBuiltinESMExports } from "node:module"
import { dbFile, engineCases, inbound, openLife, tempHome } from "./harness.js"

const fsModule = createRequire(import.meta.url)("node:fs") as typeof fs
const originalOpenSync = fsModule.openSync
const directoriesOpened: Array<string> = []

beforeAll(() => {
  fsModule.openSync = ((file: fs.PathLike, ...rest: Array<unknown>) => {
    const fd = (originalOpenSync as (...args: Array<unknown>) => number)(file, ...rest)
    if (fs.fstatSync(fd).isDirectory()) directoriesOpened.push(String(file))
    return fd
  }) as typeof fs.openSync
  syncBuiltinESMExports()
})
afterAll(() => {
  fsModule.openSync = originalOpenSync
  syncBuiltinESMExports()
})

// In-process even under HERMES_TEST_SESSIONDB=worker: node:fs is patched in this thread only, and
// the driver that syncs the directory is the same code in the worker.
describe.each(engineCases)("directory fsync on $engine", ({ available, engine }) => {
  it.scopedLive.skipIf(!available)("once per open, with the WAL already on disk, never per turn", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const file = dbFile(home)
      for (let life = 0; life < 2; life++) {
        directoriesOpened.length = 0
        const db = yield* openLife(file, engine, undefined, undefined, undefined, false)
        expect(directoriesOpened).toEqual([home])
        expect(fs.existsSync(`${file}-wal`)).toBe(true)
        for (let i = 0; i < 5; i++) yield* db.beginTurn(inbound({ text: `turn ${i}`, sessionKey: "k" }))
        expect(directoriesOpened).toEqual([home])
        yield* db.close
      }
    }))
})
