// Durable turns per second with the journal on: each turn is beginTurn + completeTurn, two
// IMMEDIATE transactions committed with synchronous=FULL, as the gateway does. One run per engine
// this Node has (node:sqlite needs Node >= 22.13). Not part of `npm test`; results in BENCHMARKS.md.
//
//   node --import tsx bench/durable-turns.ts [--turns N] [--sessions S] [--runs R] [--engine node:sqlite|node-sqlite3-wasm]
//     [--store in-process|worker] [--concurrency C]
//
// --store worker runs the journal as the gateway does, in a worker thread (one round trip per
// call, group commit); --concurrency C runs C clients at once, each turn after turn, so their
// commits can share an fsync. CPU is the whole process's (every thread), per turn.
//
// Each engine runs R times on a fresh database; the run with the median turns/s is printed, since
// fsync latency on a shared machine varies from run to run.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { engineNames, type EngineName } from "../src/sessions/SqliteDriver.js"
import { availableEngines } from "../src/sessions/SqliteEngine.js"
import { openSqliteSessionDb } from "../src/sessions/SqliteSessionStore.js"
import { openWorkerSessionDb } from "../src/sessions/worker/WorkerSessionDb.js"
import { argument } from "./lib/Args.js"


const turns = Number(argument("turns") ?? 2000)
const sessions = Number(argument("sessions") ?? 50)
const runs = Number(argument("runs") ?? 3)
const only = argument("engine") as EngineName | undefined
if (only !== undefined && !engineNames.includes(only)) throw new Error(`unknown engine ${only}`)
const store = argument("store") ?? "in-process"
if (store !== "in-process" && store !== "worker") throw new Error(`unknown store ${store}`)
const concurrency = Number(argument("concurrency") ?? 1)
const openStore = store === "worker" ? openWorkerSessionDb : openSqliteSessionDb
const engines = availableEngines().filter((e) => only === undefined || e === only)

const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!

interface Result {
  readonly run: number
  readonly engine: EngineName
  readonly openMs: number
  readonly turnsPerSecond: number
  readonly beginP50: number
  readonly beginP99: number
  readonly completeP50: number
  readonly fileKb: number
  readonly cpuUsPerTurn: number
}

const runEngine = (engine: EngineName, run: number) =>
  Effect.gen(function*() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-bench-"))
    const file = path.join(dir, "state.db")
    try {
      const t0 = performance.now()
      const db = yield* openStore(file, { engine }, { previousLifeCrashed: false })
      const openMs = performance.now() - t0
      const begins: Array<number> = []
      const completes: Array<number> = []
      const start = yield* Clock.currentTimeMillis
      const cpuBefore = process.cpuUsage()
      const client = (first: number) =>
        Effect.gen(function*() {
          for (let i = first; i < turns; i += concurrency) {
            const a = performance.now()
            const begun = yield* db.beginTurn({ platform: "http", sessionKey: `bench-${i % sessions}`, text: `question ${i}`, history: [] })
            const b = performance.now()
            yield* db.completeTurn(begun.ids, `answer ${i} `.repeat(8))
            const c = performance.now()
            begins.push(b - a)
            completes.push(c - b)
          }
        })
      yield* Effect.forEach(Array.from({ length: concurrency }, (_, c) => c), client, { concurrency: "unbounded", discard: true })
      const cpu = process.cpuUsage(cpuBefore)
      const elapsed = (yield* Clock.currentTimeMillis) - start
      yield* db.close
      begins.sort((x, y) => x - y)
      completes.sort((x, y) => x - y)
      return {
        run,
        engine,
        openMs,
        turnsPerSecond: turns / (elapsed / 1000),
        beginP50: percentile(begins, 0.5),
        beginP99: percentile(begins, 0.99),
        completeP50: percentile(completes, 0.5),
        fileKb: fs.statSync(file).size / 1024,
        cpuUsPerTurn: (cpu.user + cpu.system) / turns
      } satisfies Result
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

/** The floor under every durable commit on this machine: a 4 KiB append followed by fdatasync. */
const fdatasyncP50 = (): number => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-bench-"))
  const fd = fs.openSync(path.join(dir, "probe"), "a")
  const block = Buffer.alloc(4096, 1)
  const times: Array<number> = []
  try {
    for (let i = 0; i < 200; i++) {
      fs.writeSync(fd, block)
      const t = performance.now()
      fs.fdatasyncSync(fd)
      times.push(performance.now() - t)
    }
  } finally {
    fs.closeSync(fd)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return percentile(times.sort((a, b) => a - b), 0.5)
}

const program = Effect.gen(function*() {
  console.log(
    `node ${process.version}, ${os.cpus().length} CPU(s), load ${os.loadavg()[0]!.toFixed(2)}, ${turns} turns over ${sessions} sessions, ` +
      `store ${store}, concurrency ${concurrency}, median of ${runs} run(s), engines: ${engines.join(", ")}, fdatasync p50 ${fdatasyncP50().toFixed(3)} ms`
  )
  console.log("| engine | node | turns/s (begin+complete, durable) | beginTurn p50 / p99 ms | completeTurn p50 ms | first open ms (loads the engine) | db size KiB | CPU µs/turn (all threads) |")
  console.log("|---|---|---|---|---|---|---|---|")
  for (const engine of engines) {
    const all: Array<Result> = []
    for (let run = 0; run < runs; run++) all.push(yield* runEngine(engine, run))
    all.sort((a, b) => a.turnsPerSecond - b.turnsPerSecond)
    const r = all[Math.floor(all.length / 2)]!
    // The first run's open includes loading the engine (compiling the WebAssembly for the wasm one).
    const coldOpen = all.find((x) => x.run === 0)!.openMs
    console.log(
      `| ${r.engine} | ${process.version} | ${r.turnsPerSecond.toFixed(0)} | ${r.beginP50.toFixed(2)} / ${r.beginP99.toFixed(2)} | ` +
        `${r.completeP50.toFixed(2)} | ${coldOpen.toFixed(0)} | ${r.fileKb.toFixed(0)} | ${r.cpuUsPerTurn.toFixed(0)} |`
    )
  }
}).pipe(Effect.provide(Logger.remove(Logger.defaultLogger)))

Effect.runPromise(program).catch((error) => {
  console.error(error)
  process.exit(1)
})
