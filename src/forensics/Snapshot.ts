// The forensic snapshot of phase 0 (CONTRACT 5, 6): who and what was around when a stop arrived.
// Synchronous, a handful of small reads, and it never throws: it records, it never decides (the
// environment is evidence for a human, never an input to classification, CONTRACT 3.2).
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/** Written into the shutdown record (`context`), so the Schema is the definition. */
export const Snapshot = Schema.Struct({
  signal: Schema.String,
  pid: Schema.JsonNumber,
  start_time: Schema.String,
  ppid: Schema.NullOr(Schema.JsonNumber),
  /** /proc/PPID/comm; null when unreadable. */
  parent_name: Schema.NullOr(Schema.String),
  /** /proc/PPID/cmdline, NULs as spaces, cut to `cmdlineLimit` characters. */
  parent_cmdline: Schema.NullOr(Schema.String),
  invocation_id: Schema.NullOr(Schema.String),
  /** A hint from the environment only (see `detectSupervisorHint`); "none" when nothing points anywhere. */
  supervisor: Schema.String,
  /** Which piece of evidence gave the hint, e.g. "env:INVOCATION_ID" or "parent:s6-supervise". */
  supervisor_evidence: Schema.NullOr(Schema.String),
  /** 1, 5 and 15 minute load averages, two decimals. */
  loadavg: Schema.NullOr(Schema.String),
  /** Non-zero when a debugger or tracer (strace, gdb) is attached: it explains odd timings and stops. */
  tracer_pid: Schema.NullOr(Schema.JsonNumber),
  marker_present: Schema.Boolean,
  marker_names_self: Schema.Boolean,
  /** Why the marker does not name us, or could not be read ("symlink", "malformed", ...). */
  marker_note: Schema.NullOr(Schema.String),
  clean_shutdown_present: Schema.Boolean,
  uptime_s: Schema.NullOr(Schema.JsonNumber),
  rss_mb: Schema.NullOr(Schema.JsonNumber),
  /** How long taking this snapshot took, so the "under 10 ms" promise is visible in every log. */
  took_ms: Schema.JsonNumber
})
export interface Snapshot extends Schema.Schema.Type<typeof Snapshot> {}

/** Everything the snapshot reads, injectable so tests can take sources away. Any member may throw. */
export interface SnapshotSources {
  readonly readFile: (file: string) => string
  readonly lstat: (file: string) => fs.Stats
  readonly env: Record<string, string | undefined>
  readonly ppid: () => number
  readonly loadavg: () => ReadonlyArray<number>
  readonly uptime: () => number
  readonly rss: () => number
  readonly now: () => number
}

export const liveSnapshotSources: SnapshotSources = {
  readFile: (file) => fs.readFileSync(file, "utf8"),
  lstat: (file) => fs.lstatSync(file),
  env: process.env,
  ppid: () => process.ppid,
  loadavg: () => os.loadavg(),
  uptime: () => process.uptime(),
  rss: () => process.memoryUsage.rss(),
  now: () => performance.now()
}

export interface SnapshotInput {
  readonly signal: string
  /** `.gateway-planned-stop.json` of the home; `.clean_shutdown` is looked for next to it. */
  readonly markerPath: string
  readonly cleanShutdownPath?: string
  readonly self: { readonly pid: number; readonly startTime: string }
}

export const cmdlineLimit = 200
/** A marker is a few hundred bytes; anything much larger is not one, and is not worth reading. */
const markerReadLimit = 64 * 1024

/** Runs `read`, turning any throw into `fallback`: every source may be missing or denied. */
const attempt = <A, B>(read: () => A, fallback: B): A | B => {
  try {
    return read()
  } catch {
    return fallback
  }
}

const parentComms: ReadonlyArray<readonly [string, string]> = [
  ["s6-supervise", "s6"],
  ["runsv", "runit"],
  ["supervisord", "supervisord"],
  ["tini", "tini"],
  ["dumb-init", "dumb-init"],
  ["systemd", "systemd"],
  ["launchd", "launchd"]
]

