// Picks the SQLite engine for this Node at run time: node:sqlite when it is built in (Node >= 22.13),
// else node-sqlite3-wasm. No native addon either way. Tests and benchmarks may force an engine.
import * as Effect from "effect/Effect"
import { loadNodeSqlite, openNodeSqlite } from "./NodeSqliteDriver.js"
import { describeSqliteError, type EngineName, type SqliteDriver } from "./SqliteDriver.js"
import { loadWasmSqlite, openWasmSqlite } from "./WasmSqliteDriver.js"

export type EngineChoice = "auto" | EngineName

export interface EngineAvailability {
  readonly engine: EngineName
  readonly available: boolean
  /** Why an engine is unavailable, for logs and skipped tests. */
  readonly reason: string
}

export const engineAvailability = (): ReadonlyArray<EngineAvailability> => [
  loadNodeSqlite() !== undefined
    ? { engine: "node:sqlite", available: true, reason: `built into Node ${process.version}` }
    : { engine: "node:sqlite", available: false, reason: `not built into Node ${process.version} (needs >= 22.13)` },
  { engine: "node-sqlite3-wasm", available: true, reason: "WebAssembly, runs on every supported Node" }
]

export const availableEngines = (): ReadonlyArray<EngineName> =>
  engineAvailability().filter((e) => e.available).map((e) => e.engine)

export const resolveEngine = (choice: EngineChoice): EngineName => {
  if (choice !== "auto") return choice
  return loadNodeSqlite() !== undefined ? "node:sqlite" : "node-sqlite3-wasm"
}

export interface DriverOptions {
  readonly busyTimeoutMs: number
}

/** Opens `file` with `engine`; a thrown engine error is returned as the failure, untouched, so the
 * caller can tell corruption from everything else. */
export const openDriver = (engine: EngineName, file: string, options: DriverOptions): Effect.Effect<SqliteDriver, unknown> => {
  if (engine === "node:sqlite") {
    return Effect.suspend(() => {
      const mod = loadNodeSqlite()
      if (mod === undefined) return Effect.fail(new Error(`node:sqlite is not built into Node ${process.version}`))
      return Effect.try({
        try: () => openNodeSqlite(mod, file, options),
        catch: (cause) => cause
      })
    })
  }
  return Effect.tryPromise({
    try: () => loadWasmSqlite(),
    catch: (cause) => new Error(`cannot load node-sqlite3-wasm: ${describeSqliteError(cause)}`)
  }).pipe(
    Effect.flatMap((mod) => Effect.try({ try: () => openWasmSqlite(mod, file), catch: (cause) => cause }))
  )
}
