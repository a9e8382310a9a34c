// A bare node:http client for the adapter tests: full control over Content-Length, chunked bodies,
// keep-alive agents and reading a stream as it arrives, which fetch hides.
import * as http from "node:http"
import * as Effect from "effect/Effect"

export interface RawRequest {
  readonly method?: string
  readonly path: string
  readonly headers?: Readonly<Record<string, string>>
  /** A string is sent with Content-Length; an array is sent chunk by chunk (chunked encoding). */
  readonly body?: string | ReadonlyArray<string>
  readonly agent?: http.Agent
}

export interface RawResponse {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

export const jsonHeaders = { "content-type": "application/json" } as const

export const send = (baseUrl: string, request: RawRequest): Effect.Effect<RawResponse, Error> =>
  Effect.async<RawResponse, Error>((resume) => {
    const url = new URL(request.path, baseUrl)
    const req = http.request(url, {
      method: request.method ?? "GET",
      headers: request.headers,
      agent: request.agent ?? false
    }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => body += chunk)
      res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, body })))
      res.on("error", (error) => resume(Effect.fail(error)))
    })
    req.on("error", (error) => resume(Effect.fail(error)))
    if (typeof request.body === "string") {
      req.end(request.body)
    } else if (request.body !== undefined) {
      for (const chunk of request.body) req.write(chunk)
      req.end()
    } else {
      req.end()
    }
    return Effect.sync(() => req.destroy())
  })

export const postJson = (baseUrl: string, path: string, body: unknown, headers: Readonly<Record<string, string>> = {}) =>
  send(baseUrl, {
    method: "POST",
    path,
    headers: { ...jsonHeaders, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body)
  })

/** The `data:` payloads and the comment lines of an SSE body, in order. */
export const parseEvents = (text: string): { readonly data: ReadonlyArray<string>; readonly comments: ReadonlyArray<string> } => {
  const data: Array<string> = []
  const comments: Array<string> = []
  for (const line of text.split("\n")) {
    if (line.startsWith("data: ")) data.push(line.slice("data: ".length))
    else if (line.startsWith(":")) comments.push(line.slice(1).trim())
  }
  return { data, comments }
}

/** Content deltas of chat.completion.chunk events joined, the way a client rebuilds the reply. */
export const streamedText = (data: ReadonlyArray<string>): string =>
  data
    .filter((payload) => payload !== "[DONE]")
    .map((payload) => JSON.parse(payload) as { choices?: Array<{ delta?: { content?: string } }> })
    .map((event) => event.choices?.[0]?.delta?.content ?? "")
    .join("")

export interface StreamReader {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly req: http.ClientRequest
  /** Waits until `predicate` holds on everything received so far, or the response ended. */
  readonly until: (predicate: (received: string) => boolean) => Effect.Effect<string>
  readonly ended: () => boolean
}

/** Opens a request and reads its response as it arrives (one listener for the whole response). */
export const openStream = (baseUrl: string, request: RawRequest): Effect.Effect<StreamReader, Error> =>
  Effect.async<StreamReader, Error>((resume) => {
    const url = new URL(request.path, baseUrl)
    const req = http.request(url, { method: request.method ?? "POST", headers: request.headers, agent: false }, (res) => {
      let text = ""
      let ended = false
      const waiters = new Set<() => void>()
      const wake = () => waiters.forEach((waiter) => waiter())
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => {
        text += chunk
        wake()
      })
      const end = () => {
        ended = true
        wake()
      }
      res.on("end", end)
      res.on("close", end)
      res.on("error", end)
      resume(Effect.succeed({
        status: res.statusCode ?? 0,
        headers: res.headers,
        req,
        ended: () => ended,
        until: (predicate) =>
          Effect.async<string>((done) => {
            const check = () => {
              if (!predicate(text) && !ended) return
              waiters.delete(check)
              done(Effect.succeed(text))
            }
            waiters.add(check)
            check()
            return Effect.sync(() => waiters.delete(check))
          })
      }))
    })
    req.on("error", (error) => resume(Effect.fail(error)))
    req.end(typeof request.body === "string" ? request.body : undefined)
    return Effect.sync(() => req.destroy())
  })
