// The detached diagnostic child of phase 0 (CONTRACT 5, 6): a shell in its own session that appends
// `ps`, `pstree` and the kernel log tail to logs/shutdown-diag.log while the gateway shuts down.
// Fire and forget: the gateway never waits for it, and it outlives the gateway by at most ~5 s.
// A running gateway has this shell started ahead, waiting (DiagnosticWitness.ts); a child is forked
// at the stop itself only when that one is missing (a stop during start-up, a witness killed).
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { appendNoFollowSync, ensurePrivateDirectorySync, openNoFollow } from "../home/SafeOpen.js"
import { formatSnapshot } from "./Snapshot.js"

export interface DiagnosticContext {
  readonly pid: number
  readonly signal: string
  readonly [key: string]: unknown
}

export type DiagnosticSpawn =
  | { readonly _tag: "Spawned"; readonly childPid: number | undefined }
  | { readonly _tag: "Skipped"; readonly reason: string }

export interface DiagnosticOptions {
  /** The shell to run; only tests change it. */
  readonly shell?: string
  /** Where the child's PATH comes from; defaults to the gateway's environment. */
  readonly env?: Record<string, string | undefined>
  /** The log is moved to `<log>.1` before appending once it is larger than this. */
  readonly rotateBytes?: number
}

/** Seconds the child may run; it must finish inside any sane supervisor kill timeout. */
export const diagnosticBoundSeconds = 5
const defaultRotateBytes = 4 * 1024 * 1024

/**
 * The work, one section per tool; a missing tool or a denied read leaves a note, never an error.
 * `pstree -s` adds the ancestors (who started us), which is what a stop investigation asks first.
 */
export const diagnosticBody = `
pid="$HERMES_DIAG_PID"
have() { command -v "$1" >/dev/null 2>&1; }
section() { printf '\\n--- %s\\n' "$1"; }
section "ps (all processes, forest)"
if have ps; then
  ps -eo pid,ppid,stat,etime,rss,args --forest 2>/dev/null || ps auxf 2>/dev/null || ps 2>&1 || echo "(ps failed)"
else
  echo "(ps not available)"
fi
section "pstree -aps $pid"
if have pstree; then
  pstree -aps "$pid" 2>/dev/null || pstree -ap "$pid" 2>&1 || echo "(pstree failed)"
else
  echo "(pstree not available)"
fi
section "dmesg | tail -n 50"
if have dmesg && have tail; then
  dmesg 2>&1 | tail -n 50
elif have dmesg; then
  dmesg 2>&1
else
  echo "(dmesg not available)"
fi
printf '\\n=== end of shutdown diagnostic pid=%s\\n' "$pid"
`

/**
 * Bounded by timeout(1) when it exists, else by a killer in the child's own process group. At the
 * lowest CPU priority: `ps` and `pstree` read all of /proc, and on two busy cores they slowed the
 * very stop they record by a tenth.
 */
export const boundedDiagnostic = `
command -v renice >/dev/null 2>&1 && renice -n 19 -p $$ >/dev/null 2>&1
if command -v timeout >/dev/null 2>&1; then
  timeout ${diagnosticBoundSeconds} /bin/sh -c "$HERMES_DIAG_SCRIPT"
  [ $? -eq 124 ] && printf '\\n(diagnostic cut after ${diagnosticBoundSeconds}s)\\n'
  exit 0
fi
( command -v sleep >/dev/null 2>&1 && sleep ${diagnosticBoundSeconds} && printf '\\n(diagnostic cut after ${diagnosticBoundSeconds}s)\\n' && kill -KILL 0 ) &
killer=$!
/bin/sh -c "$HERMES_DIAG_SCRIPT"
kill "$killer" 2>/dev/null
exit 0
`

export const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error))

export const appendNote = (file: string, line: string): void => {
  try {
    appendNoFollowSync(file, line + "\n")
  } catch {
    // Nowhere left to say it; the shutdown goes on regardless.
  }
}

/** The line that opens one stop's section of the log. */
export const diagnosticHeader = (context: DiagnosticContext): string => {
  const { pid, signal, ...rest } = context
  return `=== shutdown diagnostic ${formatSnapshot({ at: new Date().toISOString(), pid, signal, ...rest })}`
}

/**
 * All the shell gets: PATH (which tools are found), whose diagnostic it is and the script it bounds.
 * Not the gateway's environment: the witness lives as long as the gateway, and has no use for its
 * tokens and keys.
 */
export const diagnosticEnv = (pid: number, options: DiagnosticOptions): Record<string, string | undefined> => ({
  PATH: (options.env ?? process.env).PATH,
  HERMES_DIAG_PID: String(pid),
  HERMES_DIAG_SCRIPT: diagnosticBody,
  LC_ALL: "C"
})

/**
 * Opens the log for appending, moved aside first when past its size limit. A `logs` link would send
 * the output elsewhere: refused like a link at the file's own name (O_NOFOLLOW). The shell writes
 * only to this descriptor (no redirection to a path), so it cannot be redirected either.
 */
export const openDiagnosticLog = (logFile: string, options: DiagnosticOptions): number => {
  ensurePrivateDirectorySync(path.dirname(logFile), { parents: true })
  try {
    const stat = fs.lstatSync(logFile)
    if (stat.isFile() && stat.size > (options.rotateBytes ?? defaultRotateBytes)) fs.renameSync(logFile, `${logFile}.1`)
  } catch {
    // Absent (first shutdown) or not rotatable: append to whatever is there.
  }
  return openNoFollow(logFile, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT)
}

export const closeQuietly = (fd: number | undefined): void => {
  if (fd === undefined) return
  try {
    fs.closeSync(fd)
  } catch {
    // already closed
  }
}

/**
 * Writes the header synchronously (so the log names this shutdown even if the shell cannot start),
 * then starts the detached child and returns at once. Never throws, never awaits.
 */
export const spawnShutdownDiagnostic = (
  logFile: string,
  context: DiagnosticContext,
  options: DiagnosticOptions = {}
): DiagnosticSpawn => {
  let fd: number | undefined
  try {
    fd = openDiagnosticLog(logFile, options)
    fs.writeSync(fd, `\n${diagnosticHeader(context)}\n`)
    const child = spawn(options.shell ?? "/bin/sh", ["-c", boundedDiagnostic], {
      detached: true,
      stdio: ["ignore", fd, fd],
      env: diagnosticEnv(context.pid, options)
    })
    // Without a listener a failed spawn (no /bin/sh in a distroless image) would crash the gateway.
    child.on("error", (error) => appendNote(logFile, `(diagnostic child could not start: ${describe(error)})`))
    child.unref()
    return { _tag: "Spawned", childPid: child.pid }
  } catch (error) {
    return { _tag: "Skipped", reason: `shutdown diagnostic not started: ${describe(error)}` }
  } finally {
    // The child holds its own copy of the descriptor.
    closeQuietly(fd)
  }
}
