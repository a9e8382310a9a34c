// What a worker thread costs a Node HTTP server before it does anything: the floor under issue 13's
// ready and RSS targets (item 1 puts the SessionDB in a worker thread; the watchdog is another).
// Not part of `npm test`; figures in BENCHMARKS.md ("Where the floor of ready and RSS is").
//
//   node --import tsx bench/worker-floor.ts [--node /path/to/node] [--starts 11]
//
// Each variant is a node:http echo (node:http through `require`, as the gateway loads it) that first
// starts W workers (W = 0, 1, 2) and waits for each one's first message, then listens and prints
// "ready"; the workers stay alive. Interleaved starts; medians of: spawn → "ready" on stdout, and
// VmRSS 300 ms later.
import * as fs from "node:fs"
import * as path from "node:path"
import { killAndWait, makeTempDir, now, removeTempDir, rssMb, sleep, spawnTracked } from "./lib/Processes.js"
import { median } from "./lib/Stats.js"

const argument = (name: string): string | undefined => {
  const at = process.argv.indexOf(`--${name}`)
  return at === -1 ? undefined : process.argv[at + 1]
}
const node = argument("node") ?? process.execPath
const starts = Number(argument("starts") ?? 11)
if (!Number.isInteger(starts) || starts < 1) throw new Error(`--starts must be a whole number of at least 1, got ${argument("starts")}`)

const server = (workers: number): string => `
const http = require("node:http")
const { Worker } = require("node:worker_threads")
const up = []
for (let i = 0; i < ${workers}; i++) {
  // Stays alive, as the SessionDB's worker does, listening for work.
  const worker = new Worker("const { parentPort } = require('node:worker_threads'); parentPort.on('message', () => {}); parentPort.postMessage('up')", { eval: true })
  up.push(new Promise((resolve) => worker.once("message", resolve)))
}
Promise.all(up).then(() => http.createServer((q, r) => r.end("ok")).listen(0, "127.0.0.1", () => process.stdout.write("ready\\n")))
`

const startOnce = async (file: string): Promise<{ readyMs: number; rssMb: number }> => {
  const startedAt = now()
  const child = spawnTracked(node, [file], ["ignore", "pipe", "inherit"])
  try {
    await new Promise<void>((resolve, reject) => {
      child.child.stdout!.once("data", () => resolve())
      child.child.once("exit", (code) => reject(new Error(`the echo exited with ${code} before it was ready`)))
    })
    const readyMs = now() - startedAt
    await sleep(300)
    return { readyMs, rssMb: rssMb(child.pid) }
  } finally {
    await killAndWait(child)
  }
}

const dir = makeTempDir("hermes-bench-worker-floor-")
try {
  const variants = [0, 1, 2].map((workers) => {
    const file = path.join(dir, `echo-${workers}-workers.cjs`)
    fs.writeFileSync(file, server(workers))
    return { workers, file, ready: [] as Array<number>, rss: [] as Array<number> }
  })
  for (let i = 0; i < starts; i++) {
    for (const variant of variants) {
      const { readyMs, rssMb: rss } = await startOnce(variant.file)
      variant.ready.push(readyMs)
      variant.rss.push(rss)
    }
  }
  console.log(`node ${node}, ${starts} interleaved starts, medians`)
  console.log("| workers | ready ms | RSS MB |")
  console.log("|---|---|---|")
  for (const v of variants) console.log(`| ${v.workers} | ${median(v.ready).toFixed(1)} | ${median(v.rss).toFixed(1)} |`)
} finally {
  removeTempDir(dir)
}
