// One gateway life as a service: the lifecycle state machine (in a Ref), the stop
// latches, the shutdown record being built, and the one helper every shutdown phase runs through.
// Each layer of the stack (GatewayStack.ts) reads and moves the state through this service.
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type { FileWriteError } from "../home/AtomicFile.js"
import { HomeStore, type HomeStoreService } from "../home/HomeStore.js"
import type { Snapshot } from "../forensics/Snapshot.js"
import { recordPlatformStates } from "../metrics/GatewayMetrics.js"
import { SystemdNotify } from "../supervision/SystemdNotify.js"
import { withPhaseSpan } from "../telemetry/LifeSpans.js"
import type { GatewaySettings } from "./GatewaySettings.js"
import { announce, type GatewayStatus, initialStatus, nothingAnnounced, stateDocument } from "./GatewayStatus.js"
import { type LifecycleState, shutdownStartedAt } from "./LifecycleState.js"
import { abandonAfter, type PhaseRecord, type PhaseRunner } from "./Phase.js"
import type { DrainEnd } from "./TurnSupervisor.js"
import { Watchdog } from "./Watchdog.js"

export interface TurnCounts {
  readonly drained: number
  readonly interrupted: number
  readonly drainEnded: DrainEnd | null
}

export interface LifeService {
  readonly settings: GatewaySettings
  /** The state machine and what changes under it; followers wake on `changed`, opened by every change. */
  readonly status: Ref.Ref<GatewayStatus>
  readonly lifecycle: Effect.Effect<LifecycleState>
  /** Moves the state machine; `now` is the Clock's millis. Returns the new state. */
  readonly transition: (move: (state: LifecycleState, now: number) => LifecycleState) => Effect.Effect<LifecycleState>
  readonly update: (change: (status: GatewayStatus) => GatewayStatus) => Effect.Effect<void>
  /** Open when the status changed since the follower last synced (StatusFollowers.ts). */
  readonly changed: Effect.Latch
  /** Completed by the first stop request. */
  readonly stopRequested: Deferred.Deferred<void>
  /** Completed by a second signal: the drain ends now. */
  readonly force: Deferred.Deferred<void>
  readonly phases: Ref.Ref<ReadonlyArray<PhaseRecord>>
  readonly turnCounts: Ref.Ref<TurnCounts>
  /** The snapshot the `shutdown context` line summarises, kept whole for the shutdown report. */
  readonly shutdownContext: Ref.Ref<Snapshot | undefined>
  /** ISO time start-up began (set once the lock is held). */
  readonly startedAt: Ref.Ref<string>
  /**
   * Runs each phase. Any phase but the marker first runs the clean-shutdown marker (once): a layer
   * whose start-up fails is released at once by its own scope, and even then the marker comes first.
   */
  readonly phase: PhaseRunner
  /** The clean-shutdown marker step, run once whoever asks first. */
  readonly markFirst: Effect.Effect<void>
  /** Brings the state file up to the status now (a no-op when it already says so). */
  readonly writeState: Effect.Effect<void, FileWriteError>
  /** The same, written on the event loop: for a shutdown phase, whose critical path it is on. */
  readonly writeStateNow: Effect.Effect<void, FileWriteError>
  /** Brings systemd up to the status now (READY=1, STOPPING=1, STATUS=). */
  readonly announce: Effect.Effect<void>
}

export class Life extends Context.Tag("hermes/Life")<Life, LifeService>() {}

export const isoNow = Clock.currentTimeMillis.pipe(Effect.map((ms) => new Date(ms).toISOString()))

