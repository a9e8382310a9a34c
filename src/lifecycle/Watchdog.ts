// Watchdogs on a worker thread, so they fire even when the main event loop is blocked: the hard
// shutdown deadline (CONTRACT 3.3: record in logs/lifecycle.jsonl, exit 70), the start-up deadline
// (lock to ready longer than gateway.startup_timeout: record, exit 75) and, while the gateway runs,
// an event-loop liveness check (no heartbeat for gateway.loop_stall_timeout: Node diagnostic report
// in logs/, record, exit 75 so the supervisor restarts it). Exiting the whole
// process from a worker needs the inspector: the worker evaluates code on the main thread, which V8
// runs even in the middle of a busy loop.
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as inspector from "node:inspector"
import * as path from "node:path"
import { Worker } from "node:worker_threads"
import { timerLimit } from "../config/DurationBounds.js"
import { secretVariable } from "../forensics/DiagnosticReport.js"
import { ExitCode } from "./ExitCode.js"
import type { Phase, StartupStage } from "./Phase.js"

export interface WatchdogService {
  /** Starts the countdown; `record` is what the lifecycle log gets if it fires. Ends loop monitoring. */
  readonly arm: (deadline: Duration.Duration, record: Record<string, unknown>) => Effect.Effect<void>
  /** Tells the watchdog which shutdown phase (or start-up stage) is running, for the record. */
  readonly phase: (name: Phase | StartupStage) => Effect.Effect<void>
  readonly disarm: Effect.Effect<void>
  /**
   * Watches the event loop until `arm`: no heartbeat for `stallTimeout` writes a diagnostic report,
   * a `loop_stall` record (with `record`'s fields) and exits 75. A zero timeout turns it off; a
   * second call replaces the timeout.
   */
  readonly startLoopMonitor: (stallTimeout: Duration.Duration, record?: Record<string, unknown>) => Effect.Effect<void>
  /**
   * Start-up must reach `startupReady` within `deadline`, else a `startup_timeout` record (with
   * `record`'s fields) and exit 75. A second call restarts the countdown; `arm` (shutdown has
   * begun) ends it; a zero deadline turns it off.
   */
  readonly armStartup: (deadline: Duration.Duration, record: Record<string, unknown>) => Effect.Effect<void>
  readonly startupReady: Effect.Effect<void>
}

/** How often the main thread says it is alive: often enough that a short test timeout is not flaky. */
export const heartbeatInterval = (stallTimeoutMs: number): number => Math.min(1000, Math.max(50, Math.floor(stallTimeoutMs / 4)))

