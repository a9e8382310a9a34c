// Durable turns per second through a loopback round-robin load balancer: 1, 2 and 3 gateway
// replicas sharing one PostgreSQL database, beside one gateway on SQLite (its home's state.db),
// all the built CLI with the echo agent (no delay). Every 200 is a durable turn: question and answer
// committed before the answer is sent (CONTRACT 9), so 200s per second are durable turns/s; after
// each run the database is counted to show it. Not part of `npm test`; results in BENCHMARKS.md.
//
//   npm run build && bash -c 'source .ci/postgres.sh; trap postgres_stop EXIT; postgres_start; \
//     node --import tsx bench/replicas.ts [--runs 3] [--seconds 5] [--connections 8] [--replicas 1,2,3] [--bin dist/hermes.js]'
//
// Runs are interleaved (run r measures every setup once, in turn) so a change in the machine's load
// spreads over all setups; each setup's median over the runs is printed with the spread, and the
// load average before and after. Each request is a new connection (the balancer picks a replica per
// connection) and a new session. PostgreSQL is the throwaway one .ci/postgres.sh starts
// (POSTGRES_TEST_URL: a role that may create databases; each run gets a fresh one).
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import { LoadBalancer } from "../test/e2e/fakes/LoadBalancer.js"
import { adminQuery, postgresUrl, urlFor } from "../test/unit/sessions/postgres.js"
import { argument } from "./lib/Args.js"
import { chatBody, postChat, readyzStatus } from "./lib/HttpLoad.js"
import { freePort, killAndWait, makeTempDir, now, removeTempDir, sleep, type Spawned, spawnTracked } from "./lib/Processes.js"
import { median, spread } from "./lib/Stats.js"

const runs = Number(argument("runs") ?? 3)
const loadSeconds = Number(argument("seconds") ?? 5)
const connections = Number(argument("connections") ?? 8)
const replicaCounts = (argument("replicas") ?? "1,2,3").split(",").map(Number)
const hermes = argument("bin") ?? fileURLToPath(new URL("../dist/hermes.js", import.meta.url))
if (!fs.existsSync(hermes)) throw new Error("build first: npm run build")
if (postgresUrl === undefined) throw new Error("POSTGRES_TEST_URL is unset: run under .ci/postgres.sh (see the command above)")

interface Setup {
  readonly label: string
  readonly engine: "sqlite" | "postgres"
  readonly replicas: number
}

const setups: ReadonlyArray<Setup> = [
  { label: "SQLite, 1 gateway", engine: "sqlite", replicas: 1 },
  ...replicaCounts.map((n) => ({ label: `PostgreSQL, ${n} replica${n === 1 ? "" : "s"}`, engine: "postgres" as const, replicas: n }))
]

const config = (engine: Setup["engine"], port: number): string =>
  [
    "sessions:",
    `  engine: ${engine}`,
    "adapters:",
    "  http:",
    `    port: ${port}`,
    "agent:",
    "  kind: echo",
    ""
  ].join("\n")

const cleanEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("HERMES_") && key !== "NODE_OPTIONS" && key !== "POSTGRES_TEST_URL") env[key] = value
  }
  return { ...env, ...extra, HERMES_LOG_LEVEL: "warning" }
}

interface Gateway {
  readonly spawned: Spawned
  readonly home: string
  readonly port: number
}

const startGateway = async (engine: Setup["engine"], database: string | undefined): Promise<Gateway> => {
  const home = makeTempDir("hermes-bench-replica-")
  const port = await freePort()
  fs.writeFileSync(path.join(home, "config.yaml"), config(engine, port))
  const spawned = spawnTracked(
    process.execPath,
    [hermes, "gateway", "run", "--home", home],
    ["ignore", "ignore", "inherit"],
    cleanEnv(database !== undefined ? { DATABASE_URL: urlFor(database) } : {})
  )
  return { spawned, home, port }
}

const waitReady = async (gateway: Gateway): Promise<void> => {
  const deadline = now() + 60_000
  while ((await readyzStatus(gateway.port)) !== 200) {
    if (gateway.spawned.child.exitCode !== null) throw new Error(`a gateway exited ${gateway.spawned.child.exitCode} before ready`)
    if (now() > deadline) throw new Error("a gateway was not ready within 60 s")
    await sleep(50)
  }
}

