// A text/event-stream response as OpenAI streams it (`data: <json>` events, `data: [DONE]`).
// Writes never throw: a client that went away just stops receiving, the turn goes on (CONTRACT 9).
import type { ServerResponse } from "node:http"

export interface EventStream {
  /** One `data:` event with a JSON payload. */
  readonly send: (data: unknown) => void
  /** A comment line; clients ignore it, so it can tell a human or a proxy log what is happening. */
  readonly comment: (text: string) => void
  /** OpenAI's end-of-stream sentinel, then end. */
  readonly done: () => void
  readonly end: () => void
  readonly isOpen: () => boolean
}

export const openEventStream = (
  res: ServerResponse,
  headers: Readonly<Record<string, string>>
): EventStream => {
  res.writeHead(200, {
    ...headers,
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    // Tells nginx-style proxies not to buffer, or the client sees nothing until the end.
    "X-Accel-Buffering": "no"
  })
  // The headers are the acknowledgement that the message was recorded: send them now.
  res.flushHeaders()
  const isOpen = () => !res.writableEnded && !res.destroyed
  const write = (text: string) => {
    if (!isOpen()) return
    try {
      res.write(text)
    } catch {
      // A socket torn down between the check and the write: same as a client that left.
    }
  }
  const end = () => {
    if (!isOpen()) return
    try {
      res.end()
    } catch {
      // see write
    }
  }
  return {
    send: (data) => write(`data: ${JSON.stringify(data)}\n\n`),
    comment: (text) => write(`: ${text.replace(/[\r\n]+/g, " ")}\n\n`),
    done: () => {
      write("data: [DONE]\n\n")
      end()
    },
    end,
    isOpen
  }
}
