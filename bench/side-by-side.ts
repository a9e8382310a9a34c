// Issue 13's benchmark, side by side: the `bare` node:http echo, the same echo on @effect/platform's
// HttpServer bundled with esbuild (`effect`), and one or more gateway builds, interleaved, medians,
// ratios against the anchors of the same run, and every figure against issue 13's targets.
// Not part of `npm test`; method and results in BENCHMARKS.md.
//
//   npm run build && node --import tsx bench/side-by-side.ts [--node /path/to/node] \
//     [--bin main=dist/hermes.js --bin other=/tmp/other/dist/hermes.js] [--runs 5] [--load-seconds 4] ...
//
// Each run starts every target in turn (run 1: bare, effect, gateways; run 2: ...) so load drift on
// a shared machine hits all alike. Per run and target:
//   idle      ready → 300 ms → SIGTERM (for the gateway an unplanned stop, exit 1) → exit
//   load      ready → warm-up → GET /metrics (opens an event-loop delay window) → POST
//             /v1/chat/completions over C keep-alive connections for L seconds → GET /metrics (the
//             window's p99); server CPU = utime+stime over the load / requests answered; then the
//             gateway gets `gateway stop` (the planned stop) → exit, an anchor SIGTERM
//   drain     gateway: echo delay D, one streamed turn, SIGTERM at its first byte → exit after its last byte
//   sessions  gateway: one session seeded with N messages (a new session's history comes with its
//             first request) and one fresh, then T turns in each, alternating, one at a time: p50
// Ratios are taken within each run, then the median over runs.
import { spawn } from "node:child_process"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { BenchUsageError, parseSideBySideArgs, type SideBySideOptions } from "./lib/Args.js"
import { chatBody, loadFor, postChat, scrapeSeries } from "./lib/HttpLoad.js"
import { cpuMs, makeTempDir, now, sleep, spawnTracked } from "./lib/Processes.js"
import { printReport, type Sample } from "./lib/SideBySideReport.js"
import { percentile } from "./lib/Stats.js"
import { bundleAnchors, finish, gatewayTarget, type Running, type Target } from "./lib/Targets.js"

const stopAndTime = async (running: Running): Promise<{ ms: number; code: number | null }> => {
  const signalledAt = now()
  running.child.kill("SIGTERM")
  const exit = await running.exited
  return { ms: exit.at - signalledAt, code: exit.code }
}

const idle = async (target: Target, sample: Sample) => {
  const running = await target.start()
  try {
    sample.readyMs.push(running.readyMs)
    sample.rssMb.push(running.rssAtReadyMb)
    await sleep(300) // start-up's trailing work (state file, health) settles: this is the idle stop
    const exit = await stopAndTime(running)
    sample.idleExitMs = exit.ms
    sample.idleCode = exit.code
  } finally {
    await finish(running)
  }
}

const load = async (target: Target, sample: Sample, options: SideBySideOptions, node: string, profileDir: string | undefined) => {
  const nodeArgs = profileDir !== undefined && target.kind === "gateway" ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : []
  const running = await target.start({ nodeArgs })
  const body = (i: number) => chatBody(`bench message ${i}`, options.sessions > 0 ? `bench-session-${i % options.sessions}` : `bench-user-${i}`)
  try {
    sample.readyMs.push(running.readyMs)
    sample.rssMb.push(running.rssAtReadyMb)
    const warm = await loadFor(running.port, options.warmupSeconds, options.connections, 0, body)
    await scrapeSeries(running.port, "hermes_event_loop_delay_p99_seconds")
    const cpuBefore = cpuMs(running.pid)
    const result = await loadFor(running.port, options.loadSeconds, options.connections, warm.requests, body)
    sample.cpuUsPerRequest = ((cpuMs(running.pid) - cpuBefore) * 1000) / result.requests
    sample.loopP99Ms = (await scrapeSeries(running.port, "hermes_event_loop_delay_p99_seconds")) * 1000
    sample.reqPerSecond = result.perSecond
    sample.p50Ms = result.p50Ms
    sample.p99Ms = result.p99Ms
    if (target.kind === "gateway") {
      await sleep(300) // the last answers' bookkeeping settles: the planned stop is of an idle gateway
      const stopAt = now()
      const stop = spawnTracked(node, [target.file, "gateway", "stop", "--home", running.dir], "ignore")
      const exit = await running.exited
      sample.stopExitMs = exit.at - stopAt
      sample.stopCode = exit.code
      const stopExit = await stop.exited
      if (stopExit.code !== 0) throw new Error(`gateway stop exited ${stopExit.code}\n${running.log()}`)
    }
  } finally {
    await finish(running)
  }
}