export const makeLife = <R>(
  settings: GatewaySettings,
  /** Phase 1, the clean-shutdown marker (ShutdownSteps.ts), given the life it belongs to. */
  markerStep: (life: LifeService) => Effect.Effect<void, never, R>
): Effect.Effect<LifeService, never, HomeStore | SystemdNotify | Watchdog | R> =>
  Effect.gen(function*() {
    const store = yield* HomeStore
    const systemd = yield* SystemdNotify
    const watchdog = yield* Watchdog
    // A plain Ref: its followers wake on the `changed` latch, not on a stream of changes, so every
    // turn's two count updates take no lock and publish to no hub (~10 µs of the event loop per turn).
    const status = yield* Ref.make(initialStatus)
    // Opened by every change; the status follower closes it when it syncs. Cheaper per turn than a
    // Stream subscription, and no change is lost: the follower always writes the status as it is now.
    const changed = yield* Effect.makeLatch(false)
    const phases = yield* Ref.make<ReadonlyArray<PhaseRecord>>([])
    const identity = { pid: settings.self.pid, startTime: settings.self.startTime, supervisor: settings.supervisor }

    // One writer at a time, and only what changed: a follower and a phase syncing at once write
    // the current document once, never an older one last.
    const stateWriter = yield* Effect.makeSemaphore(1)
    const lastWritten = yield* Ref.make<{ readonly document: string; readonly platforms: string } | null>(null)
    const syncState = (write: HomeStoreService["writeState"]) =>
      Effect.gen(function*() {
        const document = stateDocument(yield* Ref.get(status), identity)
        if (Option.isNone(document)) return
        const key = JSON.stringify(document.value)
        const previous = yield* Ref.get(lastWritten)
        if (key === previous?.document) return
        const platforms = JSON.stringify(document.value.platforms)
        if (platforms !== previous?.platforms) yield* recordPlatformStates(document.value.platforms)
        yield* write({ ...document.value, updated_at: yield* isoNow })
        yield* Ref.set(lastWritten, { document: key, platforms })
      }).pipe(stateWriter.withPermits(1))

    const announcer = yield* Effect.makeSemaphore(1)
    const announced = yield* Ref.make(nothingAnnounced)
    const announceNow = Effect.gen(function*() {
      const next = announce(yield* Ref.get(announced), yield* Ref.get(status), settings.self.pid)
      yield* Ref.set(announced, next.announced)
      if (next.messages.length > 0) yield* systemd.notify(next.messages)
    }).pipe(announcer.withPermits(1))

    const context = yield* Effect.context<R>()
    const marked = yield* Ref.make(false)
    const markerLock = yield* Effect.makeSemaphore(1)
    const markFirst: Effect.Effect<void> = Effect.gen(function*() {
      if (yield* Ref.getAndSet(marked, true)) return
      yield* markerStep(service).pipe(Effect.provide(context))
    }).pipe(markerLock.withPermits(1))

    const phase: PhaseRunner = (name, bound) => (work) =>
      Effect.gen(function*() {
        if (name !== "clean_shutdown_marker") yield* markFirst
        yield* watchdog.phase(name)
        const origin = Option.getOrElse(shutdownStartedAt((yield* Ref.get(status)).lifecycle), () => 0)
        const t0 = yield* Clock.currentTimeMillis
        // Finalizers are uninterruptible; the work is made interruptible and disconnected so a
        // step that ignores interruption is abandoned at its bound instead of holding the shutdown.
        const exit = yield* Effect.exit(withPhaseSpan(name)(bound === undefined ? work.pipe(Effect.asSome) : abandonAfter(work, bound)))
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
        yield* Ref.update(phases, (list) => [...list, record])
        const line = `shutdown phase=${name} took=${t1 - t0} at=+${((t1 - origin) / 1000).toFixed(3)}`
        if (outcome === "ok") yield* Effect.log(line)
        else yield* Effect.logWarning(`${line} outcome=${outcome}${detail !== undefined ? ` error=${JSON.stringify(detail)}` : ""}`)
      })

    const service: LifeService = {
      settings,
      status,
      lifecycle: Effect.map(Ref.get(status), (s) => s.lifecycle),
      transition: (move) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Ref.modify(status, (s) => {
            const lifecycle = move(s.lifecycle, now)
            return [lifecycle, lifecycle === s.lifecycle ? s : { ...s, lifecycle }]
          })).pipe(Effect.zipLeft(changed.open)),
      update: (change) => Ref.update(status, change).pipe(Effect.zipRight(changed.open)),
      changed,
      stopRequested: yield* Deferred.make<void>(),
      force: yield* Deferred.make<void>(),
      phases,
      turnCounts: yield* Ref.make<TurnCounts>({ drained: 0, interrupted: 0, drainEnded: null }),
      shutdownContext: yield* Ref.make<Snapshot | undefined>(undefined),
      startedAt: yield* Ref.make(new Date(0).toISOString()),
      phase,
      markFirst,
      writeState: syncState(store.writeState),
      writeStateNow: syncState(store.writeStateNow),
      announce: announceNow
    }
    return service
  })
