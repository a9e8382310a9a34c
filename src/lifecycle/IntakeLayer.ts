// Stack layer, the top: carried-over turns planned, then every adapter starts handing messages to
// the turn supervisor. Released first (after the marker): phase 2, stop_intake, then phase 3,
// notify_chats. Session retention runs here, for as long as intake is open.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type { Adapter, Carryover, GatewayView, IntakeContext } from "../adapters/Adapter.js"
import { Forensics } from "../forensics/Forensics.js"
import { HomeStore } from "../home/HomeStore.js"
import { meteredIntake } from "../metrics/MeteredIntake.js"
import type { SessionDbService } from "../sessions/SessionDb.js"
import { SessionDatabase } from "../sessions/SessionDbService.js"
import { TurnDelivery } from "../adapters/TurnDelivery.js"
import { ConnectedAdapters } from "./AdaptersLayer.js"
import { carryoverOf, expiredReason, planCarryover } from "./Carryover.js"
import { Life, type LifeService } from "./Life.js"
import { decisionOf, isShuttingDown, type LifecycleState, readinessOf } from "./LifecycleState.js"
import { runSessionRetention } from "./SessionRetention.js"
import { stepBounds } from "./ShutdownBudget.js"
import { handleStopRequest } from "./StopRequests.js"
import { Turns } from "./TurnsLayer.js"
import { Watchdog } from "./Watchdog.js"

/**
 * The push turns an earlier life left: too old ones are expired in the SessionDB first (a failure
 * leaves them for the next start), then each platform gets its own, oldest first.
 */
const prepareCarryover = (life: LifeService, db: SessionDbService, adapters: ReadonlyArray<Adapter>, again = false) =>
  Effect.gen(function*() {
    const byPlatform = new Map<string, Array<Carryover>>()
    const backlog = yield* db.backlog.pipe(
      Effect.catchAll((error) =>
        Effect.logError(`cannot read the turns an earlier life left (they wait for the next start): ${error.message}`).pipe(
          Effect.as([])
        )
      )
    )
    if (backlog.length === 0) return byPlatform
    const { resumeWindow } = life.settings
    const plan = planCarryover(backlog, yield* Clock.currentTimeMillis, resumeWindow)
    const reason = expiredReason(resumeWindow)
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
    const summary = `turns carried over from an earlier life: resume=${counts.resume} deliver=${counts.deliver} expired=${counts.expire}`
    // Read again while running (carryoverNow): the platform logs what it takes.
    if (again) return byPlatform
    yield* Effect.log(summary)
    for (const [platform, list] of byPlatform) {
      if (!adapters.some((adapter) => adapter.name === platform)) {
        yield* Effect.logWarning(`${list.length} turn(s) of platform ${platform} wait until it is enabled and connected again`)
      }
    }
    return byPlatform
  })

/** A chat's session's turns that are running or wait to be resumed (indexed by session, then status). */
const unfinishedTurns = (db: SessionDbService, platform: string, chatKey: string) =>
  Effect.gen(function*() {
    const sessions = (yield* db.sessionsByKey(chatKey)).filter((s) => s.platform === platform && s.chatKey === chatKey)
    let count = 0
    for (const session of sessions) {
      for (const status of ["running", "resume_pending"] as const) count += (yield* db.turns({ sessionId: session.id, status })).length
    }
    return count
  })

const viewState = (state: LifecycleState): string =>
  state._tag === "Starting" ? "starting" : state._tag === "Running" ? "running" : state._tag === "Stopping" ? "draining" : "stopped"

export const IntakeLayer = Layer.scopedDiscard(Effect.gen(function*() {
  const { life, db, adapters, turns } = yield* Effect.all({
    life: Life, db: SessionDatabase, adapters: ConnectedAdapters, turns: Turns
  })
  const stopContext = yield* Effect.context<Life | Forensics | HomeStore | Watchdog>()
  const carryover = yield* prepareCarryover(life, db, adapters)
  const startedAt = yield* Ref.get(life.startedAt)
  const status = Effect.map(Ref.get(life.status), (current): GatewayView => ({
    pid: life.settings.self.pid,
    state: viewState(current.lifecycle),
    startedAt,
    activeTurns: current.activeTurns,
    platforms: Object.fromEntries(
      Object.entries(current.platforms).map(([name, p]) => [name, { state: String(p.state), error: p.error ?? null }])
    ),
    agent: life.settings.agentLabel,
    supervisor: life.settings.supervisor?.kind ?? null
  }))
  const context = (name: string): IntakeContext => ({
    carryover: carryover.get(name) ?? [],
    carryoverNow: Effect.map(prepareCarryover(life, db, adapters, true), (byPlatform) => byPlatform.get(name) ?? []),
    unfinishedTurns: (chatKey) => unfinishedTurns(db, name, chatKey),
    status,
    readiness: Effect.map(Ref.get(life.status), (current) => readinessOf(current.lifecycle)),
    // Uninterruptible: the stop it starts will interrupt the adapter fiber that asked.
    requestRestart: (by) =>
      Effect.uninterruptible(handleStopRequest({ _tag: "Control", action: "restart", by }).pipe(Effect.provide(stopContext)))
  })

  yield* Effect.addFinalizer(() =>
    life.phase("notify_chats", stepBounds.notifyChats)(Effect.gen(function*() {
      const decision = decisionOf(yield* life.lifecycle)
      const reason = Option.exists(decision, (d) => d.classification === "restart") ? "restarting" : "stopping"
      yield* Effect.forEach(adapters, (a) => a.notifyInFlight(reason).pipe(Effect.exit), { concurrency: "unbounded" })
    }))
  )
  yield* Effect.addFinalizer(() =>
    life.phase("stop_intake", stepBounds.stopIntake)(Effect.gen(function*() {
      yield* turns.closeIntake
      yield* Effect.forEach(adapters, (a) => a.stopIntake.pipe(Effect.exit), { concurrency: "unbounded" })
    }))
  )
  for (const adapter of adapters) {
    yield* adapter.startIntake(meteredIntake(turns.intake, adapter.name), context(adapter.name)).pipe(Effect.provide(TurnDelivery.Live(db)))
  }
  const draining = Effect.map(life.lifecycle, isShuttingDown)
  yield* Effect.forkScoped(runSessionRetention(db, life.settings.sessionRetention, draining))
}))