export class Watchdog extends Context.Tag("hermes/Watchdog")<Watchdog, WatchdogService>() {
  /** A worker thread that writes to `lifecycleLog` (and its reports next to it) and ends the process. */
  static readonly live = (lifecycleLog: string): Layer.Layer<Watchdog> =>
    Layer.scoped(
      Watchdog,
      Effect.gen(function*() {
        const worker = yield* Effect.acquireRelease(
          Effect.sync(() => {
            const worker = new Worker(workerSource, {
              eval: true,
              workerData: {
                lifecycleLog,
                reportDir: path.dirname(lifecycleLog),
                exitCode: ExitCode.Software,
                loopStallExitCode: ExitCode.Restart,
                startupExitCode: ExitCode.Restart,
                secretPattern: secretVariable.source
              }
            })
            worker.unref()
            return worker
          }),
          // Not awaited: the thread holds nothing to flush, and waiting for it to wind down only
          // delays the exit (process.exit ends it in any case).
          (worker) => Effect.sync(() => void worker.terminate())
        )
        let heartbeat: ReturnType<typeof setInterval> | undefined
        const stopHeartbeat = () => {
          if (heartbeat !== undefined) clearInterval(heartbeat)
          heartbeat = undefined
        }
        yield* Effect.addFinalizer(() => Effect.sync(stopHeartbeat))
        const service: WatchdogService = {
          arm: (deadline, record) =>
            Effect.sync(() => {
              stopHeartbeat()
              // Config bounds keep deadlines far below the limit; past it setTimeout would fire at once.
              const ms = Math.min(Duration.toMillis(deadline), Duration.toMillis(timerLimit))
              worker.postMessage({ type: "arm", ms, record })
            }),
          phase: (name) => Effect.sync(() => worker.postMessage({ type: "phase", name })),
          disarm: Effect.sync(() => worker.postMessage({ type: "disarm" })),
          armStartup: (deadline, record) =>
            Effect.gen(function*() {
              const ms = Duration.toMillis(deadline)
              if (ms <= 0 || !Number.isFinite(ms)) return
              // A debugger paused at a breakpoint during start-up is not a hang either.
              if (inspector.url() !== undefined) {
                return yield* Effect.logWarning("start-up watchdog off: a debugger port is open (--inspect)")
              }
              yield* Effect.sync(() => worker.postMessage({ type: "startup", ms, record }))
            }),
          startupReady: Effect.sync(() => worker.postMessage({ type: "startup_done" })),
          startLoopMonitor: (stallTimeout, record = {}) =>
            Effect.gen(function*() {
              const timeoutMs = Duration.toMillis(stallTimeout)
              if (timeoutMs <= 0 || !Number.isFinite(timeoutMs)) {
                yield* Effect.logDebug("event-loop monitor off (gateway.loop_stall_timeout is 0)")
                return
              }
              // A debugger paused at a breakpoint looks exactly like a stalled loop.
              if (inspector.url() !== undefined) {
                yield* Effect.logWarning("event-loop monitor off: a debugger port is open (--inspect)")
                return
              }
              const intervalMs = heartbeatInterval(timeoutMs)
              yield* Effect.sync(() => {
                stopHeartbeat()
                worker.postMessage({ type: "monitor", timeoutMs, intervalMs, record })
                heartbeat = setInterval(() => worker.postMessage({ type: "beat" }), intervalMs)
                heartbeat.unref()
              })
            })
        }
        return service
      })
    )

  /**
   * A clock-driven stand-in for tests: it never exits the process, it remembers whether the
   * deadline passed while armed, so a test can assert that teardown stayed within the budget.
   * The loop monitor is a no-op: a TestClock world has no event loop to stall.
   */
  static readonly test = (fired: Ref.Ref<Option.Option<string>>): Layer.Layer<Watchdog> =>
    Layer.scoped(
      Watchdog,
      Effect.gen(function*() {
        const current = yield* Ref.make<{ fiber: Fiber.RuntimeFiber<void> | undefined; phase: string }>({
          fiber: undefined,
          phase: "none"
        })
        const scope = yield* Effect.scope
        return {
          arm: (deadline) =>
            Effect.gen(function*() {
              const armedAt = yield* Clock.currentTimeMillis
              const fiber = yield* Effect.sleep(deadline).pipe(
                Effect.zipRight(Ref.get(current)),
                Effect.flatMap(({ phase }) =>
                  Ref.set(fired, Option.some(`phase=${phase} after ${Duration.toMillis(deadline)}ms (armed at ${armedAt})`))
                ),
                // Armed from a finalizer it would inherit uninterruptibility, and disarm would wait it out.
                Effect.interruptible,
                Effect.forkIn(scope)
              )
              yield* Ref.update(current, (c) => ({ ...c, fiber }))
            }),
          phase: (name) => Ref.update(current, (c) => ({ ...c, phase: name })),
          disarm: Ref.get(current).pipe(
            Effect.flatMap(({ fiber }) => fiber === undefined ? Effect.void : Fiber.interrupt(fiber))
          ),
          startLoopMonitor: () => Effect.void,
          armStartup: () => Effect.void,
          startupReady: Effect.void
        }
      })
    )
}

