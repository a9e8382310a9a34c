// The tables bench/side-by-side.ts prints (Markdown, pasted into BENCHMARKS.md as they are): the
// medians, the ratios against the anchors, the spread over runs and every figure of issue 13's
// targets with its verdict.
import * as os from "node:os"
import type { SideBySideOptions } from "./Args.js"
import { formatFigure, formatRatio, median, ratio, spread, verdict, type Target } from "./Stats.js"

/** One run of one target; the gateway-only fields stay undefined for the anchors. */
export interface Sample {
  readonly readyMs: Array<number>
  readonly rssMb: Array<number>
  idleExitMs: number
  idleCode: number | null
  reqPerSecond: number
  p50Ms: number
  p99Ms: number
  cpuUsPerRequest: number
  loopP99Ms: number
  stopExitMs?: number
  stopCode?: number | null
  drainMs?: number
  drainCode?: number | null
  longTurnP50Ms?: number
  freshTurnP50Ms?: number
}

export interface Report {
  readonly options: SideBySideOptions
  readonly nodeVersion: string
  readonly loads: ReadonlyArray<number>
  readonly seconds: number
  readonly samples: ReadonlyMap<string, ReadonlyArray<Sample>>
}

type Pick = (sample: Sample) => number | undefined

const figure: Record<string, Pick> = {
  ready: (s) => median(s.readyMs),
  rss: (s) => median(s.rssMb),
  idle: (s) => s.idleExitMs,
  stop: (s) => s.stopExitMs,
  drain: (s) => s.drainMs,
  reqPerSecond: (s) => s.reqPerSecond,
  cpu: (s) => s.cpuUsPerRequest,
  loop: (s) => s.loopP99Ms,
  longTurn: (s) => s.longTurnP50Ms,
  freshTurn: (s) => s.freshTurnP50Ms
}

const values = (all: ReadonlyArray<Sample>, pick: Pick): Array<number> => all.map((s) => pick(s) ?? Number.NaN).filter(Number.isFinite)
const medianOf = (all: ReadonlyArray<Sample>, pick: Pick): number => median(values(all, pick))
const codes = (all: ReadonlyArray<Sample>, pick: (s: Sample) => number | null | undefined): string =>
  [...new Set(all.map(pick).filter((c) => c !== undefined).map(String))].join("/")

/** The median over runs of the ratio within each run (run i of `all` against run i of `base`). */
const runRatio = (all: ReadonlyArray<Sample>, base: ReadonlyArray<Sample> | undefined, pick: Pick, basePick: Pick = pick): number =>
  base === undefined ? Number.NaN : median(all.map((s, i) => ratio(pick(s) ?? Number.NaN, basePick(base[i]!) ?? Number.NaN)).filter(Number.isFinite))

const withCode = (all: ReadonlyArray<Sample>, pick: Pick, code: (s: Sample) => number | null | undefined) => {
  const value = medianOf(all, pick)
  return Number.isFinite(value) ? `${formatFigure(value)} (${codes(all, code)})` : "–"
}

interface IssueTarget {
  readonly name: string
  readonly target: Target
  readonly shown: string
  readonly value: (all: ReadonlyArray<Sample>, bare: ReadonlyArray<Sample> | undefined, effect: ReadonlyArray<Sample> | undefined) => number
  readonly format: (value: number) => string
}

const issueTargets: ReadonlyArray<IssueTarget> = [
  { name: "ready, × bare", target: { at: "most", limit: 2 }, shown: "≤ 2.0×", value: (a, b) => runRatio(a, b, figure.ready!), format: formatRatio },
  { name: "RSS after ready, × bare", target: { at: "most", limit: 1.5 }, shown: "≤ 1.5×", value: (a, b) => runRatio(a, b, figure.rss!), format: formatRatio },
  { name: "idle SIGTERM → exit, × bare", target: { at: "most", limit: 8 }, shown: "≤ 8×", value: (a, b) => runRatio(a, b, figure.idle!), format: formatRatio },
  { name: "drain: exit after the last in-flight answer", target: { at: "most", limit: 15 }, shown: "≤ 15 ms", value: (a) => medianOf(a, figure.drain!), format: (v) => `${formatFigure(v, 1)} ms` },
  { name: "server CPU per durable turn, × the bundled Effect echo", target: { at: "most", limit: 2 }, shown: "≤ 2×", value: (a, _b, e) => runRatio(a, e, figure.cpu!), format: formatRatio },
  { name: "durable turns/s, 10 keep-alive connections", target: { at: "least", limit: 2000 }, shown: "≥ 2,000", value: (a) => medianOf(a, figure.reqPerSecond!), format: (v) => formatFigure(v) },
  { name: "event-loop delay p99 during that load", target: { at: "most", limit: 10 }, shown: "≤ 10 ms", value: (a) => medianOf(a, figure.loop!), format: (v) => `${formatFigure(v, 1)} ms` },
  { name: "turn p50 in a long session, × a fresh session", target: { at: "most", limit: 1.5 }, shown: "≤ 1.5×", value: (a) => median(a.map((s) => ratio(s.longTurnP50Ms ?? Number.NaN, s.freshTurnP50Ms ?? Number.NaN)).filter(Number.isFinite)), format: formatRatio }
]

