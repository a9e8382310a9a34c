// The Telegram leader's pickup of turns replicas left behind (CarryoverPickup.ts): an answer still
// on its way from this replica (its chat busy, or busy at any moment since the backlog was read) is
// not delivered a second time, nor one first seen undelivered in this pass (another replica may be
// sending it); an item already queued is not queued again until it is done; a resume is always
// taken (the database claims it).
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import type { Carryover } from "../../../../src/adapters/Adapter.js"
import { makeCarryoverPickup, makeChatActivity } from "../../../../src/adapters/telegram/CarryoverPickup.js"

const deliver = (turnId: string, chatKey: string): Carryover => ({
  _tag: "Deliver",
  ids: { turnId, sessionId: `s-${chatKey}` },
  chatKey,
  inbound: "hi",
  outcome: "completed",
  text: "hello",
  replyRef: null
})

const resume = (turnId: string, chatKey: string): Carryover => ({
  _tag: "Resume",
  ids: { turnId, sessionId: `s-${chatKey}` },
  chatKey,
  inbound: "hi",
  startedAt: "2026-12-05T00:00:00.000Z",
  replyRef: null
})

describe("ChatActivity", () => {
  it.effect("a chat is quiet since a mark only when no job ran or runs there after it", () =>
    Effect.gen(function*() {
      const activity = makeChatActivity()
      const before = activity.mark()
      expect(activity.quietSince(before, 1)).toBe(true)
      const release = yield* Deferred.make<void>()
      const running = yield* Effect.fork(activity.around(1, Deferred.await(release)))
      yield* Effect.yieldNow()
      expect(activity.quietSince(before, 1)).toBe(false)
      const during = activity.mark()
      expect(activity.quietSince(during, 1)).toBe(false)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(running)
      // Ended after the mark: something was done for the chat since.
      expect(activity.quietSince(during, 1)).toBe(false)
      expect(activity.quietSince(activity.mark(), 1)).toBe(true)
      expect(activity.quietSince(before, 2)).toBe(true)
    }))
})

describe("CarryoverPickup", () => {
  it.effect("skips answers of busy chats, never queues one item twice, and always takes resumes", () =>
    Effect.gen(function*() {
      const activity = makeChatActivity()
      const offered = yield* Ref.make<ReadonlyArray<string>>([])
      const dones = new Map<string, Effect.Effect<void>>()
      const backlog = [deliver("t-quiet", "10"), deliver("t-busy", "20"), resume("t-resume", "20"), deliver("t-bad", "not-a-chat")]
      const pickup = makeCarryoverPickup({
        activity,
        carryoverNow: Effect.succeed(backlog),
        offer: (_chatId, item, done) =>
          Effect.sync(() => dones.set(item.ids.turnId, done)).pipe(Effect.zipRight(Ref.update(offered, (list) => [...list, item.ids.turnId])))
      })
      const release = yield* Deferred.make<void>()
      const busy = yield* Effect.fork(activity.around(20, Deferred.await(release)))
      yield* Effect.yieldNow()

      yield* pickup.pickUp
      expect(yield* Ref.get(offered)).toEqual(["t-resume"])
      yield* pickup.pickUp
      expect(yield* Ref.get(offered)).toEqual(["t-resume", "t-quiet"])
      yield* pickup.pickUp
      expect(yield* Ref.get(offered)).toEqual(["t-resume", "t-quiet"])

      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(busy)
      yield* dones.get("t-quiet")!
      yield* pickup.pickUp
      expect(yield* Ref.get(offered)).toEqual(["t-resume", "t-quiet", "t-quiet", "t-busy"])
    }))

  it.effect("resumeNow takes resumes only and leaves the answers' two-pass rule to the regular passes", () =>
    Effect.gen(function*() {
      const offered = yield* Ref.make<ReadonlyArray<string>>([])
      const pickup = makeCarryoverPickup({
        activity: makeChatActivity(),
        carryoverNow: Effect.succeed([deliver("t-answer", "10"), resume("t-resume", "20")]),
        offer: (_chatId, item) => Ref.update(offered, (list) => [...list, item.ids.turnId])
      })
      yield* pickup.resumeNow
      expect(yield* Ref.get(offered)).toEqual(["t-resume"])
      // Not a pass for answers: the first regular pass still only sees the answer once.
      yield* pickup.resumeNow
      yield* pickup.pickUp
      expect(yield* Ref.get(offered)).toEqual(["t-resume"])
      yield* pickup.pickUp
      expect(yield* Ref.get(offered)).toEqual(["t-resume", "t-answer"])
    }))
})
