// The moment of a restart when no gateway holds the home: the old incarnation has written its final
// state (stopped, restart_requested) and released the lock, and its successor is not up yet. A stop
// or restart asked then must not answer "not running": the gateway is coming back. `stop` stops the
// thin parent that is starting the successor (it passes the planned stop on) or, once up, the
// successor itself; `restart` waits for the successor of the restart already under way.
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type FileReading, readJsonSync } from "../home/AtomicFile.js"
import { GatewayStateDocument } from "../home/GatewayStateFile.js"
import type { HomePaths } from "../home/HomePaths.js"
import type { ProcessIdentity } from "../home/ProcessIdentity.js"
import { findGateway } from "./GatewayTarget.js"

/** How long after the old gateway's final state a successor is still expected. */
export const handOffWindowMs = 30_000

export interface HandOff {
  /** The incarnation that asked to be restarted. */
  readonly old: ProcessIdentity
  /** When its final state was written (ms). */
  readonly since: number
}

/** A restart under way, read from the state file: pure, for tests. */
export const handOffOf = (state: FileReading<GatewayStateDocument>, nowMs: number): Option.Option<HandOff> => {
  if (state._tag !== "Valid") return Option.none()
  const doc = state.value
  const since = Date.parse(doc.updated_at)
  if (doc.gateway_state !== "stopped" || !doc.restart_requested || doc.pid === null || doc.start_time === null) return Option.none()
  if (!Number.isFinite(since) || nowMs - since > handOffWindowMs || nowMs - since < -handOffWindowMs) return Option.none()
  return Option.some({ old: { pid: doc.pid, startTime: doc.start_time }, since })
}

export const readHandOff = (paths: HomePaths): Effect.Effect<Option.Option<HandOff>> =>
  Clock.currentTimeMillis.pipe(Effect.map((now) => handOffOf(readJsonSync(paths.state, GatewayStateDocument), now)))

/**
 * Whom to stop while a restart is under way: the successor, once it holds the home. The old
 * incarnation has given up the home's lock by then, so it can no longer prove it is this home's
 * gateway and is never signalled (GatewayTarget.ts); a successor that holds the lock has claimed
 * its signals and classifies the marked stop itself. None when no restart is under way, or when
 * no successor came within the hand-off window.
 */
export const stopTargetDuringHandOff = (paths: HomePaths): Effect.Effect<Option.Option<ProcessIdentity>> =>
  Effect.gen(function*() {
    const target = yield* findGateway(paths)
    if (target._tag === "Running") return Option.some(target.identity)
    const handOff = yield* readHandOff(paths)
    if (Option.isNone(handOff)) return Option.none()
    yield* Effect.sleep(Duration.millis(100))
    return yield* stopTargetDuringHandOff(paths)
  })
