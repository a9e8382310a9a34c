// The lifecycle kernel of `hermes gateway run`: a stack of scoped resources whose release order is
// the shutdown order of CONTRACT 5. Start-up acquires top to bottom; a stop request (signals as
// data, classified once) closes the scope, which releases bottom to top:
//
//   lock → final state (8) → [ SessionDB (7) → adapters (6) → turns (5, 4) → intake (3, 2) ] → marker (1)
//
// The bracketed part lives in a child scope created before the clean-shutdown finalizer is
// registered, so that finalizer runs first whether the gateway was running or still starting.
import { formatDuration } from "../config/Duration.js"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import {
  type Adapter,
  AdapterConnectError,
  type Carryover,
  type GatewayView,
  type IntakeContext,
  type PlatformInfo
} from "../adapters/Adapter.js"
import type { Agent } from "../agents/Agent.js"
import type { FileWriteError } from "../home/AtomicFile.js"
import type { GatewayStateDocument, ShutdownSummary } from "../home/GatewayStateFile.js"
import { HomeStore } from "../home/HomeStore.js"
import type { HomeLocked, LockError } from "../home/InstanceLock.js"
import type { ProcessIdentity } from "../home/ProcessIdentity.js"
import { answerRawQuery } from "../sessions/SessionQueries.js"
import { SessionStore } from "../sessions/SessionStore.js"
import type { SessionDbError, SessionDbService } from "../sessions/SessionDb.js"
import { carryoverOf, expiredReason, planCarryover } from "./Carryover.js"
import { ExitCode } from "./ExitCode.js"
import {
  EnvironmentError,
  NoAdapterConnected,
  NoAdapterEnabled,
  RestartRequested,
  sessionDbStartupError,
  type StorageUnavailable,
  UnplannedStop
} from "./GatewayErrors.js"
import { hardDeadline, type ShutdownBudget, stepBounds } from "./ShutdownBudget.js"
import type { RespawnPolicy } from "./RespawnStorm.js"
import { Signals } from "./Signals.js"
import { recordStart, serveBackoff, startupDeadline } from "./StartGate.js"
import {
  type Classification,
  classify,
  describeRequest,
  evaluateMarker,
  exitVerdict,
  followUp,
  type StopRequest
} from "./StopClassification.js"
import { overridingDecision } from "./StopFollowUp.js"
import { makeTurnSupervisor, type TurnSupervisor } from "./TurnSupervisor.js"
import { recordActiveTurns, recordPlatformStates } from "../metrics/GatewayMetrics.js"
import { meteredIntake } from "../metrics/MeteredIntake.js"
import { TurnDelivery } from "./TurnDelivery.js"
import { recordStartUp } from "../metrics/StartUpMetrics.js"
import { Watchdog } from "./Watchdog.js"
import { runSessionRetention } from "./SessionRetention.js"
import { extendTimeout, SystemdNotify } from "../supervision/SystemdNotify.js"
import { describeDiagnosticReport } from "../forensics/DiagnosticReport.js"
import { Forensics } from "../forensics/Forensics.js"
import { describePreviousLife, previousLifeVerdict } from "../forensics/PreviousLife.js"
import { type Snapshot, shutdownContextLines } from "../forensics/Snapshot.js"
import { droppedLogWrites } from "../logging/StreamGuard.js"
import { beginShutdownSpan, startupReady, withPhaseSpan } from "../telemetry/LifeSpans.js"

export interface GatewaySettings {
  readonly budget: ShutdownBudget
  readonly self: ProcessIdentity
  readonly argv: ReadonlyArray<string>
  readonly adapters: ReadonlyArray<Adapter>
  readonly supervisor: GatewayStateDocument["supervisor"]
  /** WATCHDOG_USEC from systemd, when it asks for keep-alive pings. */
  readonly systemdWatchdog?: Duration.Duration
  /** gateway.loop_stall_timeout; undefined or zero turns the event-loop monitor off. */
  readonly loopStallTimeout?: Duration.Duration
  /** gateway.resume_window: how old a message left resume_pending may be and still be run again. */
  readonly resumeWindow: Duration.Duration
  /** Who answers, for the chat command /status (e.g. "openai llama3.1:8b"). */
  readonly agentLabel: string
  /** gateway.startup_timeout: lock to ready within this, else exit 75; undefined or zero: off. */
  readonly startupTimeout?: Duration.Duration
  /** gateway.respawn_storm; undefined: every start goes ahead at once. */
  readonly respawnStorm?: RespawnPolicy
  /** sessions.retention: finished sessions older than this are pruned daily; undefined or 0: off. */
  readonly sessionRetention?: Duration.Duration
}

