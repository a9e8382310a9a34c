// SIGUSR2 (CONTRACT 3.2): a Node diagnostic report plus a small JSON summary (active turns, phase,
// memory) under logs/, while the gateway keeps running. The report is taken with getReport and
// written by us: writeReport would print to the gateway's stderr and create the file world-readable.
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { ensurePrivateDirectorySync, openNoFollow } from "../home/SafeOpen.js"

export interface DiagnosticReportInput {
  readonly logsDir: string
  readonly activeTurns: number
  /** What the gateway is doing: "running", "starting", or the current shutdown phase. */
  readonly phase: string
  readonly extra?: Record<string, unknown>
  readonly now?: Date
}

export interface DiagnosticReportResult {
  /** The Node diagnostic report, or null when it could not be written. */
  readonly report: string | null
  /** The summary, or null when it could not be written. */
  readonly summary: string | null
  /** What went wrong, if anything; the caller logs it and carries on. */
  readonly errors: ReadonlyArray<string>
}

/**
 * Environment variables whose value is redacted in reports: a report gets attached to bug reports,
 * and a gateway's environment holds API keys. Shared with the loop-stall watchdog (as source text).
 */
export const secretVariable = /KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|PRIVATE|SESSION/i

/** A copy of a Node report with secret-looking environment values replaced. */
export const redactReport = (report: unknown): unknown => {
  if (typeof report !== "object" || report === null) return report
  const env = (report as { environmentVariables?: unknown }).environmentVariables
  if (typeof env !== "object" || env === null) return report
  const redacted = Object.fromEntries(
    Object.entries(env as Record<string, unknown>).map(([name, value]) => [name, secretVariable.test(name) ? "[redacted]" : value])
  )
  return { ...report, environmentVariables: redacted }
}

/** `20261121T193143.835Z`: sortable, no colons (they upset some file systems and tools). */
export const fileStamp = (date: Date): string => date.toISOString().replace(/[-:]/g, "")

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** A new file only: O_EXCL and O_NOFOLLOW so a name planted in logs/ is never written through. */
export const writeNewFileSync = (file: string, text: string): void => {
  const fd = openNoFollow(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL)
  try {
    fs.writeSync(fd, text)
  } finally {
    fs.closeSync(fd)
  }
}

/** Writes both files and returns their paths. Never throws. */
export const writeDiagnosticReport = (input: DiagnosticReportInput): DiagnosticReportResult => {
  try {
    return writeBoth(input)
  } catch (error) {
    return { report: null, summary: null, errors: [`diagnostic report failed: ${describe(error)}`] }
  }
}

const writeBoth = (input: DiagnosticReportInput): DiagnosticReportResult => {
  const errors: Array<string> = []
  const now = input.now ?? new Date()
  const stem = path.join(input.logsDir, `diagnostic-${fileStamp(now)}-${process.pid}`)
  // Two SIGUSR2 in the same millisecond must not lose the second report.
  let base = stem
  for (let n = 1; n < 100 && (fs.existsSync(`${base}.report.json`) || fs.existsSync(`${base}.summary.json`)); n++) {
    base = `${stem}-${n}`
  }
  try {
    ensurePrivateDirectorySync(input.logsDir, { parents: true })
  } catch (error) {
    // Nothing is written into a logs/ that is a link or not a directory: it would land elsewhere.
    return { report: null, summary: null, errors: [`cannot use ${input.logsDir}: ${describe(error)}`] }
  }
  let report: string | null = `${base}.report.json`
  try {
    writeNewFileSync(report, JSON.stringify(redactReport(process.report.getReport()), null, 2) + "\n")
  } catch (error) {
    errors.push(`node diagnostic report not written: ${describe(error)}`)
    report = null
  }
  let summary: string | null = `${base}.summary.json`
  try {
    const memory = process.memoryUsage()
    writeNewFileSync(summary, JSON.stringify({
      event: "diagnostic",
      at: now.toISOString(),
      pid: process.pid,
      ppid: process.ppid,
      uptime_s: Math.round(process.uptime() * 1000) / 1000,
      phase: input.phase,
      active_turns: input.activeTurns,
      memory: {
        rss: memory.rss,
        heap_total: memory.heapTotal,
        heap_used: memory.heapUsed,
        external: memory.external,
        array_buffers: memory.arrayBuffers
      },
      report,
      ...(input.extra !== undefined ? { extra: input.extra } : {})
    }, null, 2) + "\n")
  } catch (error) {
    errors.push(`diagnostic summary not written: ${describe(error)}`)
    summary = null
  }
  return { report, summary, errors }
}

/** The same as an Effect, for the kernel's SIGUSR2 handler. */
export const diagnosticReport = (input: DiagnosticReportInput): Effect.Effect<DiagnosticReportResult> =>
  Effect.sync(() => writeDiagnosticReport(input))

/** One log line: where the files are, or why they are not. */
export const describeDiagnosticReport = (result: DiagnosticReportResult): string =>
  [
    `diagnostic report=${result.report ?? "-"} summary=${result.summary ?? "-"}`,
    ...(result.errors.length > 0 ? [`errors=${JSON.stringify(result.errors.join("; "))}`] : [])
  ].join(" ")
