// Telegram across replicas: the turns a replica left behind are the Telegram leader's to finish,
// whichever replica ran them. On becoming leader, and then every `interval` while it leads, the
// leader reads the telegram platform's carryover from the database as the kernel plans it
// (IntakeContext.carryoverNow: resume within gateway.resume_window, or expired and reported; or an
// answer recorded but never delivered) and queues each on its chat, as a single gateway does at
// start. A resumed turn is claimed in the database by the resume itself (resume_pending → running
// fails for every caller but one), so two replicas never run it twice.
//
// An answer this replica is delivering right now is in the backlog too (undelivered until Telegram
// has it). ChatActivity tells them apart: an item is taken only when its chat had no job running
// here from before the backlog was read until after, so whatever this replica did for that chat
// was recorded (delivered) before the read. Items already queued here are not queued again. An
// answer another live replica is still sending (a leader that resigned and drains) cannot be seen
// that way: an answer is delivered only once it was undelivered in two passes in a row (at least
// one interval apart), by which time its owner has sent it or is gone. The turn's owner and lease
// (replicas) will make that exact.
import * as Effect from "effect/Effect"
import type { Carryover } from "../Adapter.js"

/** Each chat's jobs as they start and end, to tell whether a chat was quiet over a stretch of time. */
export interface ChatActivity {
  /** Runs a chat's job, counted from its start to its end. */
  readonly around: <A, E>(chatId: number, job: Effect.Effect<A, E>) => Effect.Effect<A, E>
  /** A mark to compare with later. */
  readonly mark: () => ReadonlyMap<number, number>
  /** No job of the chat is running now, and none started or ended since `mark`. */
  readonly quietSince: (mark: ReadonlyMap<number, number>, chatId: number) => boolean
}

export const makeChatActivity = (): ChatActivity => {
  /** Bumped at every start and every end: odd while a job runs (jobs of one chat run one at a time). */
  const events = new Map<number, number>()
  const bump = (chatId: number) => Effect.sync(() => events.set(chatId, (events.get(chatId) ?? 0) + 1))
  return {
    around: (chatId, job) => Effect.acquireUseRelease(bump(chatId), () => job, () => bump(chatId)),
    mark: () => new Map(events),
    quietSince: (mark, chatId) => {
      const now = events.get(chatId) ?? 0
      return now % 2 === 0 && now === (mark.get(chatId) ?? 0)
    }
  }
}

export interface CarryoverPickup {
  /** One pass: reads the carryover and queues what is not being handled here. */
  readonly pickUp: Effect.Effect<void>
  /**
   * Resumes only, at once (a chat waits for its earlier turn, ChatBarrier.ts); answers to deliver
   * are left to the regular passes, whose spacing tells this replica's own answers apart.
   */
  readonly resumeNow: Effect.Effect<void>
}

export const makeCarryoverPickup = (options: {
  readonly activity: ChatActivity
  /** The platform's carryover as the database holds it now. */
  readonly carryoverNow: Effect.Effect<ReadonlyArray<Carryover>>
  /** Queues an item on its chat; `done` runs once the item has been dealt with (or abandoned). */
  readonly offer: (chatId: number, item: Carryover, done: Effect.Effect<void>) => Effect.Effect<void>
}): CarryoverPickup => {
  const queued = new Set<string>()
  /** Answers seen undelivered in the previous pass. */
  let undeliveredBefore = new Set<string>()
  const pass = (resumesOnly: boolean) => Effect.gen(function*() {
    const mark = options.activity.mark()
    const items = yield* options.carryoverNow
    const taken = { resume: 0, deliver: 0 }
    const seenBefore = undeliveredBefore
    if (!resumesOnly) undeliveredBefore = new Set(items.filter((item) => item._tag === "Deliver").map((item) => item.ids.turnId))
    for (const item of items) {
      if (resumesOnly && item._tag !== "Resume") continue
      const turnId = item.ids.turnId
      const chatId = Number(item.chatKey)
      if (queued.has(turnId) || !Number.isSafeInteger(chatId)) continue
      // A resume is claimed by the database; an answer to deliver may be this replica's own, on its way.
      if (item._tag === "Deliver" && (!seenBefore.has(turnId) || !options.activity.quietSince(mark, chatId))) continue
      queued.add(turnId)
      taken[item._tag === "Resume" ? "resume" : "deliver"]++
      yield* options.offer(chatId, item, Effect.sync(() => queued.delete(turnId)))
    }
    if (taken.resume + taken.deliver > 0) {
      yield* Effect.log(`telegram: turns left behind picked up: resume=${taken.resume} deliver=${taken.deliver}`)
    }
  })
  return { pickUp: pass(false), resumeNow: pass(true) }
}