/**
 * The supervisor the environment points at, for the log only. HERMES_SUPERVISOR (exported by our own
 * generated definitions) wins; then variables a supervisor sets in its children; then the parent's name.
 */
export const detectSupervisorHint = (
  env: Record<string, string | undefined>,
  parentName: string | null
): { readonly kind: string; readonly evidence: string | null } => {
  const set = (name: string) => {
    const value = env[name]
    return value !== undefined && value !== ""
  }
  if (set("HERMES_SUPERVISOR")) return { kind: env.HERMES_SUPERVISOR!, evidence: "env:HERMES_SUPERVISOR" }
  if (set("INVOCATION_ID")) return { kind: "systemd", evidence: "env:INVOCATION_ID" }
  if (set("NOTIFY_SOCKET")) return { kind: "systemd", evidence: "env:NOTIFY_SOCKET" }
  if (set("SUPERVISOR_SERVER_URL")) return { kind: "supervisord", evidence: "env:SUPERVISOR_SERVER_URL" }
  if (set("KUBERNETES_SERVICE_HOST")) return { kind: "kubernetes", evidence: "env:KUBERNETES_SERVICE_HOST" }
  if (parentName !== null) {
    const match = parentComms.find(([comm]) => parentName === comm)
    if (match !== undefined) return { kind: match[1], evidence: `parent:${match[0]}` }
  }
  return { kind: "none", evidence: null }
}

/** Field `TracerPid:` of /proc/self/status. */
export const parseTracerPid = (status: string): number | null => {
  const match = /^TracerPid:\s*(\d+)\s*$/m.exec(status)
  return match === null ? null : Number(match[1])
}

type MarkerFinding = Pick<Snapshot, "marker_present" | "marker_names_self" | "marker_note">

/** Raw read, no schema and no symlink following: this is what was on disk, not what it means. */
const inspectMarker = (sources: SnapshotSources, file: string, self: SnapshotInput["self"]): MarkerFinding => {
  const absent: MarkerFinding = { marker_present: false, marker_names_self: false, marker_note: null }
  let stat: fs.Stats
  try {
    stat = sources.lstat(file)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code
    return code === "ENOENT" || code === "ENOTDIR" ? absent : { ...absent, marker_note: `unreadable:${code ?? "error"}` }
  }
  const present = { marker_present: true, marker_names_self: false }
  if (stat.isSymbolicLink()) return { ...present, marker_note: "symlink" }
  if (!stat.isFile()) return { ...present, marker_note: "not_a_file" }
  if (stat.size > markerReadLimit) return { ...present, marker_note: "oversized" }
  const text = attempt(() => sources.readFile(file), undefined)
  if (text === undefined) return { ...present, marker_note: "unreadable" }
  const json = attempt(() => JSON.parse(text) as unknown, undefined)
  if (typeof json !== "object" || json === null) return { ...present, marker_note: "malformed" }
  const doc = json as { target_pid?: unknown; target_start_time?: unknown; action?: unknown }
  const namesSelf = doc.target_pid === self.pid && doc.target_start_time === self.startTime
  if (namesSelf) return { ...present, marker_names_self: true, marker_note: typeof doc.action === "string" ? `action:${doc.action}` : null }
  return { ...present, marker_note: typeof doc.target_pid === "number" ? `names_pid:${doc.target_pid}` : "names_nobody" }
}

const round2 = (n: number) => Math.round(n * 100) / 100

