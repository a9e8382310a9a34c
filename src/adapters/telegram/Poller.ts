// The long poll: getUpdates as a Stream of batches, each asked from the ledger's offset at that
// moment, every failed call retried through the retry schedule (state "retrying" with the error
// and the wait) until the Bot API answers again. A token rejected while polling ends the stream
// (state "failed"): retrying cannot help until the operator fixes the token.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { type BotApi, type BotApiError, isTokenRejected, TelegramUpdate, UpdateBatch } from "./BotApi.js"
import { retrySchedule, type RetryPolicy } from "./BotApiRetry.js"
import type { HandledUpdates } from "./HandledUpdates.js"
import type { StatusCell } from "./TelegramStatus.js"

export const tokenRejectedMessage = (tokenEnv: string, error: BotApiError): string =>
  `the bot token in $${tokenEnv} was rejected by the Telegram Bot API (${error.status}); check the token from @BotFather`

/** Why a 409 happens, for the operator reading the log. */
const hintFor = (error: BotApiError): string =>
  error._tag === "BotApiConflict" ? " (another getUpdates poller or a webhook holds this bot token)" : ""

/**
 * `call` retried until it succeeds or the token is rejected, each wait shown in the status
 * ("retrying", the error, the delay) and logged; a success after failures says so.
 */
export const retryWhileReachable = <A>(
  call: Effect.Effect<A, BotApiError>,
  cell: StatusCell,
  policy: RetryPolicy
): Effect.Effect<A, BotApiError> =>
  Effect.gen(function*() {
    const failed = yield* Ref.make(false)
    const announced = retrySchedule(policy).pipe(
      Schedule.modifyDelayEffect((error, delay) => {
        const wait = Duration.toMillis(delay)
        return Effect.all([
          Ref.set(failed, true),
          cell.patch({ state: "retrying", error: error.message, retryInMs: wait }),
          Effect.logWarning(`telegram: ${error.message}${hintFor(error)}; retrying in ${Math.round(wait)}ms`)
        ]).pipe(Effect.as(delay))
      })
    )
    const result = yield* Effect.retry(call, { schedule: announced, while: (error) => !isTokenRejected(error) })
    if (yield* Ref.get(failed)) yield* Effect.logInfo("telegram: the Bot API answers again")
    return result
  })

const decodeUpdate = Schema.decodeUnknownOption(TelegramUpdate)

/** getUpdates batches, for ever; `offset` is read before each call (it moves as updates are handled). */
export const updateBatches = <E>(
  offset: Effect.Effect<number>,
  fetch: (offset: number) => Effect.Effect<ReadonlyArray<unknown>, E>
): Stream.Stream<ReadonlyArray<unknown>, E> => Stream.repeatEffect(Effect.flatMap(offset, fetch))

export interface PollerOptions {
  readonly api: BotApi
  readonly cell: StatusCell
  readonly updates: HandledUpdates
  readonly retry: RetryPolicy
  readonly tokenEnv: string
  /** getUpdates' long-poll timeout, in whole seconds. */
  readonly pollSeconds: number
  /**
   * While some update waits for its chat's previous turn, getUpdates answers at once with it
   * again: the poller then asks at this interval instead of spinning.
   */
  readonly pendingPollInterval: Duration.DurationInput
  /** Takes one new update (routes it to a chat worker, a command, or marks it handled). */
  readonly dispatch: (update: TelegramUpdate) => Effect.Effect<void>
}

/** Polls until interrupted, or until the token is rejected (then state "failed"). */
export const runPoller = (options: PollerOptions): Effect.Effect<void> =>
  Effect.gen(function*() {
    const { api, cell, updates } = options
    const ledger = yield* updates.ledger
    const fetch = (offset: number) =>
      retryWhileReachable(
        api.call(
          "getUpdates",
          { offset, timeout: options.pollSeconds, allowed_updates: ["message"] },
          UpdateBatch,
          // The long poll itself may take pollSeconds; the bound is for a Bot API that never answers.
          Duration.seconds(options.pollSeconds + 10)
        ),
        cell,
        options.retry
      ).pipe(Effect.tap(() => cell.patch({ state: "polling", error: null, retryInMs: null })))

    const takeBatch = (batch: ReadonlyArray<unknown>) =>
      Effect.gen(function*() {
        let fresh = 0
        for (const raw of batch) {
          // Without a usable update_id there is nothing to acknowledge it by.
          const update = decodeUpdate(raw)
          if (Option.isNone(update)) continue
          const id = update.value.update_id
          if (!ledger.isNew(id)) {
            yield* updates.markSkipped(id)
            continue
          }
          fresh += 1
          ledger.dispatched(id)
          yield* options.dispatch(update.value)
        }
        // Only updates still waiting for their chat came back: Telegram would answer at once again.
        if (fresh === 0 && batch.length > 0) yield* Effect.sleep(options.pendingPollInterval)
      })

    yield* updateBatches(Effect.sync(() => ledger.offset()), fetch).pipe(
      Stream.runForEach(takeBatch),
      Effect.catchAll((error) => {
        // Revoked while running (e.g. /revoke at @BotFather): retrying cannot help.
        const message = tokenRejectedMessage(options.tokenEnv, error)
        return Effect.zipRight(
          cell.patch({ state: "failed", error: message, retryInMs: null }),
          Effect.logError(`telegram: ${message}; not polling until the gateway is restarted with a valid token`)
        )
      })
    )
  })
