// The forensic pieces as one service for the kernel: live against a real home, and a test layer that
// does no I/O (no /proc reads, no child processes), so kernel tests on an in-memory home stay pure.
// Every method is total: forensics may lose evidence, never delay or fail a shutdown.
import { CommandExecutor } from "@effect/platform/CommandExecutor"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import type { HomePaths } from "../home/HomePaths.js"
import type { ProcessIdentity } from "../home/ProcessIdentity.js"
import { type DiagnosticSpawn, spawnShutdownDiagnostic } from "./DiagnosticChild.js"
import { type DiagnosticWitness, startDiagnosticWitness } from "./DiagnosticWitness.js"
import { type DiagnosticReportResult, writeDiagnosticReport } from "./DiagnosticReport.js"
import type { LifecycleTrace } from "./PreviousLife.js"
import { readKernelLogTail } from "./PreviousLife.js"
import { readLifecycleLog } from "./ShutdownReport.js"
import { type Snapshot, takeSnapshot } from "./Snapshot.js"

export interface ForensicsService {
  /** Phase 0, before the marker is read (classification consumes it). Synchronous inside, < 10 ms. */
  readonly snapshot: (signal: string) => Effect.Effect<Snapshot>
  /**
   * Once running: starts the shell phase 0's diagnostic will run in, so the stop writes to a pipe
   * instead of forking the gateway (DiagnosticWitness.ts). Released with the layer if unused.
   */
  readonly startWitness: Effect.Effect<void>
  /** Phase 0: the detached `ps`/`pstree`/`dmesg` child; returns without waiting for it. */
  readonly spawnDiagnostic: (context: { readonly signal: string; readonly [key: string]: unknown }) => Effect.Effect<DiagnosticSpawn>
  /** SIGUSR2: Node report + summary under logs/. */
  readonly diagnosticReport: (input: {
    readonly activeTurns: number
    readonly phase: string
    readonly extra?: Record<string, unknown>
  }) => Effect.Effect<DiagnosticReportResult>
  /** Start-up: the kernel log tail, when readable within a second (for the OOM hint). */
  readonly kernelLogTail: Effect.Effect<string | undefined>
  /** Start-up: the last few lifecycle records, to recognise an exit by one of our watchdogs. */
  readonly recentLifecycle: Effect.Effect<ReadonlyArray<LifecycleTrace>>
}

export class Forensics extends Context.Tag("hermes/Forensics")<Forensics, ForensicsService>() {
  static readonly live = (paths: HomePaths, self: ProcessIdentity): Layer.Layer<Forensics, never, CommandExecutor> =>
    Layer.scoped(Forensics, Effect.gen(function*() {
      const executor = yield* CommandExecutor
      // Started once running; a stop before that (during start-up) forks its child as before.
      const witness = yield* Ref.make<DiagnosticWitness | undefined>(undefined)
      yield* Effect.addFinalizer(() => Effect.flatMap(Ref.get(witness), (w) => Effect.sync(() => w?.dismiss())))
      const service: ForensicsService = {
        snapshot: (signal) =>
          Effect.sync(() => takeSnapshot({ signal, markerPath: paths.plannedStop, cleanShutdownPath: paths.cleanShutdown, self })),
        startWitness: Effect.flatMap(Ref.get(witness), (started) =>
          started !== undefined
            ? Effect.void
            : Effect.flatMap(Effect.sync(() => startDiagnosticWitness(paths.diagnosticLog, self.pid)), (w) => Ref.set(witness, w))),
        spawnDiagnostic: (context) =>
          Effect.flatMap(Ref.get(witness), (w) =>
            Effect.sync(() =>
              w !== undefined ? w.trigger(context) : spawnShutdownDiagnostic(paths.diagnosticLog, { ...context, pid: self.pid })
            )),
        diagnosticReport: (input) => Effect.sync(() => writeDiagnosticReport({ ...input, logsDir: paths.logs })),
        kernelLogTail: readKernelLogTail({ timeoutMs: 1000, lines: 400 }).pipe(Effect.provideService(CommandExecutor, executor)),
        // The previous life's last records are at the very end; a bounded scan keeps start-up fast.
        recentLifecycle: Effect.sync(() => readLifecycleLog(paths.lifecycleLog, { limit: 10, maxScanBytes: 256 * 1024 }).records)
      }
      return service
    }))

  /** No I/O; `calls` (when given) receives one entry per call, for tests that check the order. */
  static readonly test = (calls?: Array<string>): Layer.Layer<Forensics> =>
    Layer.succeed(Forensics, {
      snapshot: (signal) =>
        Effect.sync(() => {
          calls?.push(`snapshot:${signal}`)
          return {
            signal,
            pid: 0,
            start_time: "test",
            ppid: null,
            parent_name: null,
            parent_cmdline: null,
            invocation_id: null,
            supervisor: "none",
            supervisor_evidence: null,
            loadavg: null,
            tracer_pid: null,
            marker_present: false,
            marker_names_self: false,
            marker_note: null,
            clean_shutdown_present: false,
            uptime_s: null,
            rss_mb: null,
            took_ms: 0
          }
        }),
      startWitness: Effect.sync(() => void calls?.push("witness")),
      spawnDiagnostic: (context) =>
        Effect.sync(() => {
          calls?.push(`diagnostic:${context.signal}`)
          return { _tag: "Skipped", reason: "test layer" }
        }),
      diagnosticReport: (input) =>
        Effect.sync(() => {
          calls?.push(`report:${input.phase}:${input.activeTurns}`)
          return { report: null, summary: null, errors: ["test layer"] }
        }),
      kernelLogTail: Effect.succeed(undefined),
      recentLifecycle: Effect.succeed([])
    })
}
