// The per-chat barrier of a Telegram leader with replicas (ChatBarrier.ts): a chat's message waits
// while the chat has an earlier turn another replica left unfinished; the carryover handed over for
// a held chat runs before the message; the pickup is nudged while a turn waits; a chat found clear
// is not asked again in the same term; and a hold ends at its limit.
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import { makeChatBarrier } from "../../../../src/adapters/telegram/ChatBarrier.js"

const setup = (limit = Duration.minutes(2)) =>
  Effect.gen(function*() {
    const unfinished = yield* Ref.make(new Map<number, number>())
    const asked = yield* Ref.make(0)
    const nudges = yield* Ref.make(0)
    const ran = yield* Ref.make<Array<string>>([])
    const barrier = makeChatBarrier<string>({
      unfinished: (chatId) => Effect.zipRight(Ref.update(asked, (n) => n + 1), Effect.map(Ref.get(unfinished), (m) => m.get(chatId) ?? 0)),
      // Running the handed-over resume settles the chat's earlier turn.
      runItem: (item) => Effect.zipRight(Ref.update(ran, (list) => [...list, item]), Ref.set(unfinished, new Map())),
      nudge: Ref.update(nudges, (n) => n + 1),
      recheck: Duration.millis(500),
      limit
    })
    return { barrier, unfinished, asked, nudges, ran }
  })

describe("ChatBarrier", () => {
  it.effect("a message waits for the chat's unfinished earlier turn; the handed-over resume runs first", () =>
    Effect.gen(function*() {
      const { asked, barrier, nudges, ran, unfinished } = yield* setup()
      yield* Ref.set(unfinished, new Map([[7, 1]]))
      const done = yield* Ref.make(false)
      const held = yield* Effect.fork(Effect.zipRight(barrier.hold(7), Effect.zipRight(Ref.update(ran, (l) => [...l, "message"]), Ref.set(done, true))))
      yield* TestClock.adjust(Duration.seconds(2))
      expect(yield* Ref.get(done)).toBe(false)
      expect(yield* Ref.get(nudges)).toBeGreaterThan(0)
      // Another chat is not held.
      expect(yield* barrier.handOver(8, "resume of chat 8")).toBe(false)
      expect(yield* barrier.handOver(7, "resume of chat 7")).toBe(true)
      yield* Fiber.join(held)
      expect(yield* Ref.get(ran)).toEqual(["resume of chat 7", "message"])
      // Clear in this term: asked no more, and nothing more is handed over.
      const before = yield* Ref.get(asked)
      yield* barrier.hold(7)
      expect(yield* Ref.get(asked)).toBe(before)
      expect(yield* barrier.handOver(7, "late")).toBe(false)
      // A new term asks again.
      yield* barrier.beginTerm
      yield* barrier.hold(7)
      expect(yield* Ref.get(asked)).toBe(before + 1)
    }))

  it.effect("a chat without unfinished turns is not held", () =>
    Effect.gen(function*() {
      const { asked, barrier, nudges } = yield* setup()
      yield* barrier.hold(3)
      expect(yield* Ref.get(asked)).toBe(1)
      expect(yield* Ref.get(nudges)).toBe(0)
    }))

  it.effect("a hold ends at its limit when the earlier turn never settles", () =>
    Effect.gen(function*() {
      const { barrier, unfinished } = yield* setup(Duration.seconds(10))
      yield* Ref.set(unfinished, new Map([[5, 1]]))
      const held = yield* Effect.fork(barrier.hold(5))
      yield* TestClock.adjust(Duration.seconds(5))
      expect(held.unsafePoll()).toBeNull()
      yield* TestClock.adjust(Duration.seconds(6))
      yield* Fiber.join(held)
    }))
})
