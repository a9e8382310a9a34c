// The PostgreSQL server lost while the gateway runs: the first operation that fails for want of a
// connection marks the database lost, logs it once, and starts one prober that reconnects with
// backoff (250 ms doubling, at most 10 s apart). Meanwhile every operation fails at once with
// "unreachable" (new turns get 503 with Retry-After, Telegram waits) instead of each request
// waiting for its own connection attempt; the prober's success logs the outage's length and lets
// operations through again. The prober lives in the connection's scope: closing ends it.
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { SessionDbError } from "../SessionDb.js"
import { describeFailure } from "../SessionDbFailure.js"
import { startupProblemOf } from "./PgFailure.js"

/** Pure: the failure is the server being away (refused, reset, timed out), not a bad statement. */
export const isConnectionLoss = (cause: Cause.Cause<unknown>): boolean =>
  [...Cause.failures(cause), ...Cause.defects(cause)].some((error) =>
    !(error instanceof SessionDbError) && startupProblemOf(error) === "unreachable"
  )

/** 250 ms doubling, capped at 10 s between attempts, for as long as it takes. */
export const reconnectSchedule = Schedule.union(Schedule.exponential(Duration.millis(250)), Schedule.spaced(Duration.seconds(10)))

export interface Availability {
  /** Wraps one journal operation: refused at once while lost; a connection failure marks it lost. */
  readonly around: <A, E>(operation: Effect.Effect<A, E>) => Effect.Effect<A, E | SessionDbError>
  /** null while available, else since when (epoch ms) and why it is lost; the current value first. */
  readonly changes: Stream.Stream<LostState | null>
}

export interface LostState {
  readonly since: number
  readonly why: string
}

export const makeAvailability = (options: {
  readonly label: string
  /** One round trip to the server. */
  readonly probe: Effect.Effect<void, unknown>
  /** The connection's scope: the prober is interrupted when it closes. */
  readonly scope: Scope.Scope
}): Effect.Effect<Availability> =>
  Effect.gen(function*() {
    /** null while available; else when it was lost (epoch ms) and why. */
    const lost = yield* SubscriptionRef.make<LostState | null>(null)

    const reconnect = (since: number) =>
      options.probe.pipe(
        Effect.retry(reconnectSchedule),
        Effect.zipRight(Clock.currentTimeMillis),
        Effect.flatMap((now) =>
          Effect.zipRight(
            SubscriptionRef.set(lost, null),
            Effect.log(`session database ${options.label} is back after ${((now - since) / 1000).toFixed(1)}s; new turns are accepted again`)
          )
        )
      )

    const markLost = (cause: Cause.Cause<unknown>) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const why = describeFailure(Cause.squash(cause))
        const first = yield* SubscriptionRef.modify(lost, (state) => (state === null ? [true, { since: now, why }] : [false, state]))
        if (!first) return
        yield* Effect.logError(
          `session database ${options.label} lost: ${why}; new turns are refused (HTTP 503) until it is back; reconnecting with backoff`
        )
        // Interruptible: it is forked from inside an uninterruptible journal operation, and closing
        // the database must be able to end it.
        yield* Effect.forkIn(Effect.interruptible(reconnect(now)), options.scope)
      })

    const refusal = (state: { readonly since: number; readonly why: string }) =>
      new SessionDbError({
        message: `session database ${options.label} is unreachable since ${new Date(state.since).toISOString()} (${state.why}); reconnecting`,
        reason: "unreachable"
      })

    const around = <A, E>(operation: Effect.Effect<A, E>): Effect.Effect<A, E | SessionDbError> =>
      Effect.flatMap(SubscriptionRef.get(lost), (state): Effect.Effect<A, E | SessionDbError> =>
        state !== null
          ? Effect.fail(refusal(state))
          : operation.pipe(Effect.tapErrorCause((cause) => (isConnectionLoss(cause) ? markLost(cause) : Effect.void))))

    return { around, changes: lost.changes }
  })
