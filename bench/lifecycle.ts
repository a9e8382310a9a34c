// Start-up, stop and HTTP turns/s of built gateways, side by side. Not part of `npm test`;
// results in BENCHMARKS.md.
//
//   npm run build && node --import tsx bench/lifecycle.ts --bin base=/tmp/base/dist/hermes.js \
//     --bin new=dist/hermes.js [--runs 5] [--requests 2000] [--connections 10] [--sessions 0]
//
// Each run starts every bin in turn (run 1: a, b; run 2: a, b; ...) so load drift on a shared machine
// hits all of them alike. Every gateway gets a fresh home, the HTTP adapter on a free loopback port
// and the echo agent. Per run and bin, three gateways:
//   idle   ready → SIGTERM with no planned-stop marker (an unplanned stop: exit 1) → exit
//   load   ready → warm-up, then N non-streaming POST /v1/chat/completions over C keep-alive
//          connections → `gateway stop` (the planned stop: marker, SIGTERM, exit 0) → exit
//   drain  echo delay D; one streamed turn, SIGTERM at its first byte → exit after its last byte
// "ready" is spawn → first 200 from GET /readyz (polled every 2 ms); RSS is VmRSS at that moment.
// Server CPU per request is the gateway's utime+stime (/proc/PID/stat) over the measured requests.
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

const argv = process.argv.slice(2)
const option = (name: string, fallback: string): string => {
  const at = argv.lastIndexOf(`--${name}`)
  return at >= 0 && argv[at + 1] !== undefined ? argv[at + 1]! : fallback
}
const bins = argv.flatMap((arg, i) => (arg === "--bin" && argv[i + 1] !== undefined ? [argv[i + 1]!] : [])).map((spec) => {
  const eq = spec.indexOf("=")
  if (eq <= 0) throw new Error(`--bin wants LABEL=PATH, got ${spec}`)
  const file = path.resolve(spec.slice(eq + 1))
  if (!fs.existsSync(file)) throw new Error(`${file}: no such file (build first)`)
  return { label: spec.slice(0, eq), file }
})
if (bins.length === 0) throw new Error("give at least one --bin LABEL=PATH")
const runs = Number(option("runs", "5"))
const requests = Number(option("requests", "2000"))
const warmup = Number(option("warmup", "200"))
const connections = Number(option("connections", "10"))
/** 0: every request its own `user` (a fresh session, so history does not grow); K: K sessions round-robin. */
const sessions = Number(option("sessions", "0"))
const drainDelayMs = Number(option("drain-delay-ms", "300"))
const clockTick = 100 // CLK_TCK on Linux
/** When given, the loaded gateway runs under `node --cpu-prof` and writes its profile here (LABEL-runN/). */
const cpuProfileDir = option("cpu-prof", "")

// ------------------------------------------------------------------------------------------------
// Process bookkeeping: everything started is killed and every temp dir removed, even on failure.

const live = new Set<ChildProcess>()
const homes = new Set<string>()
const cleanUp = () => {
  for (const child of live) child.kill("SIGKILL")
  for (const home of homes) fs.rmSync(home, { recursive: true, force: true })
}
process.on("exit", cleanUp)
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(130))

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const now = () => performance.now()

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer().once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

interface Gateway {
  readonly child: ChildProcess
  readonly pid: number
  readonly home: string
  readonly port: number
  readonly exited: Promise<{ code: number | null; signal: string | null; at: number }>
  readonly log: () => string
}

const startGateway = async (file: string, echoDelayMs: number, nodeArgs: ReadonlyArray<string>): Promise<Gateway> => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-bench-life-"))
  homes.add(home)
  const port = await freePort()
  fs.writeFileSync(
    path.join(home, "config.yaml"),
    ["adapters:", "  http:", "    host: 127.0.0.1", `    port: ${port}`, "agent:", "  echo:", `    delay: ${echoDelayMs}ms`, ""].join("\n")
  )
  // The log goes to a file, not a pipe, so this process does not spend CPU reading it.
  const logFile = path.join(home, "bench-output.log")
  const fd = fs.openSync(logFile, "w")
  const child = spawn(process.execPath, [...nodeArgs, file, "gateway", "run", "--home", home], { stdio: ["ignore", fd, fd] })
  fs.closeSync(fd)
  live.add(child)
  const exited = new Promise<{ code: number | null; signal: string | null; at: number }>((resolve) =>
    child.once("exit", (code, signal) => {
      live.delete(child)
      resolve({ code, signal, at: now() })
    })
  )
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8").slice(-3000) : "")
  return { child, pid: child.pid!, home, port, exited, log }
}

