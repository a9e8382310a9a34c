// Who the bot is (getMe), and any webhook removed (it makes getUpdates fail with 409; pending updates
// are kept). Tried once by connect; when the Bot API could not be reached then, the poller's first
// step tries again with the retry schedule.
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { type BotApi, type BotApiError, isTokenRejected, TelegramUser } from "./BotApi.js"
import type { RetryPolicy } from "./BotApiRetry.js"
import { retryWhileReachable, tokenRejectedMessage } from "./Poller.js"
import type { StatusCell } from "./TelegramStatus.js"

export const handshake = (api: BotApi, cell: StatusCell): Effect.Effect<TelegramUser, BotApiError> =>
  Effect.gen(function*() {
    const me = yield* api.call("getMe", {}, TelegramUser)
    yield* api.call("deleteWebhook", { drop_pending_updates: false }, Schema.Unknown).pipe(
      Effect.catchAll((error) =>
        isTokenRejected(error)
          ? Effect.fail(error)
          : Effect.logWarning(`telegram: could not remove a webhook (long polling may fail with 409): ${error.message}`)
      )
    )
    yield* cell.patch({ bot: me.username ?? null, error: null, retryInMs: null })
    return me
  })

/** The handshake until it succeeds; false when the token turns out to be rejected (state "failed"). */
export const handshakeWithRetry = (
  api: BotApi,
  cell: StatusCell,
  policy: RetryPolicy,
  tokenEnv: string
): Effect.Effect<boolean> =>
  retryWhileReachable(handshake(api, cell), cell, policy).pipe(
    Effect.tap((me) => Effect.log(`telegram: connected to the Bot API as ${me.username ?? String(me.id)}`)),
    Effect.as(true),
    Effect.catchAll((error) => {
      const message = tokenRejectedMessage(tokenEnv, error)
      return Effect.zipRight(
        cell.patch({ state: "failed", error: message, retryInMs: null }),
        Effect.logError(`telegram: ${message}; not polling until the gateway is restarted with a valid token`)
      ).pipe(Effect.as(false))
    })
  )
