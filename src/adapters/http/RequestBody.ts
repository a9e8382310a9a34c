// Reads a request body with a hard size limit and within the adapter's memory budget. A declared
// Content-Length over the limit, or one the budget cannot hold, is refused before a byte is read;
// a chunked body is counted as it streams and abandoned at either bound.
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type { BodyBudget } from "./BodyBudget.js"
import type { Exchange } from "./Exchange.js"

export class BodyTooLarge extends Data.TaggedError("BodyTooLarge")<{
  readonly limit: number
}> {}

/** The client went away (or its connection broke) before the body was complete. */
export class BodyAborted extends Data.TaggedError("BodyAborted")<{
  readonly message: string
}> {}

/** Bodies already being received hold the whole budget: this one would exceed it. */
export class BudgetExhausted extends Data.TaggedError("BudgetExhausted")<{
  readonly budget: number
}> {}

/**
 * The body handed to `use`, counted against `budget` from the first byte (or from the declared
 * length) until `use` ends, however it ends, so the bytes stay counted while the caller still
 * decodes them. (Released with Effect.ensuring, not a Scope: a scope per request cost more than
 * reading the body.)
 */
export const readBody = <A, E>(
  exchange: Exchange,
  limit: number,
  budget: BodyBudget,
  use: (body: Buffer) => Effect.Effect<A, E>
): Effect.Effect<A, E | BodyTooLarge | BodyAborted | BudgetExhausted> =>
  Effect.suspend(() => {
    // What this body holds of the budget; given back when `use` ends (or the read fails).
    const held = { bytes: 0 }
    return Effect.ensuring(
      Effect.flatMap(receive(exchange, limit, budget, held), use),
      Effect.sync(() => budget.release(held.bytes))
    )
  })

const receive = (
  exchange: Exchange,
  limit: number,
  budget: BodyBudget,
  held: { bytes: number }
): Effect.Effect<Buffer, BodyTooLarge | BodyAborted | BudgetExhausted> =>
  Effect.gen(function*() {
    const { req, res } = exchange
    const header = req.headers["content-length"]
    const declared = header === undefined || !Number.isSafeInteger(Number(header)) ? undefined : Number(header)
    if (declared !== undefined && declared > limit) {
      return yield* Effect.fail(new BodyTooLarge({ limit }))
    }
    const reserve = (bytes: number): boolean => {
      if (!budget.reserve(bytes)) return false
      held.bytes += bytes
      return true
    }
    if (declared !== undefined && !reserve(declared)) {
      return yield* Effect.fail(new BudgetExhausted({ budget: budget.limit }))
    }
    return yield* Effect.async<Buffer, BodyTooLarge | BodyAborted | BudgetExhausted>((resume) => {
      const chunks: Array<Buffer> = []
      let size = 0
      const cleanup = () => {
        req.off("data", onData)
        req.off("end", onEnd)
        req.off("error", onError)
        req.off("close", onClose)
      }
      const abandon = (error: BodyTooLarge | BudgetExhausted) => {
        cleanup()
        chunks.length = 0
        // Flowing without a listener discards the rest instead of buffering it, which keeps the
        // socket readable until the refusal is written and the connection closed.
        req.resume()
        resume(Effect.fail(error))
      }
      const onData = (chunk: Buffer) => {
        size += chunk.length
        if (size > limit) return abandon(new BodyTooLarge({ limit }))
        // A body without a declared length (chunked) takes from the budget as it grows.
        if (size > held.bytes && !reserve(size - held.bytes)) return abandon(new BudgetExhausted({ budget: budget.limit }))
        chunks.push(chunk)
      }
      const onEnd = () => {
        cleanup()
        resume(Effect.succeed(Buffer.concat(chunks, size)))
      }
      const onError = (error: Error) => {
        cleanup()
        resume(Effect.fail(new BodyAborted({ message: error.message })))
      }
      const onClose = () => {
        cleanup()
        resume(Effect.fail(new BodyAborted({ message: "connection closed before the body was complete" })))
      }
      req.on("data", onData)
      req.on("end", onEnd)
      req.on("error", onError)
      req.on("close", onClose)
      if (exchange.expectsContinue && !res.headersSent) res.writeContinue()
      return Effect.sync(cleanup)
    })
  })
