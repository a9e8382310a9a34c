// One request/response pair in flight, as the adapter tracks it for drain and shutdown, and the
// ways to answer it. Answers never throw: a client that went away is not a handler failure.
import type { IncomingMessage, ServerResponse } from "node:http"
import type { RequestRejected } from "./RequestRejected.js"
import type { EventStream } from "./ServerSentEvents.js"

export interface Exchange {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  /** The client sent `Expect: 100-continue`: it waits for our go-ahead before sending the body. */
  readonly expectsContinue: boolean
  /** Set once a streaming answer has started, so shutdown can write to it. */
  events: EventStream | undefined
}

export const makeExchange = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): Exchange => ({
  req,
  res,
  expectsContinue,
  events: undefined
})

export const isAnswerable = (exchange: Exchange): boolean =>
  !exchange.res.headersSent && !exchange.res.writableEnded && !exchange.res.destroyed

export const sendJson = (
  exchange: Exchange,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {}
): void => {
  if (!isAnswerable(exchange)) return
  const payload = JSON.stringify(body)
  try {
    exchange.res.writeHead(status, {
      ...headers,
      "Content-Type": "application/json; charset=utf-8",
      "Content-Length": String(Buffer.byteLength(payload))
    })
    exchange.res.end(payload)
  } catch {
    // The socket went away between the check and the write: nobody is left to answer.
  }
}

export const sendText = (exchange: Exchange, status: number, body: string, contentType: string): void => {
  if (!isAnswerable(exchange)) return
  try {
    exchange.res.writeHead(status, { "Content-Type": contentType, "Content-Length": String(Buffer.byteLength(body)) })
    exchange.res.end(body)
  } catch {
    // The socket went away between the check and the write: nobody is left to answer.
  }
}

/**
 * Answers a refusal. If a stream is already open the status line is gone, so the error travels as
 * an event and the stream ends without `[DONE]` (what OpenAI clients treat as a failed stream).
 */
export const sendRejection = (exchange: Exchange, rejection: RequestRejected): void => {
  if (exchange.events !== undefined) {
    exchange.events.send(rejection.body)
    exchange.events.end()
    return
  }
  if (isAnswerable(exchange)) {
    sendJson(exchange, rejection.status, rejection.body, rejection.headers)
    return
  }
  // Headers went out but not as a stream we control: all that is left is to end it.
  if (!exchange.res.writableEnded && !exchange.res.destroyed) exchange.res.end()
}

/** From now on this connection is not reused: the client reconnects (to us or a successor). */
export const closeAfterAnswer = (exchange: Exchange): void => {
  if (!exchange.res.headersSent) exchange.res.setHeader("Connection", "close")
}
