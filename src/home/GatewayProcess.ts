// Is this process the gateway of this home? Asked before anything signals or asks a pid. A pid file
// is only a claim (it may be stale, forged, or name a recycled pid); the proof is what only the
// gateway can have: the home's lock file open (the file sits in the 0700 home, so only the owner
// and root can open it), checked together with its start time, its state, and its command line.
// Linux reads all of it from /proc; elsewhere only the start time can be checked here (the caller
// adds the control socket's hello, which only the lock holder can serve).
import * as fs from "node:fs"
import * as path from "node:path"
import { ownsLegacyLock } from "./LegacyLock.js"
import { isExitedState, type ProcessIdentity, readProcessStat } from "./ProcessIdentity.js"

export type GatewayCheck =
  | { readonly _tag: "Verified" }
  | { readonly _tag: "Rejected"; readonly reason: string }

/** Options of `hermes` that take a value, so that value is not mistaken for the verb. */
const valueOptions: ReadonlySet<string> = new Set(["--home", "--log-level", "--timeout", "--pid"])

/** Pure: the command line runs `hermes ... gateway run` or `... gateway boot` (the verbs that hold a home). */
export const isGatewayCommandLine = (argv: ReadonlyArray<string>): boolean => {
  let sawGateway = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg.startsWith("-")) {
      if (valueOptions.has(arg)) i++
      continue
    }
    if (!sawGateway) {
      sawGateway = arg === "gateway"
      continue
    }
    return arg === "run" || arg === "boot"
  }
  return false
}

/** /proc/PID/cmdline as words; undefined when it cannot be read. Empty for a zombie or a kernel thread. */
export const readCommandLine = (pid: number): ReadonlyArray<string> | undefined => {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8")
    return raw.split("\0").filter((word, i, all) => !(i === all.length - 1 && word === ""))
  } catch {
    return undefined
  }
}

export type OpenFileCheck = "open" | "not_open" | { readonly error: string }

/** Does `pid` have `file` open (same device and inode behind one of /proc/PID/fd)? */
export const holdsOpenFile = (pid: number, file: fs.BigIntStats): OpenFileCheck => {
  let entries: ReadonlyArray<string>
  try {
    entries = fs.readdirSync(`/proc/${pid}/fd`)
  } catch (error) {
    return { error: (error as NodeJS.ErrnoException).code ?? String(error) }
  }
  for (const entry of entries) {
    try {
      const target = fs.statSync(`/proc/${pid}/fd/${entry}`, { bigint: true })
      if (target.dev === file.dev && target.ino === file.ino) return "open"
    } catch {
      // closed meanwhile, or a descriptor we may not follow: not the lock
    }
  }
  return "not_open"
}

/** The home's lock file as it is now: a regular file, not a link planted in its place. */
export const statLockFile = (lockFile: string): fs.BigIntStats | undefined => {
  try {
    const stat = fs.lstatSync(lockFile, { bigint: true })
    return stat.isFile() ? stat : undefined
  } catch {
    return undefined
  }
}

/**
 * Every check, in order of cost. Any failure means "not this home's gateway": the caller signals
 * nothing and says why.
 */
export const checkGatewayProcess = (identity: ProcessIdentity, lockFile: string): GatewayCheck => {
  const who = `pid ${identity.pid}`
  const stat = readProcessStat(identity.pid)
  if (stat === undefined) return { _tag: "Rejected", reason: `${who} is not running` }
  if (isExitedState(stat.state)) return { _tag: "Rejected", reason: `${who} has exited (a zombie not yet reaped)` }
  if (stat.startTime !== identity.startTime) {
    return { _tag: "Rejected", reason: `${who} is another process now (its start time differs)` }
  }
  if (process.platform !== "linux") return { _tag: "Verified" }
  const argv = readCommandLine(identity.pid)
  if (argv === undefined || !isGatewayCommandLine(argv)) {
    return { _tag: "Rejected", reason: `${who} is not a hermes gateway (command line: ${JSON.stringify((argv ?? []).join(" "))})` }
  }
  const lock = statLockFile(lockFile)
  const held = lock === undefined ? "not_open" : holdsOpenFile(identity.pid, lock)
  if (held === "open") return { _tag: "Verified" }
  // A gateway of the previous release, still running through an upgrade, holds the old lock.
  if (ownsLegacyLock(identity.pid, path.dirname(lockFile))) return { _tag: "Verified" }
  if (held === "not_open") return { _tag: "Rejected", reason: `${who} does not hold this home's lock (${lockFile})` }
  return { _tag: "Rejected", reason: `cannot inspect the open files of ${who} (${held.error})` }
}