export type GatewayRunError =
  | UnplannedStop
  | RestartRequested
  | HomeLocked
  | LockError
  | NoAdapterConnected
  | NoAdapterEnabled
  | EnvironmentError
  | StorageUnavailable
  | AdapterConnectError

export interface StopDecision {
  readonly classification: Classification
  readonly request: StopRequest
  readonly marker: string
}

export interface PhaseRecord {
  readonly name: string
  readonly started_at_ms: number
  readonly took_ms: number
  readonly outcome: "ok" | "timeout" | "failed" | "skipped"
  readonly detail?: string
}

/** Shared by the signal watcher and the finalizers of one gateway life. */
interface Control {
  readonly decision: Ref.Ref<Option.Option<StopDecision>>
  readonly stopRequested: Deferred.Deferred<void>
  readonly force: Deferred.Deferred<void>
  /** Clock time at which shutdown began (phase 0). */
  readonly shutdownStartedAt: Ref.Ref<Option.Option<number>>
  readonly phases: Ref.Ref<ReadonlyArray<PhaseRecord>>
  readonly turns: Ref.Ref<{ drained: number; interrupted: number; drainEnded: string | null }>
  readonly state: Ref.Ref<GatewayStateDocument>
  readonly activeTurns: Ref.Ref<number>
  /** Set when the final state is being written: from then on the decision no longer changes. */
  readonly final: Ref.Ref<boolean>
}

/**
 * Bounds a step that runs inside a finalizer (an uninterruptible region). The work is made
 * interruptible, and disconnected so that a step ignoring interruption is abandoned at the bound
 * instead of holding the shutdown; the outer `interruptible` lets the timeout actually fire.
 */
export const abandonAfter = <A, E>(
  work: Effect.Effect<A, E>,
  bound: Duration.Duration
): Effect.Effect<Option.Option<A>, E> =>
  work.pipe(Effect.interruptible, Effect.disconnect, Effect.interruptible, Effect.timeoutOption(bound))

const isoNow = Clock.currentTimeMillis.pipe(Effect.map((ms) => new Date(ms).toISOString()))

export const runGateway = (
  settings: GatewaySettings
): Effect.Effect<
  void,
  GatewayRunError,
  HomeStore | Signals | Watchdog | SessionStore | Agent | SystemdNotify | Forensics
> =>
  Effect.gen(function*() {
    const control: Control = {
      decision: yield* Ref.make(Option.none<StopDecision>()),
      stopRequested: yield* Deferred.make<void>(),
      force: yield* Deferred.make<void>(),
      shutdownStartedAt: yield* Ref.make(Option.none<number>()),
      phases: yield* Ref.make<ReadonlyArray<PhaseRecord>>([]),
      turns: yield* Ref.make({ drained: 0, interrupted: 0, drainEnded: null as string | null }),
      activeTurns: yield* Ref.make(0),
      final: yield* Ref.make(false),
      state: yield* Ref.make<GatewayStateDocument>({
        gateway_state: "starting",
        desired_state: "running",
        pid: settings.self.pid,
        start_time: settings.self.startTime,
        updated_at: new Date(0).toISOString(),
        exit_code: null,
        exit_reason: null,
        restart_requested: false,
        active_turns: 0,
        platforms: {},
        supervisor: settings.supervisor,
        shutdown: null
      })
    }
    yield* Effect.scoped(life(settings, control))
    const decision = yield* Ref.get(control.decision)
    if (Option.isNone(decision)) return
    const { classification, request } = decision.value
    if (classification === "unplanned") {
      return yield* new UnplannedStop({ message: `stopped by ${describeRequest(request)} that no stopper announced` })
    }
    if (classification === "restart") {
      return yield* new RestartRequested({ message: `restart requested by ${describeRequest(request)}` })
    }
  })

