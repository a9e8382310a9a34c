// Server CPU per durable HTTP turn of one or more gateway builds, interleaved, medians: the figure
// issue 13's CPU target is stated in, with the event loop's own share apart from the other threads
// (the SessionDB worker, V8's GC and compiler threads, libuv's pool). Echo agent without delay, C
// keep-alive connections from this process, each request its own session (as bench/side-by-side.ts).
// Optionally one build under `node --cpu-prof` (profiles of every thread in --cpu-prof DIR).
//
// The warm-up (1 s unless --warmup-seconds) decides what is measured: after 1 s V8 is still
// compiling the turn path (its optimizing compiler's threads take a tenth of the CPU then); after
// ~10 s a gateway runs at its steady state, the one a daemon lives in. --threads adds the CPU per
// turn of each kind of thread by name (Node 24 names them; Node 20 calls them all "node").
//
//   npm run build && node --import tsx bench/cpu-per-turn.ts --bin before=/tmp/base/dist/hermes.js \
//     --bin after=dist/hermes.js [--rounds 5] [--seconds 5] [--warmup-seconds 1] [--connections 10] \
//     [--stream] [--threads] [--cpu-prof DIR]
import * as path from "node:path"
import { chatBody, loadFor } from "./lib/HttpLoad.js"
import { cpuMs } from "./lib/Processes.js"
import { median } from "./lib/Stats.js"
import { gatewayTarget } from "./lib/Targets.js"
import { threadCpu, threadCpuDelta } from "./lib/ThreadCpu.js"

const args = process.argv.slice(2)
const option = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`)
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1]! : fallback
}
const bins = args.flatMap((arg, i) => (arg === "--bin" && args[i + 1] !== undefined ? [args[i + 1]!] : [])).map((spec) => {
  const at = spec.indexOf("=")
  return at < 0 ? { label: path.basename(spec), file: path.resolve(spec) } : { label: spec.slice(0, at), file: path.resolve(spec.slice(at + 1)) }
})
if (bins.length === 0) bins.push({ label: "dist", file: path.resolve("dist/hermes.js") })
const rounds = Number(option("rounds", "5"))
const seconds = Number(option("seconds", "5"))
const connections = Number(option("connections", "10"))
const warmupSeconds = Number(option("warmup-seconds", "1"))
const byThread = args.includes("--threads")
const profileDir = option("cpu-prof", "")
// Streamed answers (`"stream": true`, what chat UIs ask for) instead of plain ones.
const stream = args.includes("--stream")

interface Round {
  readonly turnsPerSecond: number
  readonly cpuUs: number
  readonly mainUs: number
  readonly otherUs: number
}

const measure = async (label: string, file: string, round: number): Promise<Round> => {
  const nodeArgs = profileDir === "" ? [] : ["--cpu-prof", "--cpu-prof-dir", path.resolve(profileDir, `${label}-round${round}`)]
  const running = await gatewayTarget(process.execPath, label, file).start({ nodeArgs })
  try {
    const body = (i: number) => chatBody(`bench message ${i}`, `bench-user-${i}`, { stream })
    const warm = await loadFor(running.port, warmupSeconds, connections, 0, body)
    const [cpuBefore, threadsBefore] = [cpuMs(running.pid), threadCpu(running.pid)]
    const result = await loadFor(running.port, seconds, connections, warm.requests, body)
    const [cpuAfter, threadsAfter] = [cpuMs(running.pid), threadCpu(running.pid)]
    const threads = threadCpuDelta(threadsBefore, threadsAfter)
    const main = threads.find((t) => t.tid === running.pid)?.ms ?? Number.NaN
    const perTurn = (ms: number) => (ms * 1000) / result.requests
    if (byThread) {
      const named = new Map<string, number>()
      for (const thread of threads) named.set(thread.name, (named.get(thread.name) ?? 0) + thread.ms)
      console.error(`  ${label} µs/turn by thread: ${[...named].filter(([, ms]) => ms > 0).map(([name, ms]) => `${name} ${perTurn(ms).toFixed(0)}`).join(", ")}`)
    }
    return { turnsPerSecond: result.perSecond, cpuUs: perTurn(cpuAfter - cpuBefore), mainUs: perTurn(main), otherUs: perTurn(cpuAfter - cpuBefore - main) }
  } finally {
    running.child.kill("SIGTERM")
    await running.exited
  }
}

const main = async () => {
  const results = new Map(bins.map((bin) => [bin.label, [] as Array<Round>]))
  for (let round = 1; round <= rounds; round++) {
    for (const bin of bins) {
      const r = await measure(bin.label, bin.file, round)
      results.get(bin.label)!.push(r)
      console.error(`round ${round}/${rounds} ${bin.label}: ${r.turnsPerSecond.toFixed(0)} turns/s, CPU ${r.cpuUs.toFixed(0)} µs/turn (event loop ${r.mainUs.toFixed(0)}, other threads ${r.otherUs.toFixed(0)})`)
    }
  }
  console.log(`| build | turns/s | server CPU µs/turn | event-loop thread µs/turn | other threads µs/turn |`)
  console.log(`|---|---|---|---|---|`)
  for (const [label, rs] of results) {
    const m = (pick: (r: Round) => number) => median(rs.map(pick)).toFixed(0)
    const span = (pick: (r: Round) => number) => `${Math.min(...rs.map(pick)).toFixed(0)}–${Math.max(...rs.map(pick)).toFixed(0)}`
    console.log(`| ${label} | ${m((r) => r.turnsPerSecond)} (${span((r) => r.turnsPerSecond)}) | ${m((r) => r.cpuUs)} (${span((r) => r.cpuUs)}) | ${m((r) => r.mainUs)} (${span((r) => r.mainUs)}) | ${m((r) => r.otherUs)} (${span((r) => r.otherUs)}) |`)
  }
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(error)
  process.exit(1)
})