/** Takes the snapshot. Never throws, whatever the sources do. */
export const takeSnapshot = (input: SnapshotInput, sources: SnapshotSources = liveSnapshotSources): Snapshot => {
  const t0 = attempt(() => sources.now(), 0)
  const ppid = attempt(() => sources.ppid(), null)
  const validPpid = typeof ppid === "number" && Number.isInteger(ppid) && ppid > 0 ? ppid : null
  const parentName = validPpid === null
    ? null
    : attempt(() => sources.readFile(`/proc/${validPpid}/comm`).trim() || null, null)
  const parentCmdline = validPpid === null ? null : attempt(() => {
    const raw = sources.readFile(`/proc/${validPpid}/cmdline`).replace(/\0+$/, "").replace(/\0/g, " ")
    return raw === "" ? null : raw.length > cmdlineLimit ? `${raw.slice(0, cmdlineLimit)}...` : raw
  }, null)
  const env = attempt(() => sources.env, {} as Record<string, string | undefined>)
  const hint = attempt(() => detectSupervisorHint(env, parentName), { kind: "unknown", evidence: null })
  const loadavg = attempt(() => {
    const values = sources.loadavg()
    return values.length === 0 ? null : values.map((v) => round2(v).toFixed(2)).join(",")
  }, null)
  const tracer = attempt(() => parseTracerPid(sources.readFile("/proc/self/status")), null)
  const marker = attempt(
    () => inspectMarker(sources, input.markerPath, input.self),
    { marker_present: false, marker_names_self: false, marker_note: "unreadable" }
  )
  const cleanShutdownPath = attempt(
    () => input.cleanShutdownPath ?? path.join(path.dirname(input.markerPath), ".clean_shutdown"),
    undefined
  )
  const cleanShutdown = cleanShutdownPath === undefined ? false : attempt(() => {
    sources.lstat(cleanShutdownPath)
    return true
  }, false)
  const uptime = attempt(() => round2(sources.uptime()), null)
  const rss = attempt(() => round2(sources.rss() / (1024 * 1024)), null)
  const t1 = attempt(() => sources.now(), t0)
  return {
    signal: String(input.signal),
    pid: input.self.pid,
    start_time: String(input.self.startTime),
    ppid: validPpid,
    parent_name: parentName,
    parent_cmdline: parentCmdline,
    invocation_id: attempt(() => env.INVOCATION_ID || null, null),
    supervisor: hint.kind,
    supervisor_evidence: hint.evidence,
    loadavg,
    tracer_pid: tracer,
    ...marker,
    clean_shutdown_present: cleanShutdown,
    uptime_s: uptime,
    rss_mb: rss,
    took_ms: round2(Math.max(0, t1 - t0))
  }
}

/** Characters that would start a new line in some reader (log shippers split on more than \n). */
const unsafe = /[\u0000-\u001f\u007f-\u009f\u2028\u2029"\\]/g

const escapeChar = (c: string): string => {
  switch (c) {
    case "\"":
      return "\\\""
    case "\\":
      return "\\\\"
    case "\n":
      return "\\n"
    case "\r":
      return "\\r"
    case "\t":
      return "\\t"
    default:
      return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`
  }
}

/** A logfmt value: bare when it is plain printable ASCII, else quoted with every line break escaped. */
export const formatValue = (value: unknown): string => {
  const text = value === null || value === undefined ? "-" : String(value)
  if (text !== "" && /^[\x21-\x7e]+$/.test(text) && !/["=\\]/.test(text)) return text
  return `"${text.replace(unsafe, escapeChar)}"`
}

/** Keys are snake_case identifiers; anything else in a key is dropped so a key can never break a line. */
const formatKey = (key: string): string => key.replace(/[^A-Za-z0-9_.-]/g, "") || "_"

/** One `key=value` line for `shutdown context ...`; values with spaces or odd characters are quoted. */
export const formatSnapshot = (snapshot: Snapshot | Record<string, unknown>): string =>
  Object.entries(snapshot).map(([key, value]) => `${formatKey(key)}=${formatValue(value)}`).join(" ")

/**
 * The `shutdown context` lines: a short one at INFO (what arrived, from whom, what it means and
 * why, how long the shutdown may take) and every detail of the snapshot at DEBUG.
 */
export const shutdownContextLines = (
  snapshot: Snapshot,
  classification: string,
  markerVerdict: string,
  deadline: string
): { readonly info: string; readonly debug: string } => ({
  info: `shutdown context ${
    formatSnapshot({ signal: snapshot.signal, ppid: snapshot.ppid, parent: snapshot.parent_name })
  } classification=${classification} marker=${formatValue(markerVerdict)} deadline=${deadline}`,
  debug: `shutdown context details ${formatSnapshot(snapshot)}`
})