export const printReport = (report: Report): void => {
  const { options, samples } = report
  const bare = samples.get("bare")
  const effect = samples.get("effect")
  const who = options.sessions > 0 ? `${options.sessions} sessions round-robin` : "each request its own session"
  console.log(
    `targets on node ${report.nodeVersion}, ${os.cpus().length} CPU(s), load average (1 min) ${spread(report.loads, 1)}, ${report.seconds.toFixed(0)} s; ` +
      `median of ${options.runs} interleaved run(s); load ${options.loadSeconds} s after ${options.warmupSeconds} s warm-up over ${options.connections} keep-alive connections (${who}); ` +
      `drain turn echo delay ${options.drainDelayMs} ms; session turns: ${options.sessionTurns} in a session of ${options.longSession.toLocaleString("en-US")} messages and in a fresh one`
  )
  console.log("")
  console.log("| target | ready ms | RSS at ready MB | idle SIGTERM → exit ms (code) | `gateway stop` → exit ms (code) | drain: exit after last answer ms (code) | req/s | p50 / p99 ms | server CPU µs/request | event-loop delay p99 ms | turn p50 ms, long / fresh session |")
  console.log("|---|---|---|---|---|---|---|---|---|---|---|")
  for (const [label, all] of samples) {
    const long = medianOf(all, figure.longTurn!)
    console.log(
      `| ${label} | ${formatFigure(medianOf(all, figure.ready!))} | ${formatFigure(medianOf(all, figure.rss!))} | ${withCode(all, figure.idle!, (s) => s.idleCode)} | ` +
        `${withCode(all, figure.stop!, (s) => s.stopCode)} | ${withCode(all, figure.drain!, (s) => s.drainCode)} | ${formatFigure(medianOf(all, figure.reqPerSecond!))} | ` +
        `${formatFigure(medianOf(all, (s) => s.p50Ms), 1)} / ${formatFigure(medianOf(all, (s) => s.p99Ms), 1)} | ${formatFigure(medianOf(all, figure.cpu!))} | ` +
        `${formatFigure(medianOf(all, figure.loop!), 1)} | ${Number.isFinite(long) ? `${formatFigure(long, 1)} / ${formatFigure(medianOf(all, figure.freshTurn!), 1)}` : "–"} |`
    )
  }
  console.log("")
  console.log("Ratios (within each run, median over runs):")
  console.log("")
  console.log("| target | ready × bare | RSS × bare | idle SIGTERM → exit × bare | req/s × bare | CPU/request × bare | CPU/request × effect |")
  console.log("|---|---|---|---|---|---|---|")
  for (const [label, all] of samples) {
    console.log(
      `| ${label} | ${formatRatio(runRatio(all, bare, figure.ready!))} | ${formatRatio(runRatio(all, bare, figure.rss!))} | ${formatRatio(runRatio(all, bare, figure.idle!))} | ` +
        `${formatRatio(runRatio(all, bare, figure.reqPerSecond!))} | ${formatRatio(runRatio(all, bare, figure.cpu!))} | ${formatRatio(runRatio(all, effect, figure.cpu!))} |`
    )
  }
  console.log("")
  console.log("Spread (min–max over runs):")
  console.log("")
  console.log("| target | ready ms | RSS MB | idle SIGTERM → exit ms | `gateway stop` → exit ms | drain ms | req/s | server CPU µs/request | event-loop delay p99 ms |")
  console.log("|---|---|---|---|---|---|---|---|---|")
  for (const [label, all] of samples) {
    const range = (pick: Pick, digits = 0) => spread(values(all, pick), digits)
    console.log(
      `| ${label} | ${spread(all.flatMap((s) => s.readyMs))} | ${spread(all.flatMap((s) => s.rssMb))} | ${range(figure.idle!, 1)} | ${range(figure.stop!)} | ` +
        `${range(figure.drain!, 1)} | ${range(figure.reqPerSecond!)} | ${range(figure.cpu!)} | ${range(figure.loop!, 1)} |`
    )
  }
  const gateways = [...samples.keys()].filter((label) => label !== "bare" && label !== "effect")
  console.log("")
  console.log("Issue 13's targets:")
  console.log("")
  console.log(`| figure | target | ${gateways.join(" | ")} |`)
  console.log(`|---|---|${gateways.map(() => "---|").join("")}`)
  for (const row of issueTargets) {
    const cells = gateways.map((label) => {
      const value = row.value(samples.get(label)!, bare, effect)
      return `${Number.isFinite(value) ? row.format(value) : "–"} ${verdict(value, row.target)}`
    })
    console.log(`| ${row.name} | ${row.shown} | ${cells.join(" | ")} |`)
  }
}
