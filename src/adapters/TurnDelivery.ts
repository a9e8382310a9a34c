// Where a push platform's answers go and whether they arrived, recorded with the turn so a later
// life neither loses an answer nor sends it twice. Separate from running turns: an answer is
// delivered (or carried over and delivered by the next life) after its turn has ended.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { TurnIds } from "./TurnIntake.js"
import type { SessionDbService } from "../sessions/SessionDb.js"

export interface TurnDeliveryService {
  /**
   * The platform's message the answer will be delivered into (see SessionDbService.setReplyRef).
   * Never fails; a failure is logged and the answer then goes out as a new message.
   */
  readonly replyRef: (ids: TurnIds, ref: string) => Effect.Effect<void>
  /**
   * The turn's final answer reached the chat, so a restart does not send it again. Never fails; a
   * failure to record it is logged (the answer may then be sent once more).
   */
  readonly delivered: (ids: TurnIds) => Effect.Effect<void>
}

/** Delivery bookkeeping on the journal: failures are logged, never passed to the platform. */
export const turnDeliveryOn = (db: Pick<SessionDbService, "markDelivered" | "setReplyRef">): TurnDeliveryService => ({
  delivered: (ids) =>
    db.markDelivered(ids).pipe(
      Effect.catchAll((error) =>
        Effect.logWarning(`could not record that turn ${ids.turnId} was delivered (it may be sent again after a restart): ${error.message}`)
      )
    ),
  replyRef: (ids, ref) =>
    db.setReplyRef(ids, ref).pipe(
      Effect.catchAll((error) =>
        Effect.logWarning(`could not record where turn ${ids.turnId}'s answer goes (it will be sent as a new message): ${error.message}`)
      )
    )
})

export class TurnDelivery extends Context.Tag("hermes/TurnDelivery")<TurnDelivery, TurnDeliveryService>() {
  /** Over the gateway's SessionDB. */
  static readonly Live = (db: Pick<SessionDbService, "markDelivered" | "setReplyRef">): Layer.Layer<TurnDelivery> =>
    Layer.succeed(TurnDelivery, turnDeliveryOn(db))
}
