// The driver both engines build on their connection (guardedDriver): a closed driver refuses
// statements with a message naming the file, and closing it twice closes the engine once.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { guardedDriver, type SqlRow } from "../../../src/sessions/SqliteDriver.js"
import { openDriver } from "../../../src/sessions/SqliteEngine.js"
import { dbFile, engineCases, tempHome } from "./harness.js"

const fakeConnection = () => {
  const calls = { run: [] as Array<string>, close: 0 }
  const connection = {
    run: (sql: string): ReadonlyArray<SqlRow> => {
      calls.run.push(sql)
      return [{ sql }]
    },
    close: () => {
      calls.close++
    }
  }
  return { calls, connection }
}

describe("guardedDriver", () => {
  it("passes statements through while open, then refuses them naming the file", () => {
    const { calls, connection } = fakeConnection()
    const driver = guardedDriver("node:sqlite", "/nowhere/state.db", connection)
    expect(driver.engine).toBe("node:sqlite")
    expect(driver.file).toBe("/nowhere/state.db")
    expect(driver.query("SELECT 1", [])).toEqual([{ sql: "SELECT 1" }])
    driver.close()
    expect(() => driver.query("SELECT 2", [])).toThrow("the database /nowhere/state.db is closed")
    expect(calls.run).toEqual(["SELECT 1"])
  })

  it("closes the engine's connection once, however often it is closed", () => {
    const { calls, connection } = fakeConnection()
    const driver = guardedDriver("node-sqlite3-wasm", "/nowhere/state.db", connection)
    driver.close()
    driver.close()
    expect(calls.close).toBe(1)
  })
})

describe.each(engineCases)("a closed driver on $label", ({ available, engine }) => {
  it.scopedLive.skipIf(!available)("refuses statements and tolerates a second close", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const file = dbFile(home)
      const driver = yield* Effect.orDie(openDriver(engine, file, { busyTimeoutMs: 1000 }))
      expect(driver.query("PRAGMA journal_mode", [])[0]?.journal_mode).toBe("wal")
      driver.close()
      driver.close()
      expect(() => driver.query("SELECT 1", [])).toThrow(`the database ${file} is closed`)
      expect(fs.existsSync(file)).toBe(true)
    }))
})

describe.each(engineCases)("statements kept prepared on $label", ({ available, engine }) => {
  it.scopedLive.skipIf(!available)("a statement that failed runs again; more statements than the cache holds all run", () =>
    Effect.gen(function*() {
      const driver = yield* Effect.orDie(openDriver(engine, dbFile(yield* tempHome), { busyTimeoutMs: 1000 }))
      yield* Effect.addFinalizer(() => Effect.sync(() => driver.close()))
      driver.query("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)", [])
      const insert = "INSERT INTO t (k, v) VALUES (?, ?)"
      driver.query(insert, [1, "one"])
      // node-sqlite3-wasm cannot reset a statement whose last step failed: the cache drops it.
      expect(() => driver.query(insert, [1, "again"])).toThrow(/UNIQUE|constraint/i)
      expect(() => driver.query(insert, [2, null])).toThrow(/NOT NULL|constraint/i)
      driver.query(insert, [2, "two"])
      for (let k = 3; k < 203; k++) driver.query(`SELECT ${k} AS k`, [])
      driver.query(insert, [3, "three"])
      expect(driver.query("SELECT k, v FROM t ORDER BY k", [])).toEqual([{ k: 1, v: "one" }, { k: 2, v: "two" }, { k: 3, v: "three" }])
    }))
})