/** One streamed turn in flight (first byte seen: the turn is durable and running), then SIGTERM. */
const drain = async (target: Target, sample: Sample, options: SideBySideOptions) => {
  const running = await target.start({ echoDelayMs: options.drainDelayMs })
  const agent = new http.Agent({ keepAlive: true })
  try {
    sample.readyMs.push(running.readyMs)
    sample.rssMb.push(running.rssAtReadyMb)
    // The first byte comes only once the turn is durable and running (CONTRACT 9).
    const answered = postChat(agent, running.port, chatBody("drain me", "bench-drain", { stream: true }), () => running.child.kill("SIGTERM"))
    const [answer, exit] = await Promise.all([answered, running.exited])
    if (answer.status !== 200) throw new Error(`drain turn answered ${answer.status}\n${running.log()}`)
    sample.drainMs = exit.at - answer.endAt
    sample.drainCode = exit.code
  } finally {
    agent.destroy()
    await finish(running)
  }
}

/** Turn latency in a session of N messages against a fresh one, T turns each, one at a time. */
const sessionTurns = async (target: Target, sample: Sample, options: SideBySideOptions) => {
  const running = await target.start()
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  try {
    sample.readyMs.push(running.readyMs)
    sample.rssMb.push(running.rssAtReadyMb)
    const history = Array.from({ length: options.longSession - 1 }, (_, i) => ({ role: i % 2 === 0 ? "user" : "assistant", content: `message ${i} `.repeat(8) }))
    const seeds = [chatBody("seed", "bench-long", { history }), chatBody("seed", "bench-fresh")]
    for (const seed of seeds) {
      const answer = await postChat(agent, running.port, seed)
      if (answer.status !== 200) throw new Error(`session seed answered ${answer.status}\n${running.log()}`)
    }
    const times = { long: [] as Array<number>, fresh: [] as Array<number> }
    for (let i = 0; i < options.sessionTurns; i++) {
      for (const session of ["long", "fresh"] as const) {
        const sentAt = now()
        const answer = await postChat(agent, running.port, chatBody(`turn ${i}`, `bench-${session}`))
        if (answer.status !== 200) throw new Error(`turn in the ${session} session answered ${answer.status}\n${running.log()}`)
        times[session].push(answer.endAt - sentAt)
      }
    }
    sample.longTurnP50Ms = percentile(times.long.sort((a, b) => a - b), 50)
    sample.freshTurnP50Ms = percentile(times.fresh.sort((a, b) => a - b), 50)
  } finally {
    agent.destroy()
    await finish(running)
  }
}

const emptySample = (): Sample => ({
  readyMs: [],
  rssMb: [],
  idleExitMs: Number.NaN,
  idleCode: null,
  reqPerSecond: Number.NaN,
  p50Ms: Number.NaN,
  p99Ms: Number.NaN,
  cpuUsPerRequest: Number.NaN,
  loopP99Ms: Number.NaN
})

const nodeVersion = (node: string) =>
  new Promise<string>((resolve, reject) => {
    const child = spawn(node, ["--version"], { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()))
    child.once("error", reject)
    child.once("exit", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${node} --version exited ${code}`))))
  })

const main = async () => {
  const options = parseSideBySideArgs(process.argv.slice(2))
  const node = options.node === undefined ? process.execPath : path.resolve(options.node)
  const version = await nodeVersion(node)
  const anchors = await bundleAnchors(node, makeTempDir("hermes-bench-anchors-"))
  const gateways = options.bins.map((bin) => gatewayTarget(node, bin.label, path.resolve(bin.file)))
  const targets = [...anchors, ...gateways]
  const samples = new Map(targets.map((target) => [target.label, [] as Array<Sample>]))
  const loads = [os.loadavg()[0]!]
  const startedAt = now()
  for (let run = 1; run <= options.runs; run++) {
    for (const target of targets) {
      const sample = emptySample()
      const profileDir = options.cpuProfileDir !== undefined ? path.resolve(options.cpuProfileDir, `${target.label}-run${run}`) : undefined
      await idle(target, sample)
      await load(target, sample, options, node, profileDir)
      if (target.kind === "gateway") {
        await drain(target, sample, options)
        await sessionTurns(target, sample, options)
      }
      samples.get(target.label)!.push(sample)
      loads.push(os.loadavg()[0]!)
      console.error(`run ${run}/${options.runs} ${target.label}: ${JSON.stringify(sample, (_, v) => (typeof v === "number" ? Math.round(v * 10) / 10 : v))}`)
    }
  }
  printReport({ options, nodeVersion: version, loads, seconds: (now() - startedAt) / 1000, samples })
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof BenchUsageError ? `side-by-side: ${error.message}` : error)
    process.exit(error instanceof BenchUsageError ? 2 : 1)
  }
)