const finish = async (gateway: Gateway) => {
  if (gateway.child.exitCode === null && gateway.child.signalCode === null) gateway.child.kill("SIGKILL")
  await gateway.exited
  fs.rmSync(gateway.home, { recursive: true, force: true })
  homes.delete(gateway.home)
}

const noKeepAlive = new http.Agent({ keepAlive: false })
const readyzStatus = (port: number) =>
  new Promise<number>((resolve) => {
    const request = http.get({ host: "127.0.0.1", port, path: "/readyz", agent: noKeepAlive, timeout: 2000 }, (response) => {
      response.resume()
      resolve(response.statusCode ?? 0)
    })
    request.on("error", () => resolve(0))
    request.on("timeout", () => request.destroy())
  })

const rssMb = (pid: number): number => {
  const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
  return match ? Number(match[1]) / 1024 : NaN
}

/** utime + stime of the process, in ms. */
const cpuMs = (pid: number): number => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTick
}

/** Spawn → first 200 from /readyz, and VmRSS right then. */
const waitReady = async (gateway: Gateway, spawnedAt: number) => {
  const deadline = spawnedAt + 60_000
  while ((await readyzStatus(gateway.port)) !== 200) {
    if (gateway.child.exitCode !== null) throw new Error(`gateway exited ${gateway.child.exitCode} before ready\n${gateway.log()}`)
    if (now() > deadline) throw new Error(`not ready after 60 s\n${gateway.log()}`)
    await sleep(2)
  }
  return { readyMs: now() - spawnedAt, rssMb: rssMb(gateway.pid) }
}

const start = async (file: string, echoDelayMs = 0, nodeArgs: ReadonlyArray<string> = []) => {
  const spawnedAt = now()
  const gateway = await startGateway(file, echoDelayMs, nodeArgs)
  return { gateway, ...(await waitReady(gateway, spawnedAt)) }
}

// ------------------------------------------------------------------------------------------------
// Load

const post = (agent: http.Agent, port: number, body: string) =>
  new Promise<{ status: number; firstByteAt: number; endAt: number }>((resolve, reject) => {
    let firstByteAt = 0
    const request = http.request(
      { host: "127.0.0.1", port, path: "/v1/chat/completions", method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (response) => {
        response.on("data", () => (firstByteAt ||= now()))
        response.on("end", () => resolve({ status: response.statusCode ?? 0, firstByteAt, endAt: now() }))
        response.on("error", reject)
      }
    )
    request.on("error", reject)
    request.end(body)
  })

const chatBody = (i: number, stream = false) =>
  JSON.stringify({
    messages: [{ role: "user", content: `bench message ${i}` }],
    user: sessions > 0 ? `bench-session-${i % sessions}` : `bench-user-${i}`,
    ...(stream ? { stream: true } : {})
  })

const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

/** `count` requests over `connections` keep-alive connections; numbering starts at `offset`. */
const load = async (port: number, count: number, offset: number) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections })
  const latencies: Array<number> = []
  let next = 0
  let failed = 0
  const worker = async () => {
    while (next < count) {
      const i = offset + next++
      const startedAt = now()
      const { status } = await post(agent, port, chatBody(i))
      if (status !== 200) failed++
      latencies.push(now() - startedAt)
    }
  }
  const startedAt = now()
  await Promise.all(Array.from({ length: connections }, worker))
  const seconds = (now() - startedAt) / 1000
  agent.destroy()
  if (failed > 0) throw new Error(`${failed} of ${count} requests were not answered 200`)
  latencies.sort((a, b) => a - b)
  return { perSecond: count / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) }
}

