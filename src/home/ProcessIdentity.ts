// A process incarnation is (pid, start_time): a pid alone can be recycled by a stranger.
// Linux: field 22 of /proc/PID/stat (clock ticks since boot); elsewhere `ps -o lstart=`.
// One notion of "alive" for every check: a zombie (state Z) or a dying task (X) has already
// exited — it only waits to be reaped — so it is dead here, whatever `kill(pid, 0)` says.
import * as Schema from "effect/Schema"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"

export interface ProcessIdentity {
  readonly pid: number
  readonly startTime: string
}

/** A process incarnation as the home's files write it: the fields of a record that names a process. */
export const processIdentityFields = {
  pid: Schema.Number,
  start_time: Schema.String
}

export interface ProcStat {
  /** Field 3: R, S, D, T, t, Z, X, ... */
  readonly state: string
  /** Field 22: clock ticks since boot. */
  readonly startTime: string
}

/** Parses a /proc/PID/stat line. The comm field may contain spaces and ')': split after the last ')'. */
export const parseProcStat = (stat: string): ProcStat | undefined => {
  const close = stat.lastIndexOf(")")
  if (close < 0) return undefined
  // Fields after the comm start at field 3 (state); starttime is field 22.
  const rest = stat.slice(close + 2).split(" ")
  const state = rest[0]
  const startTime = rest[22 - 3]
  if (state === undefined || !/^[A-Za-z]$/.test(state)) return undefined
  if (startTime === undefined || !/^\d+$/.test(startTime)) return undefined
  return { state, startTime }
}

/** Parses field 22 (starttime) of a /proc/PID/stat line. */
export const parseProcStatStartTime = (stat: string): string | undefined => parseProcStat(stat)?.startTime

/** States of a process that has exited: zombie (waiting to be reaped) and dead. */
export const isExitedState = (state: string): boolean => state === "Z" || state === "X" || state === "x"

const validPid = (pid: number): boolean => Number.isInteger(pid) && pid > 0

/** /proc/PID/stat of a pid (Linux); undefined when there is no such process or it cannot be read. */
export const readProcStat = (pid: number): ProcStat | undefined => {
  if (!validPid(pid)) return undefined
  try {
    return parseProcStat(fs.readFileSync(`/proc/${pid}/stat`, "utf8"))
  } catch {
    return undefined
  }
}

/** Elsewhere: `ps -o stat=,lstart=`; the first letter of STAT is the state (Z for a zombie). */
const readPsStat = (pid: number): ProcStat | undefined => {
  try {
    const out = execFileSync("ps", ["-o", "stat=", "-o", "lstart=", "-p", String(pid)], { encoding: "utf8", timeout: 2000 }).trim()
    const match = /^(\S+)\s+(.+)$/.exec(out)
    return match === null ? undefined : { state: match[1]!.slice(0, 1), startTime: match[2]!.trim() }
  } catch {
    return undefined
  }
}

/** State and start time of a pid; undefined when it does not exist. */
export const readProcessStat = (pid: number): ProcStat | undefined => {
  if (!validPid(pid)) return undefined
  return process.platform === "linux" ? readProcStat(pid) : readPsStat(pid)
}

/** The start time of a live pid; undefined when the process does not exist, cannot be read, or has exited (zombie). */
export const readStartTime = (pid: number): string | undefined => {
  const stat = readProcessStat(pid)
  return stat === undefined || isExitedState(stat.state) ? undefined : stat.startTime
}

let self: ProcessIdentity | undefined
export const selfIdentity = (): ProcessIdentity => {
  if (self === undefined) {
    self = { pid: process.pid, startTime: readStartTime(process.pid) ?? `unknown-${Date.now()}` }
  }
  return self
}

/** True only when `pid` is alive (not a zombie) and is the same incarnation that was recorded. */
export const isSameProcess = (identity: ProcessIdentity): boolean =>
  readStartTime(identity.pid) === identity.startTime

/** True when a process with this pid exists and has not exited (a zombie is dead). */
export const isAlive = (pid: number): boolean => {
  if (!validPid(pid)) return false
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false
  }
  const stat = readProcessStat(pid)
  // Linux: no /proc entry means it is gone by now. Elsewhere ps may be missing: kill(0) decides.
  if (stat === undefined) return process.platform !== "linux"
  return !isExitedState(stat.state)
}
