// Stack layer: the turn supervisor. Released as phase 4, drain (up to gateway.drain_timeout or a
// second signal), then phase 5, interrupt_turns (each interrupted turn is recorded). The number of
// running turns goes into the status as it changes, so active_turns and STATUS= follow the drain.
import { formatDuration } from "../config/Duration.js"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { recordActiveTurns } from "../metrics/GatewayMetrics.js"
import { SessionDatabase } from "../sessions/SessionDbService.js"
import { extendTimeout, SystemdNotify, type SystemdNotifyService } from "../supervision/SystemdNotify.js"
import { Life, type LifeService } from "./Life.js"
import { shutdownStartedAt } from "./LifecycleState.js"
import { hardDeadline, stepBounds } from "./ShutdownBudget.js"
import { makeTurnSupervisor, type TurnSupervisor } from "./TurnSupervisor.js"

export class Turns extends Context.Tag("hermes/Turns")<Turns, TurnSupervisor>() {}

/** systemd's stop timeout is extended while turns drain, so it never cuts in before our own hard deadline. */
const extendStopTimeout = (life: LifeService, systemd: SystemdNotifyService) =>
  Effect.gen(function*() {
    const origin = Option.getOrElse(shutdownStartedAt(yield* life.lifecycle), () => 0)
    const left = Duration.toMillis(hardDeadline(life.settings.budget)) - ((yield* Clock.currentTimeMillis) - origin)
    yield* systemd.notify([extendTimeout(left)])
  })

const drainStep = (life: LifeService, systemd: SystemdNotifyService, turns: TurnSupervisor, endedWhileStopping: Ref.Ref<number>) =>
  life.phase("drain")(Effect.scoped(Effect.gen(function*() {
    const { budget } = life.settings
    const active = yield* turns.active
    if (active > 0) yield* Effect.log(`draining ${active} turn(s), deadline ${formatDuration(budget.drain)}`)
    // Ends with the drain's scope; interruptible, though forked from a finalizer.
    if (systemd.enabled) {
      yield* Effect.forkScoped(
        Effect.forever(extendStopTimeout(life, systemd).pipe(Effect.zipRight(Effect.sleep(Duration.seconds(2))))).pipe(Effect.interruptible)
      )
    }
    const result = yield* turns.drain(budget.drain, life.force)
    // Drained: every turn that ended on its own since the stop was decided, those that ended while
    // the earlier phases ran included (the marker's writes do not hold the event loop).
    const drained = yield* Ref.get(endedWhileStopping)
    yield* Ref.update(life.turnCounts, (t) => ({ ...t, drained, drainEnded: result.ended }))
    if (result.ended !== "empty") yield* Effect.logWarning(`drain ended (${result.ended}) with ${result.left} turn(s) still running`)
  })))

const interruptStep = (life: LifeService, turns: TurnSupervisor) =>
  life.phase("interrupt_turns", stepBounds.interruptTurns)(Effect.gen(function*() {
    const { drainEnded } = yield* Ref.get(life.turnCounts)
    const reason = drainEnded === "forced"
      ? "interrupted: shutdown forced by a second signal"
      : drainEnded === "deadline"
      ? `interrupted: drain deadline of ${formatDuration(life.settings.budget.drain)} passed`
      : "interrupted: gateway shutting down"
    const interrupted = yield* turns.interruptAll(reason)
    yield* Ref.update(life.turnCounts, (t) => ({ ...t, interrupted }))
    if (interrupted > 0) yield* Effect.logWarning(`interrupted ${interrupted} turn(s)`)
  }))

export const TurnsLayer = Layer.scoped(
  Turns,
  Effect.gen(function*() {
    const { life, db, systemd } = yield* Effect.all({ life: Life, db: SessionDatabase, systemd: SystemdNotify })
    // A turn counted out while stopping is a turn that ended during the stop; read at the end of
    // the drain, before anything is interrupted.
    const endedWhileStopping = yield* Ref.make(0)
    const countEnd = (change: 1 | -1) =>
      Effect.gen(function*() {
        if (change === -1 && Option.isSome(shutdownStartedAt(yield* life.lifecycle))) {
          yield* Ref.update(endedWhileStopping, (n) => n + 1)
        }
      })
    const turns = yield* makeTurnSupervisor(
      db,
      (change, current) =>
        countEnd(change).pipe(
          // Read as each record is made (RunningCount.ts): the last one made is the current count.
          Effect.zipRight(life.update((status) => ({ ...status, activeTurns: current() }))),
          Effect.zipRight(Effect.suspend(() => recordActiveTurns(current())))
        ),
      { maxInflightTurns: life.settings.maxInflightTurns ?? 0 }
    )
    // Released in reverse: the drain first, then what is left is interrupted.
    yield* Effect.addFinalizer(() => interruptStep(life, turns))
    yield* Effect.addFinalizer(() => drainStep(life, systemd, turns, endedWhileStopping))
    return turns
  })
)
