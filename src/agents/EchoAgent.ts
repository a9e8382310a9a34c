// The echo agent replies with the user's own message after an optional delay (agent.echo.delay):
// no model needed to try the gateway, and a long delay makes drains observable by hand. It ignores
// every generation parameter (max_tokens included: cutting the echo would only hide what was sent)
// and reports no usage, so the HTTP adapter answers with its own word-count estimate.
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { Agent } from "./Agent.js"

export const echoModel = "hermes-echo"

/** Splits text into word-sized chunks that concatenate back to the original. */
export const chunkWords = (text: string): ReadonlyArray<string> => text.match(/\S+\s*|\s+/g) ?? []

export const echoAgent = (delay: Duration.Duration): Layer.Layer<Agent> =>
  Layer.succeed(Agent, {
    model: echoModel,
    respond: (request) => {
      const last = request.messages[request.messages.length - 1]
      const text = last === undefined ? "" : last.content
      // One chunk of words, so a reader gets every word as its own element in one pull: a stream of
      // one element per pull (Stream.fromIterable) cost the turn twice the CPU to read. Split here,
      // not in a Stream.suspend: respond is called by the turn that reads the answer at once.
      const words = Stream.fromChunk(Chunk.unsafeFromArray(chunkWords(text)))
      // No timer at all without a delay: a zero sleep would still cost a trip through the timer queue.
      return Duration.isZero(delay) ? words : Stream.fromEffect(Effect.sleep(delay)).pipe(Stream.flatMap(() => words))
    }
  })