/** 200s per second over `connections` clients, each request on a new connection, for `seconds`. */
const measure = async (port: number, seconds: number, tag: string): Promise<{ perSecond: number; ok: number; failed: number }> => {
  const agent = new http.Agent({ keepAlive: false })
  let ok = 0
  let failed = 0
  let next = 0
  const startedAt = now()
  const deadline = startedAt + seconds * 1000
  const client = async () => {
    while (now() < deadline) {
      const i = next++
      const answer = await postChat(agent, port, chatBody(`${tag} turn ${i}`, `${tag}-${i}`)).catch(() => ({ status: 0 }))
      if (answer.status === 200) ok++
      else failed++
    }
  }
  await Promise.all(Array.from({ length: connections }, client))
  const elapsed = (now() - startedAt) / 1000
  return { perSecond: ok / elapsed, ok, failed }
}

interface RunResult {
  readonly perSecond: number
  readonly failed: number
  /** 200s, warm-up included. */
  readonly acknowledged: number
  readonly storedTurns: number | undefined
}

const oneRun = async (setup: Setup, run: number): Promise<RunResult> => {
  const database = setup.engine === "postgres" ? `hermes_bench_${process.pid}_${run}_${setup.replicas}` : undefined
  if (database !== undefined) await Effect.runPromise(adminQuery(`CREATE DATABASE ${database}`))
  const gateways: Array<Gateway> = []
  let balancer: LoadBalancer | undefined
  try {
    for (let r = 0; r < setup.replicas; r++) {
      const gateway = await startGateway(setup.engine, database)
      gateways.push(gateway)
      await waitReady(gateway)
    }
    balancer = await LoadBalancer.start(undefined, gateways.map((g) => g.port))
    const warmup = await measure(balancer.port, 1, `warmup${run}`)
    const result = await measure(balancer.port, loadSeconds, `run${run}`)
    let storedTurns: number | undefined
    if (database !== undefined) {
      const rows = await Effect.runPromise(adminQuery("SELECT COUNT(*) AS n FROM turns WHERE status = 'completed'", database))
      storedTurns = Number(rows[0]!.n)
    }
    return { perSecond: result.perSecond, failed: result.failed, acknowledged: warmup.ok + result.ok, storedTurns }
  } finally {
    await balancer?.close()
    for (const gateway of gateways) {
      await killAndWait(gateway.spawned)
      removeTempDir(gateway.home)
    }
    if (database !== undefined) await Effect.runPromise(adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))
  }
}

const main = async () => {
  const loadBefore = os.loadavg()[0]!
  console.log(
    `node ${process.version}, ${os.cpus().length} CPU(s), load ${loadBefore.toFixed(2)} before; ${connections} connections, ` +
      `${loadSeconds} s per run after 1 s warm-up, ${runs} interleaved runs, echo agent without delay`
  )
  const results = new Map<string, Array<RunResult>>()
  for (let run = 0; run < runs; run++) {
    for (const setup of setups) {
      const result = await oneRun(setup, run)
      results.set(setup.label, [...(results.get(setup.label) ?? []), result])
      console.error(`run ${run + 1}/${runs} ${setup.label}: ${result.perSecond.toFixed(0)} turns/s, ${result.failed} failed, load ${os.loadavg()[0]!.toFixed(2)}`)
    }
  }
  console.log(`load ${os.loadavg()[0]!.toFixed(2)} after`)
  console.log("| setup | durable turns/s (median) | spread over runs | non-200 answers | turns completed in the database / answered 200 (median run) |")
  console.log("|---|---|---|---|---|")
  for (const setup of setups) {
    const all = results.get(setup.label)!
    const rates = all.map((r) => r.perSecond)
    const mid = [...all].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(all.length / 2)]!
    console.log(
      `| ${setup.label} | ${median(rates).toFixed(0)} | ${spread(rates)} | ${all.reduce((n, r) => n + r.failed, 0)} | ` +
        `${mid.storedTurns === undefined ? "– (state.db)" : `${mid.storedTurns} / ${mid.acknowledged}`} |`
    )
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
