// The chat commands: /status answers with the gateway's view, /restart asks the kernel for a
// restart (allowed_users only) and leaves a note so the next life can tell the chat it is back.
// They run beside the chat queues (a long turn must not hold up /status).
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { IntakeContext } from "../Adapter.js"
import type { TelegramUser } from "./BotApi.js"
import {
  type ChatCommand,
  restartedNotice,
  restartingReply,
  restartNotAllowedReply,
  statusReply
} from "./ChatReplies.js"
import type { Delivery } from "./Delivery.js"
import type { HandledUpdates } from "./HandledUpdates.js"
import { mayRestart } from "./UpdateRouting.js"

export interface CommandDeps {
  readonly allowedUsers: ReadonlyArray<number | string>
  readonly updates: HandledUpdates
  readonly delivery: Delivery
  readonly context: IntakeContext
}

export interface CommandRequest {
  readonly command: ChatCommand
  readonly updateId: number
  readonly chatId: number
  readonly from: TelegramUser | undefined
}

/** A /restart older than this when the next life starts is not announced as "restarted". */
export const restartNoticeMaxAgeMillis = 10 * 60_000

const nameOf = (from: TelegramUser | undefined): string =>
  from?.username !== undefined ? `@${from.username}` : `user ${from?.id ?? "unknown"}`

/**
 * Runs one command. The update is marked handled before anything else happens: a /restart
 * redelivered to the next life would restart it again, for ever.
 */
export const runCommand = (deps: CommandDeps, request: CommandRequest): Effect.Effect<void> =>
  Effect.gen(function*() {
    const { chatId } = request
    yield* deps.updates.markHandled(request.updateId)
    if (request.command === "status") {
      const view = yield* deps.context.status
      yield* deps.delivery.sendText(chatId, statusReply(view, yield* Clock.currentTimeMillis))
      return
    }
    const who = nameOf(request.from)
    if (!mayRestart(deps.allowedUsers, request.from)) {
      yield* Effect.logWarning(`telegram: /restart refused for ${who}: not listed in allowed_users`)
      yield* deps.delivery.sendText(chatId, restartNotAllowedReply)
      return
    }
    const requestedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
    yield* deps.updates.noteRestart({ chat_id: chatId, requested_at: requestedAt })
    yield* deps.delivery.sendText(chatId, restartingReply)
    yield* Effect.log(`telegram: /restart from ${who}`)
    yield* deps.context.requestRestart(`telegram /restart by ${who}`)
  }).pipe(Effect.annotateLogs({ chat: String(request.chatId), update: request.updateId }))

/** Whether a notice left at `requestedAt` is recent enough to announce at `nowMillis`. */
export const isFreshRestart = (requestedAt: string, nowMillis: number): boolean => {
  const age = nowMillis - Date.parse(requestedAt)
  return age >= 0 && age <= restartNoticeMaxAgeMillis
}

/**
 * The chat that asked for the restart that ended the previous life is told this one runs. The
 * notice is taken at once (before any new /restart can leave its own); the returned effect sends it.
 */
export const takeRestartAnnouncement = (deps: CommandDeps): Effect.Effect<Effect.Effect<void>> =>
  Effect.gen(function*() {
    const ledger = yield* deps.updates.ledger
    const notice = ledger.takeRestartNotice()
    if (notice === null || !isFreshRestart(notice.requested_at, yield* Clock.currentTimeMillis)) return Effect.void
    return Effect.flatMap(deps.context.status, (view) => deps.delivery.sendText(notice.chat_id, restartedNotice(view.pid)))
  })
