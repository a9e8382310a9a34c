import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import type { BotApi } from "../../../../src/adapters/telegram/BotApi.js"
import { BotApiRateLimited } from "../../../../src/adapters/telegram/BotApi.js"
import { makeDelivery } from "../../../../src/adapters/telegram/Delivery.js"

/** A Bot API whose sendMessage waits for `release` (after saying it started), and counts its calls. */
const heldApi = (started: Deferred.Deferred<void>, release: Deferred.Deferred<void>) => {
  const calls: Array<string> = []
  const api: BotApi = {
    call: (method) =>
      Effect.gen(function*() {
        calls.push(method)
        yield* Deferred.succeed(started, undefined)
        yield* Deferred.await(release)
        return { message_id: 1 } as any
      })
  }
  return { api, calls }
}

const options = (api: BotApi) => ({
  api,
  retry: { base: Duration.seconds(1), cap: Duration.seconds(30) },
  sendAttempts: 3,
  typingInterval: Duration.seconds(4)
})

describe("Delivery", () => {
  it.effect("repliesSettled waits for a reply on its way, and returns as soon as it is out", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const delivery = yield* makeDelivery(options(heldApi(started, release).api))
      // Nothing on its way: at once.
      yield* delivery.repliesSettled(Duration.seconds(2))
      const sending = yield* Effect.fork(delivery.sendText(1, "answer"))
      yield* Deferred.await(started)
      const settled = yield* Effect.fork(delivery.repliesSettled(Duration.seconds(2)))
      yield* TestClock.adjust(Duration.millis(1_999))
      expect(settled.unsafePoll()).toBeNull()
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(settled)
      expect(yield* Fiber.join(sending)).toBe(true)
    }))

  it.effect("repliesSettled gives up after the grace when a reply never goes out", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const delivery = yield* makeDelivery(options(heldApi(started, yield* Deferred.make<void>()).api))
      yield* Effect.fork(delivery.sendText(1, "stuck"))
      yield* Deferred.await(started)
      const settled = yield* Effect.fork(delivery.repliesSettled(Duration.seconds(2)))
      yield* TestClock.adjust(Duration.seconds(2))
      yield* Fiber.join(settled)
    }))

  it.effect("a send rate-limited to the end is not settled (the next life sends it); each wait is Telegram's", () =>
    Effect.gen(function*() {
      const at: Array<number> = []
      const api: BotApi = {
        call: (method) =>
          Effect.flatMap(TestClock.currentTimeMillis, (now) => {
            at.push(now)
            return Effect.fail(new BotApiRateLimited({ method, status: 429, message: `${method} failed: 429`, retryAfter: Duration.seconds(10) }))
          })
      }
      const delivery = yield* makeDelivery(options(api))
      const sending = yield* Effect.fork(delivery.sendText(1, "answer"))
      yield* TestClock.adjust(Duration.seconds(20))
      expect(yield* Fiber.join(sending)).toBe(false)
      expect(at).toEqual([0, 10_000, 20_000])
    }))
})
