// How a turn reads its agent's reply (ReplyText.ts): the same text, the same order of chunk
// notifications and pulls, the same failure, and the same closing of the agent's stream as
// Stream.runCollect with Stream.tap gave, which it replaced on the turn path.
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { replyText } from "../../../src/lifecycle/ReplyText.js"

describe("replyText", () => {
  it.effect("joins every chunk, telling each before the next is pulled", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const replies = Stream.fromIterable(["Hello", ", ", "world"]).pipe(
        Stream.rechunk(1),
        Stream.tap((part) => Effect.sync(() => seen.push(`pulled ${part}`)))
      )
      const text = yield* replyText(replies, (chunk) => Effect.sync(() => seen.push(`told ${Chunk.join(chunk, "")}`)))
      expect(text).toBe("Hello, world")
      expect(seen).toEqual(["pulled Hello", "told Hello", "pulled , ", "told , ", "pulled world", "told world"])
    }))

  it.effect("without a listener, only the text", () =>
    Effect.gen(function*() {
      expect(yield* replyText(Stream.fromIterable(["a", "b", "c"]), undefined)).toBe("abc")
      expect(yield* replyText(Stream.empty, undefined)).toBe("")
    }))

  it.effect("fails with the stream's error, after telling what came before it", () =>
    Effect.gen(function*() {
      const told: Array<string> = []
      const replies = Stream.concat(Stream.make("partial"), Stream.fail("agent broke" as const))
      const exit = yield* Effect.exit(replyText(replies, (chunk) => Effect.sync(() => told.push(...chunk))))
      expect(exit).toStrictEqual(Exit.fail("agent broke"))
      expect(told).toEqual(["partial"])
    }))

  it.effect("an interrupted read closes the agent's stream", () =>
    Effect.gen(function*() {
      const firstTold = yield* Deferred.make<void>()
      const closed = yield* Deferred.make<void>()
      const replies = Stream.concat(Stream.make("first"), Stream.never).pipe(Stream.ensuring(Deferred.succeed(closed, undefined)))
      const reading = yield* Effect.fork(replyText(replies, () => Deferred.succeed(firstTold, undefined)))
      yield* Deferred.await(firstTold)
      yield* Fiber.interrupt(reading)
      expect(yield* Deferred.isDone(closed)).toBe(true)
    }))
})
