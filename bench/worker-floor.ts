// The floor under issue 13's ready and RSS targets: what a Node HTTP echo costs with 0, 1 and 2
// worker threads (item 1 puts the SessionDB in one; the watchdog is another), plain and with
// Effect's core and Schema loaded. Not part of `npm test`; figures in BENCHMARKS.md ("Where the
// floor of ready and RSS is").
//
//   node --import tsx bench/worker-floor.ts [--node /path/to/node] [--starts 11]
//
// bench/anchors/floor-{plain,effect}.ts are bundled into a temp dir as the anchors are
// (bench/lib/Targets.ts), then started in turn, each variant once per round; medians of: spawn →
// "ready" on stdout, and VmRSS 300 ms later.
import * as path from "node:path"
import { argument } from "./lib/Args.js"
import { killAndWait, makeTempDir, now, removeTempDir, rssMb, sleep, spawnTracked } from "./lib/Processes.js"
import { median } from "./lib/Stats.js"
import { bundleAnchor } from "./lib/Targets.js"

const node = argument("node") ?? process.execPath
const starts = Number(argument("starts") ?? 11)
if (!Number.isInteger(starts) || starts < 1) throw new Error(`--starts must be a whole number of at least 1, got ${argument("starts")}`)

const startOnce = async (file: string, workers: number): Promise<{ readyMs: number; rssMb: number }> => {
  const startedAt = now()
  const echo = spawnTracked(node, [file, String(workers)], ["ignore", "pipe", "inherit"])
  try {
    await new Promise<void>((resolve, reject) => {
      echo.child.stdout!.once("data", () => resolve())
      echo.child.once("exit", (code) => reject(new Error(`${path.basename(file)} exited with ${code} before it was ready`)))
    })
    const readyMs = now() - startedAt
    await sleep(300)
    return { readyMs, rssMb: rssMb(echo.pid) }
  } finally {
    await killAndWait(echo)
  }
}

const dir = makeTempDir("hermes-bench-worker-floor-")
try {
  const files = { plain: await bundleAnchor("floor-plain", dir), effect: await bundleAnchor("floor-effect", dir) }
  const variants = (["plain", "effect"] as const).flatMap((kind) =>
    [0, 1, 2].map((workers) => ({ kind, workers, ready: [] as Array<number>, rss: [] as Array<number> }))
  )
  for (let round = 0; round < starts; round++) {
    for (const variant of variants) {
      const { readyMs, rssMb: rss } = await startOnce(files[variant.kind], variant.workers)
      variant.ready.push(readyMs)
      variant.rss.push(rss)
    }
  }
  console.log(`node ${node}, ${starts} interleaved starts, medians`)
  console.log("| echo | workers | ready ms | RSS MB |")
  console.log("|---|---|---|---|")
  for (const v of variants) console.log(`| ${v.kind} | ${v.workers} | ${median(v.ready).toFixed(1)} | ${median(v.rss).toFixed(1)} |`)
} finally {
  removeTempDir(dir)
}