const life = (settings: GatewaySettings, control: Control) =>
  Effect.gen(function*() {
    const store = yield* HomeStore
    const watchdog = yield* Watchdog
    const systemd = yield* SystemdNotify
    const forensics = yield* Forensics
    const scope = yield* Effect.scope
    // The snapshot the `shutdown context` line summarises, kept whole for the shutdown report.
    const shutdownContext = yield* Ref.make<Snapshot | undefined>(undefined)

    // One writer at a time: two fibers saving at once could otherwise put the older document last.
    const stateWriter = yield* Effect.makeSemaphore(1)
    const saveState = (patch: Partial<GatewayStateDocument>) =>
      Effect.gen(function*() {
        const updated_at = yield* isoNow
        const next = yield* Ref.updateAndGet(control.state, (s) => ({ ...s, ...patch, updated_at }))
        if (patch.platforms !== undefined) yield* recordPlatformStates(patch.platforms)
        yield* store.writeState(next).pipe(
          Effect.catchAll((error) => Effect.logWarning(`could not write gateway state: ${error.message}`))
        )
      }).pipe(stateWriter.withPermits(1))

    /**
     * Phase 0: the forensic snapshot (taken by the caller before the marker is consumed), the
     * hard-deadline watchdog, the detached diagnostic child and one `shutdown context` line.
     * Records only; the classification was decided before.
     */
    const beginShutdown = (snapshot: Snapshot, classification: string, markerVerdict: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const already = yield* Ref.getAndUpdate(control.shutdownStartedAt, (s) => Option.orElse(s, () => Option.some(now)))
        if (Option.isSome(already)) return
        yield* beginShutdownSpan(classification)
        const deadline = hardDeadline(settings.budget)
        yield* watchdog.arm(deadline, {
          pid: settings.self.pid,
          start_time: settings.self.startTime,
          signal: snapshot.signal,
          classification
        })
        yield* forensics.spawnDiagnostic({ signal: snapshot.signal, classification })
        yield* Ref.set(shutdownContext, snapshot)
        const context = shutdownContextLines(snapshot, classification, markerVerdict, formatDuration(deadline))
        yield* Effect.log(context.info)
        yield* Effect.logDebug(context.debug)
      })

    const runPhase = (
      name: string,
      bound: Duration.Duration | undefined,
      work: Effect.Effect<unknown, unknown>
    ) =>
      Effect.gen(function*() {
        yield* watchdog.phase(name)
        const origin = Option.getOrElse(yield* Ref.get(control.shutdownStartedAt), () => 0)
        const t0 = yield* Clock.currentTimeMillis
        // Finalizers are uninterruptible; the work is made interruptible and disconnected so a
        // step that ignores interruption is abandoned at its bound instead of holding the shutdown.
        const bounded = bound === undefined
          ? work.pipe(Effect.asSome)
          : abandonAfter(work, bound)
        const exit = yield* Effect.exit(withPhaseSpan(name)(bounded))
        const t1 = yield* Clock.currentTimeMillis
        const outcome: PhaseRecord["outcome"] = Exit.isFailure(exit)
          ? "failed"
          : Option.isNone(exit.value)
          ? "timeout"
          : "ok"
        const detail = Exit.isFailure(exit) ? Cause.pretty(exit.cause).split("\n")[0] : undefined
        const record: PhaseRecord = {
          name,
          started_at_ms: t0 - origin,
          took_ms: t1 - t0,
          outcome,
          ...(detail !== undefined ? { detail } : {})
        }
        yield* Ref.update(control.phases, (phases) => [...phases, record])
        const line = `shutdown phase=${name} took=${t1 - t0} at=+${((t1 - origin) / 1000).toFixed(3)}`
        if (outcome === "ok") yield* Effect.log(line)
        else yield* Effect.logWarning(`${line} outcome=${outcome}${detail !== undefined ? ` error=${JSON.stringify(detail)}` : ""}`)
      })

    // Signals are watched for the whole life, start-up included; forked first, so interrupted last.
    const signals = yield* Signals
    yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
      const signal = yield* signals.take
      // Past the final state this life decides nothing: the signal is left to whoever comes next
      // (the restart parent passes a planned stop on to the successor).
      if (yield* Ref.get(control.final)) return yield* signals.giveBack(signal)
      if (signal === "SIGUSR2") {
        const active = yield* Ref.get(control.activeTurns)
        const phase = Option.isSome(yield* Ref.get(control.shutdownStartedAt))
          ? "shutting_down"
          : (yield* Ref.get(control.state)).gateway_state
        const report = yield* forensics.diagnosticReport({ activeTurns: active, phase })
        yield* Effect.log(describeDiagnosticReport(report))
        return
      }
      yield* handleStopRequest({ _tag: "Signal", signal })
    })))

    // active_turns in the state file follows the turns at most once a second, so a burst of
    // turns does not turn into a burst of fsyncs; forked early, so it outlives the drain.
    yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
      yield* Effect.sleep(Duration.seconds(1))
      const active = yield* Ref.get(control.activeTurns)
      const current = yield* Ref.get(control.state)
      const shuttingDown = Option.isSome(yield* Ref.get(control.shutdownStartedAt))
      const live = current.gateway_state === "draining" || (current.gateway_state === "running" && !shuttingDown)
      if (active !== current.active_turns && live) {
        yield* saveState({ active_turns: active })
      }
    })))

    /** Reads the planned-stop marker as it stands for this incarnation, consuming it when it should. */
    const readMarker = Effect.gen(function*() {
      const reading = yield* store.readPlannedStop
      const now = yield* Clock.currentTimeMillis
      const marker = evaluateMarker(reading, settings.self, now, Duration.toMillis(settings.budget.markerTtl))
      if (marker.file === "consume") yield* store.removePlannedStop
      return marker
    })

    const handleStopRequest = (request: StopRequest) =>
      Effect.gen(function*() {
        const previous = yield* Ref.get(control.decision)
        if (Option.isSome(previous)) {
          const overriding = yield* overridingDecision(previous.value, request, readMarker)
          if (Option.isSome(overriding)) yield* Ref.set(control.decision, overriding)
          if (followUp(request) === "force") {
            yield* Effect.logWarning(
              `shutdown forced by a second ${describeRequest(request)}; ending the drain now (exit code still follows the first decision: ${Option.getOrElse(overriding, () => previous.value).classification})`
            )
            yield* Deferred.succeed(control.force, undefined)
          } else {
            yield* Effect.log(`ignoring ${describeRequest(request)}: already shutting down`)
          }
          return
        }
        // Before the marker is read and consumed, so the record shows it as the stopper left it.
        const snapshot = yield* forensics.snapshot(describeRequest(request))
        const marker = yield* readMarker
        const classification = classify(request, marker)
        yield* Ref.set(control.decision, Option.some({ classification, request, marker: marker.note }))
        yield* beginShutdown(snapshot, classification, marker.note)
        yield* Deferred.succeed(control.stopRequested, undefined)
      })

    // --- the lock, and the final step that runs while it is still held ---------------------
    const controlServer = yield* store.acquireLock({ pid: settings.self.pid, start_time: settings.self.startTime, home: store.dir })
    yield* Effect.addFinalizer((exit) => finalStep(exit))
    const startVerdict = yield* recordStart(settings.respawnStorm)
    const startupLimit = startupDeadline(settings.startupTimeout, startVerdict)
    if (Option.isSome(startupLimit)) yield* watchdog.armStartup(startupLimit.value, { start_time: settings.self.startTime })
    if (settings.loopStallTimeout !== undefined) {
      yield* watchdog.startLoopMonitor(settings.loopStallTimeout, { start_time: settings.self.startTime })
    }
    const previousPidFile = yield* store.readPid
    const staleTemps = yield* store.removeStaleTempFiles
    if (staleTemps.length > 0) yield* Effect.log(`removed temp files left by a killed writer: ${staleTemps.join(", ")}`)

    const startedAt = yield* isoNow
    yield* store.writePid({
      pid: settings.self.pid,
      start_time: settings.self.startTime,
      argv: [...settings.argv],
      home: store.dir,
      started_at: startedAt
    }).pipe(Effect.mapError(environmentError))
    const previousLife = yield* inspectPreviousLife()
    // The first state write must succeed: a home we cannot write is an environment error (78).
    const starting = yield* Ref.updateAndGet(control.state, (s) => ({ ...s, updated_at: startedAt }))
    yield* store.writeState(starting).pipe(Effect.mapError(environmentError))
    yield* store.appendLifecycle({
      event: "start",
      at: startedAt,
      pid: settings.self.pid,
      start_time: settings.self.startTime,
      argv: [...settings.argv],
      previous_life: previousLife
    }).pipe(Effect.catchAll((error) => Effect.logWarning(error.message)))

    // --- everything else lives in a child scope released after the clean-shutdown marker -----
    const resources = yield* Scope.fork(scope, ExecutionStrategy.sequential)
    yield* Effect.addFinalizer(() => cleanShutdownStep())

    const started = yield* startUp().pipe(
      Scope.extend(resources),
      Effect.as(true),
      Effect.raceFirst(Deferred.await(control.stopRequested).pipe(Effect.as(false)))
    )
    if (!started) {
      yield* Effect.log("stop requested during start-up; releasing what was acquired")
      return
    }
    yield* watchdog.startupReady
    yield* saveState({ gateway_state: "running" })
    yield* Effect.log(`gateway running pid=${settings.self.pid}`)
    yield* startupReady
    yield* systemd.notify(["READY=1", `STATUS=running (pid ${settings.self.pid})`])
    if (settings.systemdWatchdog !== undefined) {
      // Pinged from the event loop on purpose: a stalled loop stops the pings and systemd acts.
      const every = Duration.millis(Math.max(100, Duration.toMillis(settings.systemdWatchdog) / 2))
      yield* Effect.forkIn(
        Effect.forever(systemd.notify(["WATCHDOG=1"]).pipe(Effect.zipRight(Effect.sleep(every)))),
        resources
      )
    }
    yield* Deferred.await(control.stopRequested)

    // ----------------------------------------------------------------------------------------

    function environmentError(error: FileWriteError) {
      return new EnvironmentError({ message: error.message })
    }

    /** Start-up consumes .clean_shutdown and says whether the previous life ended in order. */
    /** Start-up consumes .clean_shutdown and says whether the previous life ended in order. */
    function inspectPreviousLife() {
      return Effect.gen(function*() {
        const input = {
          cleanShutdown: yield* store.consumeCleanShutdown,
          previousState: yield* store.readState,
          previousPidFile,
          self: settings.self,
          recentRecords: yield* forensics.recentLifecycle
        }
        yield* recordStartUp(performance.timeOrigin, input.recentRecords)
        let life = previousLifeVerdict(input)
        // Only a life that died gets the (slower) look at the kernel log for an OOM kill.
        // CONTRACT 1: an unreadable file is treated as absent, and the log says so.
        for (const note of life.notes ?? []) yield* Effect.logWarning(`${note}; treated as absent`)
        if (life.verdict === "died_without_shutdown") {
          life = previousLifeVerdict({ ...input, kernelLogTail: yield* forensics.kernelLogTail })
          yield* Effect.logWarning(describePreviousLife(life))
        } else {
          yield* Effect.log(describePreviousLife(life))
        }
        return life
      })
    }

    function startUp() {
      return Effect.gen(function*() {
        yield* watchdog.phase("startup:respawn_backoff")
        yield* serveBackoff(startVerdict, settings.respawnStorm, settings.startupTimeout ?? Duration.minutes(5))
        yield* watchdog.phase("startup:session_db")
        const sessions = yield* SessionStore
        const db = yield* Effect.acquireRelease(
          sessions.open({
            previousLifeCrashed: previousLife.verdict === "died_without_shutdown",
            onRecovery: (report) =>
              Effect.gen(function*() {
                yield* Effect.logWarning(`session database recovered: ${JSON.stringify(report)}`)
                yield* store.appendLifecycle({ event: "session_db_recovery", at: yield* isoNow, ...report }).pipe(
                  Effect.catchAll((error) => Effect.logWarning(error.message))
                )
              })
          }).pipe(
            Effect.mapError((error: SessionDbError) => sessionDbStartupError(error.message))
          ),
          (db) => runPhase("close_session_db", settings.budget.dbClose, db.close)
        )
        // `hermes gateway sessions` asks us instead of opening the database a second time.
        const runtime = yield* Effect.runtime<never>()
        controlServer.serve((request) => Runtime.runPromise(runtime)(answerRawQuery(db)(request)))
        yield* watchdog.phase("startup:connect_adapters")
        const adapters = yield* connectAdapters()
        const turns = yield* makeTurnSupervisor(db, (active) => Ref.set(control.activeTurns, active).pipe(Effect.zipRight(recordActiveTurns(active))))
        const carryover = yield* prepareCarryover(db, adapters)
        yield* Effect.addFinalizer(() => interruptStep(turns))
        yield* Effect.addFinalizer(() => drainStep(turns))
        yield* Effect.addFinalizer(() =>
          runPhase("notify_chats", stepBounds.notifyChats, Effect.gen(function*() {
            const decision = yield* Ref.get(control.decision)
            const reason = Option.exists(decision, (d) => d.classification === "restart") ? "restarting" : "stopping"
            yield* Effect.forEach(adapters, (a) => a.notifyInFlight(reason).pipe(Effect.exit), { concurrency: "unbounded" })
          }))
        )
        yield* Effect.addFinalizer(() =>
          runPhase("stop_intake", stepBounds.stopIntake, Effect.gen(function*() {
            yield* turns.closeIntake
            yield* Effect.forEach(adapters, (a) => a.stopIntake.pipe(Effect.exit), { concurrency: "unbounded" })
          }))
        )
        yield* Effect.forEach(
          adapters,
          (adapter) => adapter.startIntake(meteredIntake(turns.intake, adapter.name), intakeContext(carryover.get(adapter.name) ?? [])).pipe(Effect.provide(TurnDelivery.Live(db))),
          { discard: true }
        )
        // Interrupted when start-up's scope closes, before stop_intake, so the last word on each
        // platform's state is the disconnect step's.
        yield* Effect.forkScoped(followPlatformHealth(adapters))
        yield* Effect.forkScoped(runSessionRetention(db, settings.sessionRetention, Effect.map(Ref.get(control.shutdownStartedAt), Option.isSome)))
      })
    }

    /**
     * The push turns an earlier life left: too old ones are expired in the SessionDB first (a
     * failure leaves them for the next start), then each platform gets its own, oldest first.
     */
    function prepareCarryover(db: SessionDbService, adapters: ReadonlyArray<Adapter>) {
      return Effect.gen(function*() {
        const byPlatform = new Map<string, Array<Carryover>>()
        const backlog = yield* db.backlog.pipe(
          Effect.catchAll((error) =>
            Effect.logError(`cannot read the turns an earlier life left (they wait for the next start): ${error.message}`).pipe(
              Effect.as([])
            )
          )
        )
        if (backlog.length === 0) return byPlatform
        const plan = planCarryover(backlog, yield* Clock.currentTimeMillis, settings.resumeWindow)
        const reason = expiredReason(settings.resumeWindow)
        const counts = { resume: 0, expire: 0, deliver: 0 }
        for (const planned of plan) {
          if (planned.action === "expire") {
            const expired = yield* db.expireTurn(planned.turn.ids.turnId, reason).pipe(
              Effect.as(true),
              Effect.catchAll((error) => Effect.logWarning(`cannot expire turn ${planned.turn.ids.turnId}: ${error.message}`).pipe(Effect.as(false)))
            )
            if (!expired) continue
          }
          counts[planned.action]++
          const list = byPlatform.get(planned.turn.platform) ?? []
          list.push(carryoverOf(planned, reason))
          byPlatform.set(planned.turn.platform, list)
        }
        yield* Effect.log(
          `turns carried over from an earlier life: resume=${counts.resume} deliver=${counts.deliver} expired=${counts.expire}`
        )
        for (const [platform, list] of byPlatform) {
          if (!adapters.some((adapter) => adapter.name === platform)) {
            yield* Effect.logWarning(`${list.length} turn(s) of platform ${platform} wait until it is enabled and connected again`)
          }
        }
        return byPlatform
      })
    }

    function intakeContext(carryover: ReadonlyArray<Carryover>): IntakeContext {
      return {
        carryover,
        status: Effect.gen(function*() {
          const state = yield* Ref.get(control.state)
          const shuttingDown = Option.isSome(yield* Ref.get(control.shutdownStartedAt))
          const view: GatewayView = {
            pid: settings.self.pid,
            state: shuttingDown && state.gateway_state === "running" ? "draining" : state.gateway_state,
            startedAt,
            activeTurns: yield* Ref.get(control.activeTurns),
            platforms: Object.fromEntries(
              Object.entries(state.platforms).map(([name, p]) => [name, { state: String(p.state), error: p.error ?? null }])
            ),
            agent: settings.agentLabel,
            supervisor: state.supervisor?.kind ?? null
          }
          return view
        }),
        // Uninterruptible: the stop it starts will interrupt the adapter fiber that asked.
        requestRestart: (by) => Effect.uninterruptible(handleStopRequest({ _tag: "Control", action: "restart", by }))
      }
    }

    /** Platforms that report their health (Telegram: polling / retrying + error) are followed once a second. */
    function followPlatformHealth(adapters: ReadonlyArray<Adapter>) {
      return Effect.forever(Effect.gen(function*() {
        yield* Effect.sleep(Duration.seconds(1))
        if (Option.isSome(yield* Ref.get(control.shutdownStartedAt))) return
        const current = (yield* Ref.get(control.state)).platforms
        let changed = false
        const next = { ...current }
        for (const adapter of adapters) {
          if (adapter.health === undefined) continue
          const health = yield* adapter.health
          const known = current[adapter.name]
          if (known !== undefined && known.state === health.state && (known.error ?? null) === health.error) continue
          next[adapter.name] = { ...known, state: health.state, error: health.error }
          changed = true
        }
        if (changed) yield* saveState({ platforms: next })
      }))
    }

    /** Connect every enabled adapter in parallel, each bounded; the disconnect finalizer comes first. */
    function connectAdapters() {
      return Effect.gen(function*() {
        const attempted = yield* Ref.make<ReadonlyArray<Adapter>>([])
        yield* Effect.addFinalizer(() =>
          Ref.get(attempted).pipe(Effect.flatMap((list) =>
            runPhase(
              "disconnect_adapters",
              undefined,
              Effect.forEach(list, (adapter) => disconnectOne(adapter), { concurrency: "unbounded", discard: true })
            )
          ))
        )
        if (settings.adapters.length === 0) {
          return yield* new NoAdapterEnabled({ message: "no adapter is enabled: enable adapters.http (or another platform) in config.yaml" })
        }
        const results = yield* Effect.forEach(settings.adapters, (adapter) =>
          Ref.update(attempted, (list) => [...list, adapter]).pipe(
            Effect.zipRight(adapter.connect.pipe(
              Effect.timeoutFail({
                duration: settings.budget.adapterConnect,
                onTimeout: () =>
                  new AdapterConnectError({
                    adapter: adapter.name,
                    message: `${adapter.name} did not connect within ${formatDuration(settings.budget.adapterConnect)}`,
                    exitCode: ExitCode.Unavailable
                  })
              }),
              Effect.either
            )),
            Effect.map((result) => ({ adapter, result }))
          ), { concurrency: "unbounded" })
        const platforms: Record<string, { state: string; error: string | null } & PlatformInfo> = {}
        const connected: Array<Adapter> = []
        for (const { adapter, result } of results) {
          if (result._tag === "Right") {
            connected.push(adapter)
            // An adapter may start in another state (Telegram: "retrying" while the Bot API is unreachable).
            const platform = { state: "connected", error: null, ...result.right }
            platforms[adapter.name] = platform
            const details = Object.entries(result.right).map(([k, v]) => `${k}=${v}`).join(" ")
            if (platform.state === "connected") yield* Effect.log(`adapter ${adapter.name} connected ${details}`)
            else yield* Effect.logWarning(`adapter ${adapter.name} started but is not connected yet; it keeps trying: ${details}`)
          } else {
            platforms[adapter.name] = { state: "failed", error: result.left.message }
            yield* Effect.logError(`adapter ${adapter.name} failed to connect: ${result.left.message}`)
          }
        }
        yield* saveState({ platforms })
        for (const { result } of results) {
          if (result._tag === "Left" && (result.left.exitCode === ExitCode.Config || result.left.endsStartup === true)) return yield* Effect.fail(result.left)
        }
        if (connected.length === 0) {
          return yield* new NoAdapterConnected({
            message: `no adapter could connect: ${results.map((r) => r.result._tag === "Left" ? r.result.left.message : "").join("; ")}`
          })
        }
        return connected
      })
    }

    function disconnectOne(adapter: Adapter) {
      return abandonAfter(adapter.disconnect, settings.budget.adapterDisconnect).pipe(
        Effect.flatMap(Option.match({
          onNone: () =>
            Effect.logWarning(`adapter ${adapter.name} did not disconnect within ${formatDuration(settings.budget.adapterDisconnect)}; abandoned`),
          onSome: () => Effect.logDebug(`adapter ${adapter.name} disconnected`)
        })),
        Effect.catchAllCause((cause) =>
          Effect.logWarning(`adapter ${adapter.name} failed to disconnect: ${Cause.pretty(cause).split("\n")[0]}`)
        ),
        // A platform that never connected keeps its "failed" state and error for the operator.
        Effect.zipRight(Ref.update(control.state, (s) => {
          const platform = s.platforms[adapter.name]
          if (platform === undefined || platform.state !== "connected") return s
          return { ...s, platforms: { ...s.platforms, [adapter.name]: { ...platform, state: "disconnected", error: null } } }
        }))
      )
    }

    function drainStep(turns: TurnSupervisor) {
      return runPhase("drain", undefined, Effect.gen(function*() {
        const active = yield* turns.active
        if (active > 0) yield* Effect.log(`draining ${active} turn(s), deadline ${formatDuration(settings.budget.drain)}`)
        // While turns drain, keep systemd's stop timeout from cutting in before our own hard
        // deadline, and let `systemctl status` show the progress.
        const keepAlive = systemd.enabled
          ? yield* Effect.fork(Effect.forever(Effect.gen(function*() {
            const origin = Option.getOrElse(yield* Ref.get(control.shutdownStartedAt), () => 0)
            const left = Duration.toMillis(hardDeadline(settings.budget)) - ((yield* Clock.currentTimeMillis) - origin)
            yield* systemd.notify([`STATUS=draining ${yield* turns.active} turn(s)`, extendTimeout(left)])
            yield* Effect.sleep(Duration.seconds(2))
          })).pipe(Effect.interruptible))
          : undefined
        const result = yield* turns.drain(settings.budget.drain, control.force)
        if (keepAlive !== undefined) yield* Fiber.interrupt(keepAlive)
        yield* Ref.update(control.turns, (t) => ({ ...t, drained: result.drained, drainEnded: result.ended }))
        if (result.ended !== "empty") {
          yield* Effect.logWarning(`drain ended (${result.ended}) with ${result.left} turn(s) still running`)
        }
      }))
    }

    function interruptStep(turns: TurnSupervisor) {
      return runPhase("interrupt_turns", stepBounds.interruptTurns, Effect.gen(function*() {
        const { drainEnded } = yield* Ref.get(control.turns)
        const reason = drainEnded === "forced"
          ? "interrupted: shutdown forced by a second signal"
          : drainEnded === "deadline"
          ? `interrupted: drain deadline of ${formatDuration(settings.budget.drain)} passed`
          : "interrupted: gateway shutting down"
        const interrupted = yield* turns.interruptAll(reason)
        yield* Ref.update(control.turns, (t) => ({ ...t, interrupted }))
        if (interrupted > 0) yield* Effect.logWarning(`interrupted ${interrupted} turn(s)`)
      }))
    }

    function currentClassification() {
      return Ref.get(control.decision).pipe(
        Effect.map(Option.match({ onNone: () => "startup_failed", onSome: (d) => d.classification as string }))
      )
    }

    /** Phase 1: the first finalizer of every orderly shutdown. */
    function cleanShutdownStep() {
      return Effect.gen(function*() {
        const classification = yield* currentClassification()
        if (Option.isNone(yield* Ref.get(control.shutdownStartedAt))) {
          yield* beginShutdown(yield* forensics.snapshot("none"), classification, "not read (start-up failed)")
        }
        yield* runPhase("clean_shutdown_marker", undefined, Effect.gen(function*() {
          yield* store.writeCleanShutdown({
            pid: settings.self.pid,
            start_time: settings.self.startTime,
            classification,
            written_at: yield* isoNow
          }).pipe(Effect.catchAll((error) => Effect.logError(`could not write the clean-shutdown marker: ${error.message}`)))
          yield* saveState({ gateway_state: "draining" })
          yield* systemd.notify(["STOPPING=1", `STATUS=stopping (${classification})`])
        }))
      })
    }

    /** Phase 8: final state, shutdown report, pid file; the lock is released right after. */
    function finalStep(exit: Exit.Exit<unknown, unknown>) {
      return Effect.gen(function*() {
        yield* Ref.set(control.final, true)
        const decision = yield* Ref.get(control.decision)
        const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
        const startupError = Option.isNone(decision) && Option.isSome(failure) ? failure : Option.none()
        const exitCode = Option.isSome(decision)
          ? exitVerdict(decision.value.classification).exitCode
          : Option.match(startupError, {
            onNone: () => 70,
            onSome: (e) => (typeof e === "object" && e !== null && "exitCode" in e ? Number(e.exitCode) : 70)
          })
        const exitReason = Option.match(decision, {
          onSome: (d) => `${d.classification} stop (${describeRequest(d.request)}; marker ${d.marker})`,
          onNone: () =>
            Option.match(startupError, {
              onSome: (e) => `start-up failed: ${(e as { message?: string }).message ?? String(e)}`,
              onNone: () => "start-up failed"
            })
        })
        yield* runPhase("final_state", undefined, Effect.gen(function*() {
          const origin = Option.getOrElse(yield* Ref.get(control.shutdownStartedAt), () => 0)
          const now = yield* Clock.currentTimeMillis
          const turns = yield* Ref.get(control.turns)
          const phases = yield* Ref.get(control.phases)
          const at = yield* isoNow
          const summary: ShutdownSummary = {
            classification: yield* currentClassification(),
            signal: Option.match(decision, { onNone: () => null, onSome: (d) => describeRequest(d.request) }),
            exit_code: exitCode,
            took_ms: now - origin,
            turns_drained: turns.drained,
            turns_interrupted: turns.interrupted,
            deadline_fired: turns.drainEnded === "deadline" ? "drain" : turns.drainEnded === "forced" ? "forced" : null,
            at
          }
          const verdict = Option.map(decision, (d) => exitVerdict(d.classification))
          yield* saveState(Option.match(verdict, {
            onSome: (v) => ({
              gateway_state: v.gatewayState,
              desired_state: v.desiredState,
              restart_requested: v.restartRequested,
              exit_code: exitCode,
              exit_reason: exitReason,
              active_turns: 0,
              shutdown: summary
            }),
            onNone: () => ({
              gateway_state: "startup_failed" as const,
              exit_code: exitCode,
              exit_reason: exitReason,
              active_turns: 0,
              shutdown: summary
            })
          }))
          yield* store.appendLifecycle({
            event: "shutdown",
            pid: settings.self.pid,
            start_time: settings.self.startTime,
            ...summary,
            exit_reason: exitReason,
            phases,
            context: yield* Ref.get(shutdownContext),
            log_writes_dropped: droppedLogWrites()
          }).pipe(
            Effect.catchAll((error) => Effect.logWarning(error.message))
          )
          yield* store.removePidIfOurs(settings.self.pid)
        }))
        yield* watchdog.disarm
        yield* Effect.log(`gateway exiting code=${exitCode} reason=${JSON.stringify(exitReason)}`)
      })
    }
  })
