// How long a turn's beginTurn takes in a session that already holds N messages, on the durable
// SQLite journal (node-sqlite3-wasm): 100 turns, p50 and p90 in ms. The first argument is the
// checkout whose src/ is measured, so two versions can be compared from one place:
//
//   node --import tsx bench/begin-turn-latency.ts <checkout> 1 2000 12000
//
// Not part of `npm test`; results in BENCHMARKS.md.
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
const [root, ...sizes] = process.argv.slice(2)
// Loaded from the checkout given, typed as this checkout's version of the module.
const { openSqliteSessionDb } = (await import(
  pathToFileURL(path.resolve(root ?? ".", "src/sessions/SqliteSessionStore.ts")).href
)) as typeof import("../src/sessions/SqliteSessionStore.js")
const turns = 100
for (const n of sizes.map(Number)) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bp-begin-"))
  const result = await Effect.runPromise(Effect.gen(function*() {
    const db = yield* openSqliteSessionDb(path.join(dir, "state.db"), { engine: "node-sqlite3-wasm" }, { previousLifeCrashed: false })
    const history = Array.from({ length: n - 1 }, (_, i) => ({ role: (i % 2 === 0 ? "user" : "assistant") as "user" | "assistant", content: `message ${i} `.repeat(8) }))
    const first = yield* db.beginTurn({ platform: "http", sessionKey: "bench", text: "seed", history })
    yield* db.completeTurn(first.ids, "ok")
    const times: Array<number> = []
    for (let i = 0; i < turns; i++) {
      const t0 = performance.now()
      const begun = yield* db.beginTurn({ platform: "http", sessionKey: "bench", text: `q${i}`, history: [] })
      times.push(performance.now() - t0)
      yield* db.completeTurn(begun.ids, "ok")
    }
    yield* db.close
    times.sort((a, b) => a - b)
    return { n, p50: times[turns / 2]!.toFixed(2), p90: times[Math.floor(turns * 0.9)]!.toFixed(2), context: first.context.length }
  }).pipe(Effect.provide(Logger.remove(Logger.defaultLogger))))
  fs.rmSync(dir, { recursive: true, force: true })
  console.log(JSON.stringify(result))
}
