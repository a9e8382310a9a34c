// The shutdown diagnostic's shell, started once the gateway is running and left waiting on a pipe:
// phase 0 then writes one line to it instead of forking a child. Forking the gateway (100+ MB, worker
// threads) held the event loop for 5–6 ms on these machines and slowed the phases after it with
// copy-on-write faults, on the critical path of every stop; writing a line to a pipe takes microseconds.
//
// The witness runs in its own session, like the child it replaces. It ignores TERM, INT and HUP while
// it waits, so a supervisor that signals every process of the service at a stop does not take the
// diagnostic with it; the work itself runs with the usual signals, bounded as before. It reads one
// line: the stop's header starts the work; end of file (the gateway ended without a stop of its own:
// SIGKILL, a crash) ends it quietly.
import { type ChildProcess, spawn } from "node:child_process"
import {
  appendNote,
  boundedDiagnostic,
  closeQuietly,
  type DiagnosticContext,
  diagnosticEnv,
  diagnosticHeader,
  type DiagnosticOptions,
  type DiagnosticSpawn,
  describe,
  openDiagnosticLog,
  spawnShutdownDiagnostic
} from "./DiagnosticChild.js"

const headerPrefix = "=== shutdown diagnostic "

const witnessScript = `
trap '' TERM INT HUP
IFS= read -r header || exit 0
case "$header" in "${headerPrefix}"*) ;; *) exit 0 ;; esac
trap - TERM INT HUP
printf '\\n%s\\n' "$header"
${boundedDiagnostic}`

export interface DiagnosticWitness {
  readonly pid: number | undefined
  /**
   * Starts the diagnostic of this stop: through the waiting shell, or, when it is gone, by forking a
   * child as before. Once only; never throws, never waits.
   */
  readonly trigger: (context: { readonly signal: string; readonly [key: string]: unknown }) => DiagnosticSpawn
  /** Ends a witness no stop needed (end of file on its pipe). */
  readonly dismiss: () => void
}

/**
 * Starts the witness for the gateway `pid`. The log is opened (and moved aside when past its limit)
 * now, once per life, as the stop's fork did it once per stop. Never throws: a witness that cannot
 * start leaves the stop to fork its child.
 */
export const startDiagnosticWitness = (
  logFile: string,
  pid: number,
  options: DiagnosticOptions = {}
): DiagnosticWitness => {
  let child: ChildProcess | undefined
  let gone = false
  let triggered = false
  const fallback = (context: DiagnosticContext): DiagnosticSpawn => spawnShutdownDiagnostic(logFile, context, options)
  let fd: number | undefined
  try {
    fd = openDiagnosticLog(logFile, options)
    // The script travels in the environment: `ps` shows the gateway's child as one readable line.
    child = spawn(options.shell ?? "/bin/sh", ["-c", `: hermes shutdown diagnostic of pid ${pid}, waiting for its stop; eval "$HERMES_DIAG_WITNESS"`], {
      detached: true,
      stdio: ["pipe", fd, fd],
      env: { ...diagnosticEnv(pid, options), HERMES_DIAG_WITNESS: witnessScript }
    })
    child.unref()
    child.on("error", () => void (gone = true))
    child.on("exit", () => void (gone = true))
  } catch (error) {
    gone = true
    appendNote(logFile, `(diagnostic witness could not start: ${describe(error)})`)
  } finally {
    // The witness holds its own copy of the descriptor.
    closeQuietly(fd)
  }
  const pipe = child?.stdin ?? null
  let pending: DiagnosticContext | undefined
  // A witness that died between our last look and the write: the stop's diagnostic is forked late
  // rather than lost.
  pipe?.on("error", () => {
    gone = true
    if (pending !== undefined) fallback(pending)
    pending = undefined
  })

  return {
    pid: child?.pid,
    trigger: (context) => {
      const whole: DiagnosticContext = { ...context, pid }
      if (triggered) return { _tag: "Skipped", reason: "shutdown diagnostic already started" }
      triggered = true
      if (gone || pipe === null || child?.pid === undefined) return fallback(whole)
      pending = whole
      // Written at once while the pipe is empty (libuv writes before it queues); the end of file
      // after it lets the witness finish even if this process exits in the next instant.
      pipe.end(`${diagnosticHeader(whole)}\n`, () => void (pending = undefined))
      return { _tag: "Spawned", childPid: child.pid }
    },
    dismiss: () => {
      if (triggered) return
      triggered = true
      pipe?.end()
    }
  }
}
