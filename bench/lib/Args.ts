// Command-line options of bench/side-by-side.ts, and the one-value reader the smaller bench scripts
// share. Pure: unit-tested in test/unit/bench/Args.test.ts. A bad option is one clear line (thrown as
// BenchUsageError), never a guess.

export class BenchUsageError extends Error {}

export interface GatewayBin {
  readonly label: string
  readonly file: string
}

export interface SideBySideOptions {
  readonly bins: ReadonlyArray<GatewayBin>
  /** The Node binary every target runs on; the benchmark itself may run on another. */
  readonly node: string | undefined
  readonly runs: number
  readonly warmupSeconds: number
  readonly loadSeconds: number
  readonly connections: number
  /** 0: each request its own session; K: K sessions round-robin. */
  readonly sessions: number
  readonly drainDelayMs: number
  /** Messages in the long session of the turn-latency phase. */
  readonly longSession: number
  /** Sequential turns measured in each of the long and the fresh session. */
  readonly sessionTurns: number
  readonly cpuProfileDir: string | undefined
}

const numberOptions = {
  runs: { min: 1, fallback: 5 },
  "warmup-seconds": { min: 0, fallback: 1 },
  "load-seconds": { min: 0.5, fallback: 4 },
  connections: { min: 1, fallback: 10 },
  sessions: { min: 0, fallback: 0 },
  "drain-delay-ms": { min: 50, fallback: 300 },
  "long-session": { min: 2, fallback: 10_000 },
  "session-turns": { min: 1, fallback: 40 }
} as const
type NumberOption = keyof typeof numberOptions
const stringOptions = ["bin", "node", "cpu-prof"] as const

const isNumberOption = (name: string): name is NumberOption => name in numberOptions

/** `--bin` defaults to the checkout's own build, `main=dist/hermes.js` (relative: the caller resolves it). */
export const parseSideBySideArgs = (argv: ReadonlyArray<string>): SideBySideOptions => {
  const numbers = new Map<NumberOption, number>()
  const strings = new Map<string, Array<string>>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith("--")) throw new BenchUsageError(`unexpected argument ${JSON.stringify(arg)}: options are --name value`)
    const name = arg.slice(2)
    const value = argv[i + 1]
    if (!isNumberOption(name) && !(stringOptions as ReadonlyArray<string>).includes(name)) {
      throw new BenchUsageError(`unknown option ${arg} (known: ${[...Object.keys(numberOptions), ...stringOptions].map((o) => `--${o}`).join(", ")})`)
    }
    if (value === undefined || value.startsWith("--")) throw new BenchUsageError(`${arg} needs a value`)
    i++
    if (isNumberOption(name)) {
      const n = Number(value)
      if (value.trim() === "" || !Number.isFinite(n) || n < numberOptions[name].min) {
        throw new BenchUsageError(`${arg} wants a number ≥ ${numberOptions[name].min}, got ${JSON.stringify(value)}`)
      }
      numbers.set(name, n)
    } else {
      strings.set(name, [...(strings.get(name) ?? []), value])
    }
  }
  const bins = (strings.get("bin") ?? ["main=dist/hermes.js"]).map((spec) => {
    const eq = spec.indexOf("=")
    if (eq <= 0 || eq === spec.length - 1) throw new BenchUsageError(`--bin wants LABEL=PATH, got ${JSON.stringify(spec)}`)
    return { label: spec.slice(0, eq), file: spec.slice(eq + 1) }
  })
  const labels = bins.map((bin) => bin.label)
  for (const label of labels) {
    if (label === "bare" || label === "effect") throw new BenchUsageError(`--bin label ${label} is taken by an anchor`)
    if (labels.indexOf(label) !== labels.lastIndexOf(label)) throw new BenchUsageError(`--bin label ${label} given twice`)
  }
  const number = (name: NumberOption) => numbers.get(name) ?? numberOptions[name].fallback
  const last = (name: string) => strings.get(name)?.at(-1)
  return {
    bins,
    node: last("node"),
    runs: Math.round(number("runs")),
    warmupSeconds: number("warmup-seconds"),
    loadSeconds: number("load-seconds"),
    connections: Math.round(number("connections")),
    sessions: Math.round(number("sessions")),
    drainDelayMs: number("drain-delay-ms"),
    longSession: Math.round(number("long-session")),
    sessionTurns: Math.round(number("session-turns")),
    cpuProfileDir: last("cpu-prof")
  }
}

/** The value after `--name` in `argv` (the smaller bench scripts' options), or undefined. */
export const argument = (name: string, argv: ReadonlyArray<string> = process.argv): string | undefined => {
  const at = argv.indexOf(`--${name}`)
  return at === -1 ? undefined : argv[at + 1]
}
