// A turn reads its agent's reply by pulling the stream chunk by chunk rather than running it with
// Stream.runCollect and Stream.tap: the same reads in the same order, the same scope around them
// (an interrupted turn still closes the agent's stream), but without building a sink and a second
// channel around it, which cost more per turn than the rest of the turn's own work.
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

/**
 * The stream's elements joined, with `onChunk` told each chunk (as the stream produced it) before
 * the next is pulled. Fails with the stream's error.
 */
export const replyText = <E, R>(
  replies: Stream.Stream<string, E, R>,
  onChunk: ((chunk: Chunk.Chunk<string>) => Effect.Effect<void>) | undefined
): Effect.Effect<string, E, R> =>
  Effect.scoped(Effect.flatMap(Stream.toPull(replies), (pull) => {
    const parts: Array<string> = []
    const loop: Effect.Effect<string, E, R> = Effect.matchEffect(pull, {
      onFailure: Option.match({ onNone: () => Effect.succeed(parts.join("")), onSome: Effect.fail }),
      onSuccess: (chunk) => {
        for (const part of chunk) parts.push(part)
        return onChunk === undefined ? loop : Effect.zipRight(onChunk(chunk), loop)
      }
    })
    return loop
  }))
