// CPU per turn of a turn's two durable writes (begin, complete) on the SessionDB's SQLite engines,
// in this process, as the worker's group commit runs them: the journal over @effect/sql
// (src/sessions/TurnJournal.ts, one transaction per group, a savepoint per call) against the plain
// synchronous writes the worker uses for them (src/sessions/worker/TurnWrites.ts, TurnWriteGroup.ts).
// Groups of G turns, each turn a new session with a key (as bench/side-by-side.ts sends them).
// Not part of `npm test`.
//
//   node --import tsx bench/turn-writes.ts [--groups 300] [--group 10] [--rounds 3]
//   /path/to/node24 --import tsx bench/turn-writes.ts     # node:sqlite as well
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { SessionInbound } from "../src/sessions/SessionDb.js"
import type { EngineName } from "../src/sessions/SqliteDriver.js"
import { availableEngines } from "../src/sessions/SqliteEngine.js"
import { openSqliteJournal } from "../src/sessions/SqliteSessionStore.js"
import { runTurnWrites, type TurnWriteCall } from "../src/sessions/worker/TurnWriteGroup.js"
import { makeTurnWrites } from "../src/sessions/worker/TurnWrites.js"
import { median } from "./lib/Stats.js"

const args = process.argv.slice(2)
const option = (name: string, fallback: string): number => {
  const at = args.indexOf(`--${name}`)
  return Number(at >= 0 && args[at + 1] !== undefined ? args[at + 1]! : fallback)
}
const groups = option("groups", "300")
const groupSize = option("group", "10")
const rounds = option("rounds", "3")

let next = 0
const inbound = (): SessionInbound => {
  next++
  return { platform: "http", sessionKey: `bench-user-${next}`, text: `bench message ${next}`, history: [] }
}

type Way = "journal" | "writes"

/** CPU µs per turn over `groups` groups after a warm-up of 30, on a fresh database. */
const measure = (engine: EngineName, way: Way) =>
  Effect.scoped(Effect.gen(function*() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-turn-writes-"))
    yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
    const { db, sql, driver } = yield* Effect.acquireRelease(
      openSqliteJournal(path.join(dir, "state.db"), { engine }, { previousLifeCrashed: false }, { recoverTurns: false, deliveryLog: false }),
      ({ db }) => Effect.ignore(db.close)
    )
    const writes = makeTurnWrites(driver, { requestResponsePlatforms: ["http"] })
    const run = (calls: ReadonlyArray<TurnWriteCall>): Effect.Effect<ReadonlyArray<unknown>> =>
      way === "writes"
        ? Effect.sync(() => runTurnWrites(driver, writes, calls.map((call, id) => ({ _tag: "Call", id, call }))).map(([, exit]) => Exit.getOrElse(exit, () => undefined)))
        : sql.withTransaction(Effect.forEach(calls, (call) =>
          call._tag === "beginTurn" ? db.beginTurn(call.inbound) : call._tag === "completeTurn" ? db.completeTurn(call.ids, call.reply) : Effect.void
        )).pipe(Effect.orDie)
    const group = Effect.gen(function*() {
      const begun = yield* run(Array.from({ length: groupSize }, (): TurnWriteCall => ({ _tag: "beginTurn", inbound: inbound() })))
      yield* run(begun.map((b): TurnWriteCall => ({ _tag: "completeTurn", ids: (b as { readonly ids: { turnId: string; sessionId: string } }).ids, reply: "echo" })))
    })
    for (let i = 0; i < 30; i++) yield* group
    const before = process.cpuUsage()
    for (let i = 0; i < groups; i++) yield* group
    const used = process.cpuUsage(before)
    return (used.user + used.system) / (groups * groupSize)
  }))

const main = Effect.gen(function*() {
  for (const engine of availableEngines()) {
    const figures: Record<Way, Array<number>> = { journal: [], writes: [] }
    for (let r = 1; r <= rounds; r++) {
      for (const way of ["journal", "writes"] as const) figures[way].push(yield* measure(engine, way))
    }
    console.log(
      `${engine} on Node ${process.version}, groups of ${groupSize}, ${groups} groups, median of ${rounds}: ` +
        `journal ${median(figures.journal).toFixed(0)} µs/turn, worker turn writes ${median(figures.writes).toFixed(0)} µs/turn of CPU`
    )
  }
}).pipe(Effect.provide(Logger.minimumLogLevel(LogLevel.Warning)))

Effect.runPromise(main).then(() => process.exit(0), (error: unknown) => {
  console.error(error)
  process.exit(1)
})
