// Telegram across replicas: a chat's messages are answered in order across a failover. When a
// leader is SIGKILLed in the middle of a chat's turn, the new leader gets the chat's later messages
// at once, while that turn stays `running` (owned by the dead replica) until the dead replica's
// lease expires, is recovered to `resume_pending` and only then is resumed by the carryover pickup.
// Answering the later messages meanwhile would put their answers before the earlier one.
//
// So before a chat's first message of a leadership term, the chat's worker asks the database
// whether the chat has an unfinished turn (`running` elsewhere, or `resume_pending`). While it has,
// the message waits (nothing recorded, nothing acknowledged: Telegram and the ledger still hold
// it), and the chat's later messages wait behind it in the worker's queue. The carryover the pickup
// finds for a held chat is handed to the waiting worker and run there, ahead of the message (queued
// behind it, it would never run), and the pickup is asked to look at once whenever the database
// says a turn of the chat waits to be resumed. The dead replica's turn is recovered only by the
// replicas' own recovery, once its lease has expired: a live replica's turn is never taken here.
//
// Once a chat was found clear in a term it is not asked again in that term: while this replica
// leads, no other replica starts a telegram turn, so nothing unfinished can appear behind it. One
// query per chat and term keeps the normal case cheap. A hold has a limit (a turn that can never be
// resumed, e.g. its session suspended) after which the message goes in anyway, with a warning.
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"

export interface ChatBarrierOptions<Item> {
  /** How many earlier turns of the chat are unfinished (`running` or `resume_pending`); fails when unknown. */
  readonly unfinished: (chatId: number) => Effect.Effect<number, unknown>
  /** Runs a carryover item of a held chat in the chat's worker, ahead of the held message. */
  readonly runItem: (item: Item) => Effect.Effect<void>
  /** Asks the carryover pickup to look now (a turn of a held chat waits to be resumed). */
  readonly nudge: Effect.Effect<void>
  /** How often a held chat asks again. */
  readonly recheck: Duration.Duration
  /** How long a message waits at most. */
  readonly limit: Duration.Duration
}

export interface ChatBarrier<Item> {
  /** A new leadership term: every chat is asked again before its next message. */
  readonly beginTerm: Effect.Effect<void>
  /** Returns once the chat has no unfinished earlier turn (or the limit passed). */
  readonly hold: (chatId: number) => Effect.Effect<void>
  /** True when the chat is held and took `item` (run before its message); else the caller queues it. */
  readonly handOver: (chatId: number, item: Item) => Effect.Effect<boolean>
}

export const makeChatBarrier = <Item>(options: ChatBarrierOptions<Item>): ChatBarrier<Item> => {
  const clear = new Set<number>()
  const held = new Map<number, Queue.Queue<Item>>()

  const runWaiting = (mailbox: Queue.Queue<Item>) =>
    Effect.flatMap(Queue.takeAll(mailbox), (items) => Effect.forEach(items, options.runItem, { discard: true }))

  /** The count, or null while the database cannot tell. */
  const ask = (chatId: number) =>
    options.unfinished(chatId).pipe(
      Effect.catchAllCause((cause) => Effect.as(Effect.logDebug(`telegram: cannot read chat ${chatId}'s unfinished turns`, cause), null))
    )

  const wait = (chatId: number, mailbox: Queue.Queue<Item>) =>
    Effect.gen(function*() {
      const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(options.limit)
      let told = false
      let count = yield* ask(chatId)
      while (count !== 0) {
        if ((yield* Clock.currentTimeMillis) >= deadline) {
          return yield* Effect.logWarning(
            `telegram: chat ${chatId} still has ${count ?? "an unknown number of"} unfinished earlier turn(s) after ` +
              `${Duration.format(options.limit)}; its next message goes in anyway`
          )
        }
        if (!told && count !== null) {
          told = true
          yield* Effect.log(`telegram: chat ${chatId} waits for ${count} earlier turn(s) another replica left unfinished`)
        }
        if (count !== null) yield* options.nudge
        // A handed-over item wakes the wait at once.
        const item = yield* Effect.timeoutOption(Queue.take(mailbox), options.recheck)
        if (item._tag === "Some") yield* options.runItem(item.value)
        yield* runWaiting(mailbox)
        count = yield* ask(chatId)
      }
      if (told) yield* Effect.log(`telegram: chat ${chatId}'s earlier turns are settled; its messages go on`)
    })

  const hold = (chatId: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (clear.has(chatId)) return Effect.void
      return Effect.gen(function*() {
        const mailbox = yield* Queue.unbounded<Item>()
        held.set(chatId, mailbox)
        yield* wait(chatId, mailbox).pipe(
          Effect.ensuring(Effect.sync(() => {
            held.delete(chatId)
            clear.add(chatId)
          }))
        )
        // Handed over after the last look: run before the message all the same.
        yield* runWaiting(mailbox)
      })
    })

  const handOver = (chatId: number, item: Item): Effect.Effect<boolean> =>
    Effect.suspend(() => {
      const mailbox = held.get(chatId)
      return mailbox === undefined ? Effect.succeed(false) : Effect.as(Queue.offer(mailbox, item), true)
    })

  return { beginTerm: Effect.sync(() => clear.clear()), hold, handOver }
}
