// A process incarnation is (pid, start_time): a pid alone can be recycled by a stranger.
// Linux: field 22 of /proc/PID/stat (clock ticks since boot); elsewhere `ps -o lstart=`.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"

export interface ProcessIdentity {
  readonly pid: number
  readonly startTime: string
}

/** Parses field 22 (starttime) of a /proc/PID/stat line. The comm field may contain spaces and ')'. */
export const parseProcStatStartTime = (stat: string): string | undefined => {
  const close = stat.lastIndexOf(")")
  if (close < 0) return undefined
  // Fields after the comm start at field 3 (state); starttime is field 22.
  const rest = stat.slice(close + 2).split(" ")
  const value = rest[22 - 3]
  return value !== undefined && /^\d+$/.test(value) ? value : undefined
}

/** The start time of a live pid, or undefined when the process does not exist (or cannot be read). */
export const readStartTime = (pid: number): string | undefined => {
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  if (process.platform === "linux") {
    try {
      return parseProcStatStartTime(fs.readFileSync(`/proc/${pid}/stat`, "utf8"))
    } catch {
      return undefined
    }
  }
  try {
    const out = execFileSync("ps", ["-o", "lstart=", "-p", String(pid)], { encoding: "utf8", timeout: 2000 }).trim()
    return out === "" ? undefined : out
  } catch {
    return undefined
  }
}

let self: ProcessIdentity | undefined
export const selfIdentity = (): ProcessIdentity => {
  if (self === undefined) {
    self = { pid: process.pid, startTime: readStartTime(process.pid) ?? `unknown-${Date.now()}` }
  }
  return self
}

/** True only when `pid` is alive and is the same incarnation that was recorded. */
export const isSameProcess = (identity: ProcessIdentity): boolean =>
  readStartTime(identity.pid) === identity.startTime

export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}