const workerSource = `
const { parentPort, workerData } = require("node:worker_threads")
const fs = require("node:fs")
const path = require("node:path")
const inspector = require("node:inspector")
let timer
let startupTimer
let phase = "none"
let armedAt = 0
let ending = false

// --- event-loop monitor: heartbeats from the main thread, checked on this thread's own clock
let monitor
let checker
let lastBeat = 0
let lastBeatWall = 0
let lastCheck = 0
function stopMonitor() {
  clearInterval(checker)
  checker = undefined
  monitor = undefined
}
function check() {
  if (monitor === undefined || ending) return
  const now = performance.now()
  // This thread was not scheduled either (process stopped, machine suspended, VM paused): the
  // silence says nothing about the loop, so the count starts again.
  if (now - lastCheck > Math.max(2000, monitor.timeoutMs / 2)) lastBeat = now
  lastCheck = now
  if (now - lastBeat > monitor.timeoutMs) stall(now - lastBeat)
}

parentPort.on("message", (message) => {
  if (ending) return
  if (message.type === "beat") {
    lastBeat = performance.now()
    lastBeatWall = Date.now()
  } else if (message.type === "monitor") {
    clearInterval(checker)
    monitor = message
    lastBeat = lastCheck = performance.now()
    lastBeatWall = Date.now()
    checker = setInterval(check, Math.min(250, message.intervalMs))
  } else if (message.type === "startup") {
    clearTimeout(startupTimer)
    const startupArmedAt = Date.now()
    startupTimer = setTimeout(() => startupTimeout(message, startupArmedAt), message.ms)
  } else if (message.type === "startup_done") {
    clearTimeout(startupTimer)
    startupTimer = undefined
  } else if (message.type === "arm") {
    // Shutdown has begun: from here on the hard deadline is the only watchdog.
    stopMonitor()
    clearTimeout(startupTimer)
    startupTimer = undefined
    clearTimeout(timer)
    armedAt = Date.now()
    timer = setTimeout(() => fire(message), message.ms)
  } else if (message.type === "phase") {
    phase = message.name
  } else if (message.type === "disarm") {
    clearTimeout(timer)
    clearTimeout(startupTimer)
    timer = startupTimer = undefined
  }
})

function appendRecord(record) {
  try {
    const dir = path.dirname(workerData.lifecycleLog)
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    // Never through a link (SafeOpen.ts): not a logs/ that is one, nor one at the file's name.
    if (fs.lstatSync(dir).isSymbolicLink()) return
    const c = fs.constants
    const fd = fs.openSync(workerData.lifecycleLog, c.O_WRONLY | c.O_APPEND | c.O_CREAT | c.O_NOFOLLOW, 0o600)
    fs.writeSync(fd, JSON.stringify(record) + "\\n")
    fs.fsyncSync(fd)
    fs.closeSync(fd)
  } catch (error) {}
}
function say(line) {
  try {
    fs.writeSync(2, line + "\\n")
  } catch (error) {}
}
let session
function mainThread() {
  if (session === undefined) {
    session = new inspector.Session()
    session.connectToMainThread()
  }
  return session
}
function exitProcess(code) {
  ending = true
  // If the main thread cannot even run the evaluation (stuck in a system call), kill it.
  setTimeout(() => process.kill(process.pid, "SIGKILL"), 2000)
  try {
    mainThread().post("Runtime.evaluate", { expression: "process.reallyExit(" + code + ")" })
  } catch (error) {
    process.kill(process.pid, "SIGKILL")
  }
}

function fire(message) {
  const record = Object.assign({}, message.record, {
    event: "watchdog",
    deadline_fired: "hard",
    deadline_ms: message.ms,
    phase,
    armed_at: new Date(armedAt).toISOString(),
    at: new Date().toISOString(),
    exit_code: workerData.exitCode
  })
  appendRecord(record)
  say("shutdown hard deadline of " + message.ms + "ms passed in phase=" + phase + "; exiting " + workerData.exitCode)
  exitProcess(workerData.exitCode)
}

function startupTimeout(message, startupArmedAt) {
  if (ending) return
  ending = true
  stopMonitor()
  const code = workerData.startupExitCode
  appendRecord(Object.assign({}, message.record, {
    event: "startup_timeout",
    pid: process.pid,
    startup_timeout_ms: message.ms,
    phase,
    armed_at: new Date(startupArmedAt).toISOString(),
    at: new Date().toISOString(),
    exit_code: code
  }))
  say("start-up did not reach ready within " + message.ms + "ms (gateway.startup_timeout) in phase=" + phase + "; exiting " + code)
  exitProcess(code)
}

// Evaluated on the main thread: its report shows the JavaScript stack that holds the loop.
const reportExpression = "(() => { const r = process.report.getReport(); const env = r.environmentVariables || {};" +
  " const secret = new RegExp(" + JSON.stringify(workerData.secretPattern) + ", 'i');" +
  " for (const k of Object.keys(env)) if (secret.test(k)) env[k] = '[redacted]'; return JSON.stringify(r, null, 2) })()"

function stall(stalledMs) {
  const settings = monitor
  stopMonitor()
  ending = true
  const at = new Date()
  const stamp = at.toISOString().replace(/[-:]/g, "")
  const file = path.join(workerData.reportDir, "loop-stall-" + stamp + "-" + process.pid + ".report.json")
  say("event loop stalled: no heartbeat for " + Math.round(stalledMs) + "ms (limit " + settings.timeoutMs +
    "ms); writing a diagnostic report, then exiting " + workerData.loopStallExitCode)
  let settled = false
  const settle = (text, view, error) => {
    if (settled) return
    settled = true
    clearTimeout(fallback)
    let report = null
    if (text !== undefined) {
      try {
        fs.mkdirSync(workerData.reportDir, { recursive: true, mode: 0o700 })
        if (fs.lstatSync(workerData.reportDir).isSymbolicLink()) throw new Error(workerData.reportDir + " is a symbolic link")
        fs.writeFileSync(file, text + "\\n", { mode: 0o600, flag: "wx" })
        report = file
      } catch (writeError) {
        error = (error ? error + "; " : "") + "cannot write " + file + ": " + writeError.message
      }
    }
    const record = Object.assign({}, settings.record, {
      event: "loop_stall",
      pid: process.pid,
      stall_timeout_ms: settings.timeoutMs,
      stalled_ms: Math.round(stalledMs),
      last_heartbeat_at: new Date(lastBeatWall).toISOString(),
      at: new Date().toISOString(),
      exit_code: workerData.loopStallExitCode,
      report,
      report_view: report === null ? null : view,
      report_error: error
    })
    appendRecord(record)
    say("event loop stall recorded" + (report !== null ? "; diagnostic report " + report : "") + "; exiting " + workerData.loopStallExitCode)
    exitProcess(workerData.loopStallExitCode)
  }
  // The main thread's view, if it answers in time; else this thread's view, which still has the
  // native stack, libuv handles and memory figures.
  const workerView = (reason) => {
    try {
      const r = process.report.getReport()
      const env = r.environmentVariables || {}
      const secret = new RegExp(workerData.secretPattern, "i")
      for (const k of Object.keys(env)) if (secret.test(k)) env[k] = "[redacted]"
      settle(JSON.stringify(r, null, 2), "worker", reason)
    } catch (error) {
      settle(undefined, null, reason + "; worker report failed: " + error.message)
    }
  }
  const fallback = setTimeout(() => workerView("main thread did not answer within 5s"), 5000)
  try {
    mainThread().post("Runtime.evaluate", { expression: reportExpression, returnByValue: true }, (error, result) => {
      if (error) return workerView("main-thread report failed: " + error.message)
      if (result.exceptionDetails) return workerView("main-thread report threw: " + (result.exceptionDetails.text || "exception"))
      settle(result.result.value, "main", undefined)
    })
  } catch (error) {
    workerView("inspector unavailable: " + error.message)
  }
}
`