// ------------------------------------------------------------------------------------------------
// One run of one bin

interface Sample {
  readyMs: Array<number>
  rssMb: Array<number>
  reqPerSecond: number
  p50Ms: number
  p99Ms: number
  cpuUsPerRequest: number
  unplannedExitMs: number
  unplannedCode: number | null
  plannedExitMs: number
  plannedCode: number | null
  drainMs: number
  drainCode: number | null
}

const idleStop = async (file: string, sample: Partial<Sample>) => {
  const { gateway, readyMs, rssMb } = await start(file)
  try {
    sample.readyMs!.push(readyMs)
    sample.rssMb!.push(rssMb)
    await sleep(300) // let start-up's trailing work (state file, health) settle: this is the idle stop
    const signalledAt = now()
    gateway.child.kill("SIGTERM")
    const exit = await gateway.exited
    sample.unplannedExitMs = exit.at - signalledAt
    sample.unplannedCode = exit.code
  } finally {
    await finish(gateway)
  }
}

const loadThenPlannedStop = async (file: string, sample: Partial<Sample>, profileDir: string | undefined) => {
  const { gateway, readyMs, rssMb } = await start(file, 0, profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [])
  try {
    sample.readyMs!.push(readyMs)
    sample.rssMb!.push(rssMb)
    await load(gateway.port, warmup, 0)
    const cpuBefore = cpuMs(gateway.pid)
    const result = await load(gateway.port, requests, warmup)
    sample.cpuUsPerRequest = ((cpuMs(gateway.pid) - cpuBefore) * 1000) / requests
    sample.reqPerSecond = result.perSecond
    sample.p50Ms = result.p50
    sample.p99Ms = result.p99
    await sleep(300) // the last answers' bookkeeping settles: the planned stop is of an idle gateway
    const stopAt = now()
    const stop = spawn(process.execPath, [file, "gateway", "stop", "--home", gateway.home], { stdio: "ignore" })
    live.add(stop)
    const stopExit = new Promise<number | null>((resolve) => stop.once("exit", (code) => (live.delete(stop), resolve(code))))
    const exit = await gateway.exited
    sample.plannedExitMs = exit.at - stopAt
    sample.plannedCode = exit.code
    const stopCode = await stopExit
    if (stopCode !== 0) throw new Error(`gateway stop exited ${stopCode}\n${gateway.log()}`)
  } finally {
    await finish(gateway)
  }
}

