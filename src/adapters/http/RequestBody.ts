// Reads a request body with a hard size limit. A declared Content-Length over the limit is refused
// before a byte is read; a chunked body is counted as it streams and abandoned at the limit.
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type { Exchange } from "./Exchange.js"

export class BodyTooLarge extends Data.TaggedError("BodyTooLarge")<{
  readonly limit: number
}> {}

/** The client went away (or its connection broke) before the body was complete. */
export class BodyAborted extends Data.TaggedError("BodyAborted")<{
  readonly message: string
}> {}

export const readBody = (exchange: Exchange, limit: number): Effect.Effect<Buffer, BodyTooLarge | BodyAborted> =>
  Effect.suspend(() => {
    const { req, res } = exchange
    const declared = req.headers["content-length"]
    if (declared !== undefined && Number(declared) > limit) {
      return Effect.fail(new BodyTooLarge({ limit }))
    }
    return Effect.async<Buffer, BodyTooLarge | BodyAborted>((resume) => {
      const chunks: Array<Buffer> = []
      let size = 0
      const cleanup = () => {
        req.off("data", onData)
        req.off("end", onEnd)
        req.off("error", onError)
        req.off("close", onClose)
      }
      const onData = (chunk: Buffer) => {
        size += chunk.length
        if (size > limit) {
          cleanup()
          chunks.length = 0
          // Flowing without a listener discards the rest instead of buffering it, which keeps the
          // socket readable until the 413 is written and the connection closed.
          req.resume()
          resume(Effect.fail(new BodyTooLarge({ limit })))
          return
        }
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
