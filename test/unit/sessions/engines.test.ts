// Engine selection: node:sqlite whenever this Node has it built in, else node-sqlite3-wasm; a forced
// engine the Node lacks is a clear error, not a silent fallback.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { openSqliteSessionDb } from "../../../src/sessions/SqliteSessionStore.js"
import { availableEngines, engineAvailability, resolveEngine } from "../../../src/sessions/SqliteEngine.js"
import { dbFile, tempHome } from "./harness.js"

const [major = 0, minor = 0] = process.versions.node.split(".").map(Number)
const nodeHasSqlite = major > 22 || (major === 22 && minor >= 13)

describe("SQLite engine selection", () => {
  it("lists the engines of this Node and picks node:sqlite exactly when it is built in", () => {
    console.log(
      `SessionDB engines on Node ${process.version}: ` +
        engineAvailability().map((e) => `${e.engine}=${e.available ? "available" : "unavailable"} (${e.reason})`).join(", ")
    )
    expect(availableEngines()).toContain("node-sqlite3-wasm")
    expect(availableEngines().includes("node:sqlite")).toBe(nodeHasSqlite)
    expect(resolveEngine("auto")).toBe(nodeHasSqlite ? "node:sqlite" : "node-sqlite3-wasm")
    expect(resolveEngine("node-sqlite3-wasm")).toBe("node-sqlite3-wasm")
  })

  it.scopedLive.skipIf(nodeHasSqlite)("forcing node:sqlite on a Node without it fails with a clear SessionDbError", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      const error = yield* Effect.flip(openSqliteSessionDb(file, { engine: "node:sqlite" }, { previousLifeCrashed: false }))
      expect(error._tag).toBe("SessionDbError")
      expect(error.message).toContain("node:sqlite is unavailable")
      expect(error.message).toContain(process.version)
    }))
})