/** One streamed turn in flight (first byte seen: the turn is durable and running), then SIGTERM. */
const drain = async (file: string, sample: Partial<Sample>) => {
  const { gateway, readyMs, rssMb } = await start(file, drainDelayMs)
  const agent = new http.Agent({ keepAlive: true })
  try {
    sample.readyMs!.push(readyMs)
    sample.rssMb!.push(rssMb)
    const answered = new Promise<{ status: number; endAt: number }>((resolve, reject) => {
      const body = chatBody(0, true)
      const request = http.request(
        { host: "127.0.0.1", port: gateway.port, path: "/v1/chat/completions", method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
        (response) => {
          // The first byte comes only once the turn is durable and running (CONTRACT 9).
          response.once("data", () => gateway.child.kill("SIGTERM"))
          response.on("data", () => undefined)
          response.on("end", () => resolve({ status: response.statusCode ?? 0, endAt: now() }))
          response.on("error", reject)
        }
      )
      request.on("error", reject)
      request.end(body)
    })
    const [answer, exit] = await Promise.all([answered, gateway.exited])
    if (answer.status !== 200) throw new Error(`drain turn answered ${answer.status}\n${gateway.log()}`)
    sample.drainMs = exit.at - answer.endAt
    sample.drainCode = exit.code
  } finally {
    agent.destroy()
    await finish(gateway)
  }
}

const oneRun = async (file: string, profileDir: string | undefined): Promise<Sample> => {
  const sample: Partial<Sample> = { readyMs: [], rssMb: [] }
  await idleStop(file, sample)
  await loadThenPlannedStop(file, sample, profileDir)
  await drain(file, sample)
  return sample as Sample
}

// ------------------------------------------------------------------------------------------------
// Main: interleaved runs, medians

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
const range = (values: ReadonlyArray<number>, digits = 0) =>
  `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`
const codes = (values: ReadonlyArray<number | null>) => [...new Set(values.map(String))].join("/")

const samples = new Map(bins.map((bin) => [bin.label, [] as Array<Sample>]))
const loads: Array<number> = [os.loadavg()[0]!]
for (let run = 1; run <= runs; run++) {
  for (const bin of bins) {
    const profileDir = cpuProfileDir !== "" ? path.resolve(cpuProfileDir, `${bin.label}-run${run}`) : undefined
    const sample = await oneRun(bin.file, profileDir)
    samples.get(bin.label)!.push(sample)
    console.error(
      `run ${run} ${bin.label}: ready ${sample.readyMs.map((ms) => ms.toFixed(0)).join("/")} ms, ${sample.reqPerSecond.toFixed(0)} req/s, ` +
        `${sample.cpuUsPerRequest.toFixed(0)} µs CPU/req, SIGTERM→exit ${sample.unplannedExitMs.toFixed(0)} ms (${sample.unplannedCode}), ` +
        `stop→exit ${sample.plannedExitMs.toFixed(0)} ms (${sample.plannedCode}), drain ${sample.drainMs.toFixed(0)} ms (${sample.drainCode}), load ${os.loadavg()[0]!.toFixed(2)}`
    )
    loads.push(os.loadavg()[0]!)
  }
}

const who = sessions > 0 ? `${sessions} sessions round-robin` : "each request its own session (distinct `user`)"
console.log(
  `node ${process.version}, ${os.cpus().length} CPU(s), load average (1 min) ${range(loads, 1)} during the run; ` +
    `median of ${runs} interleaved run(s); ${requests} requests after ${warmup} warm-up over ${connections} keep-alive connections, ${who}; ` +
    `drain turn echo delay ${drainDelayMs} ms`
)
console.log("")
console.log("| bin | ready ms | RSS at ready MB | idle SIGTERM → exit ms (code) | `gateway stop` → exit ms (code) | drain: exit after last answer ms (code) | req/s | p50 / p99 ms | server CPU µs/request |")
console.log("|---|---|---|---|---|---|---|---|---|")
for (const [label, all] of samples) {
  const ready = all.flatMap((s) => s.readyMs)
  const rss = all.flatMap((s) => s.rssMb)
  const pick = (f: (s: Sample) => number) => all.map(f)
  console.log(
    `| ${label} | ${median(ready).toFixed(0)} | ${median(rss).toFixed(0)} | ${median(pick((s) => s.unplannedExitMs)).toFixed(0)} (${codes(all.map((s) => s.unplannedCode))}) | ` +
      `${median(pick((s) => s.plannedExitMs)).toFixed(0)} (${codes(all.map((s) => s.plannedCode))}) | ${median(pick((s) => s.drainMs)).toFixed(0)} (${codes(all.map((s) => s.drainCode))}) | ` +
      `${median(pick((s) => s.reqPerSecond)).toFixed(0)} | ${median(pick((s) => s.p50Ms)).toFixed(1)} / ${median(pick((s) => s.p99Ms)).toFixed(1)} | ${median(pick((s) => s.cpuUsPerRequest)).toFixed(0)} |`
  )
}
console.log("")
console.log("Spread (min–max over runs):")
console.log("")
console.log("| bin | ready ms | RSS MB | idle SIGTERM → exit ms | `gateway stop` → exit ms | drain ms | req/s | server CPU µs/request |")
console.log("|---|---|---|---|---|---|---|---|")
for (const [label, all] of samples) {
  const pick = (f: (s: Sample) => number) => all.map(f)
  console.log(
    `| ${label} | ${range(all.flatMap((s) => s.readyMs))} | ${range(all.flatMap((s) => s.rssMb))} | ${range(pick((s) => s.unplannedExitMs))} | ` +
      `${range(pick((s) => s.plannedExitMs))} | ${range(pick((s) => s.drainMs))} | ${range(pick((s) => s.reqPerSecond))} | ${range(pick((s) => s.cpuUsPerRequest))} |`
  )
}
