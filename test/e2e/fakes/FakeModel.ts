// A fake OpenAI-compatible model server for the end-to-end tests: a plain Node HTTP server on
// 127.0.0.1:0 serving POST /v1/chat/completions (streamed as SSE with `stream: true`, one JSON
// document otherwise) and GET /v1/models.
//
// The answer is a deterministic function of the LAST user message: `answer: <text>` by default, so
// a test can map every reply in a chat back to the message it answers. Per test it can be made
// slow (a delay, global or per message text), made to fail (an HTTP error, a malformed stream, a
// stream cut mid-answer), or held: `hold(text)` keeps the answer to that message pending until the
// test releases it, `holdAll()` every answer (the latch a test keeps turns in flight with, instead
// of a long echo delay). Every request is recorded, so a test can check the context the gateway
// sent, and wait for one to arrive (`waitForRequest`): the fact that a turn reached the agent.
import * as http from "node:http"
import { closeServer, type FakeOwner, listenOnLoopback } from "./LoopbackServer.js"

export const fakeModelName = "fake-model"

/** How one answer fails: an HTTP error status, a stream with bad JSON, or a stream cut before [DONE]. */
export type ModelFailure =
  | { readonly kind: "status"; readonly status: number; readonly message?: string }
  | { readonly kind: "malformed" }
  | { readonly kind: "cut" }

export interface ModelMessage {
  readonly role: string
  readonly content: string
}

export interface ModelRequest {
  readonly at: number
  readonly body: Record<string, any>
  readonly model: string | undefined
  readonly stream: boolean
  /** The messages sent, content flattened to text. */
  readonly messages: ReadonlyArray<ModelMessage>
  /** The content of the last user message ("" when there is none). */
  readonly lastUser: string
  readonly authorization: string | undefined
  /** The answer was written in full. */
  done: boolean
  /** The client went away before the answer was complete. */
  aborted: boolean
  /** How it was answered: "answer", or the failure kind. */
  outcome: string | undefined
}

export interface FakeModelOptions {
  /** Milliseconds before answering: a number, or a function of the last user message. */
  readonly delay?: number | ((text: string) => number)
  /** The answer to a last user message; default `answer: <text>`. */
  readonly answer?: (text: string) => string
}

/** A promise the test resolves: `release` also forgets the latch (`forget`), so later requests pass. */
interface Latch {
  readonly released: Promise<void>
  readonly release: () => void
}

const latch = (forget: () => void): Latch => {
  let resolve!: () => void
  const released = new Promise<void>((r) => (resolve = r))
  return {
    released,
    release: () => {
      forget()
      resolve()
    }
  }
}

export const defaultAnswer = (text: string): string => `answer: ${text}`

const textOf = (content: unknown): string => {
  if (typeof content === "string") return content
  if (Array.isArray(content)) {
    return content.map((part) => (typeof part === "object" && part !== null && typeof part.text === "string" ? part.text : "")).join("")
  }
  return content === undefined || content === null ? "" : JSON.stringify(content)
}

/** Splits an answer into a few stream pieces (at word boundaries, spaces kept) so streaming is real. */
const pieces = (answer: string): Array<string> => {
  const words = answer.match(/\S+\s*|\s+/g) ?? [answer]
  if (words.length <= 1) return [answer]
  const size = Math.max(1, Math.ceil(words.length / 3))
  const out: Array<string> = []
  for (let i = 0; i < words.length; i += size) out.push(words.slice(i, i + size).join(""))
  return out
}

export class FakeModel {
  /** Origin, e.g. http://127.0.0.1:1234 */
  readonly url: string
  /** For `agent.openai.base_url`: the origin plus /v1. */
  readonly baseUrl: string
  readonly requests: Array<ModelRequest> = []
  /** Milliseconds before answering; a function gets the last user message. Changeable at any time. */
  delay: number | ((text: string) => number)
  answer: (text: string) => string
  /** The model named in answers (a server resolving an alias); undefined: the model requested. */
  servedModel: string | undefined = undefined
  /** Per message failure (checked after failNext); undefined answers normally. */
  failWhen: ((text: string) => ModelFailure | undefined) | undefined = undefined

  private readonly failures: Array<ModelFailure> = []
  private readonly holds = new Map<string, Latch>()
  /** Set by holdAll: every answer waits on it, whatever its text. */
  private holdingAll: Latch | undefined = undefined
  private sequence = 0

  private constructor(private readonly server: http.Server, port: number, options: FakeModelOptions) {
    this.url = `http://127.0.0.1:${port}`
    this.baseUrl = `${this.url}/v1`
    this.delay = options.delay ?? 0
    this.answer = options.answer ?? defaultAnswer
    server.on("request", (req, res) => this.handle(req, res))
  }

  /** Starts a fake on 127.0.0.1:0, closed when the owning test finishes. */
  static async start(owner: FakeOwner, options: FakeModelOptions = {}): Promise<FakeModel> {
    const server = http.createServer()
    const port = await listenOnLoopback(server)
    const fake = new FakeModel(server, port, options)
    owner.onTestFinished(() => fake.close())
    return fake
  }

  /** The next `times` chat completions fail this way. */
  failNext(failure: ModelFailure, times = 1): void {
    for (let i = 0; i < times; i++) this.failures.push(failure)
  }

  /**
   * Keeps every answer to the message `text` pending until released (after its delay, if any).
   * Returns the release function; `release(text)` does the same.
   */
  hold(text: string): () => void {
    const existing = this.holds.get(text)
    if (existing !== undefined) return existing.release
    const entry = latch(() => {
      if (this.holds.get(text) === entry) this.holds.delete(text)
    })
    this.holds.set(text, entry)
    return entry.release
  }

  /**
   * Keeps every answer pending (after its delay, if any) until released: by the returned function
   * or by releaseAll. A request held this way has arrived (see waitForRequest) but gets no byte
   * back, so the gateway's turn stays in flight for as long as the test needs it to.
   */
  holdAll(): () => void {
    if (this.holdingAll !== undefined) return this.holdingAll.release
    const entry = latch(() => {
      if (this.holdingAll === entry) this.holdingAll = undefined
    })
    this.holdingAll = entry
    return entry.release
  }

  release(text: string): void {
    this.holds.get(text)?.release()
  }

  /** Releases every hold, holdAll's included; later requests are answered at once. */
  releaseAll(): void {
    for (const entry of [...this.holds.values()]) entry.release()
    this.holdingAll?.release()
  }

  /** Requests whose last user message is `text`. */
  requestsFor(text: string): Array<ModelRequest> {
    return this.requests.filter((r) => r.lastUser === text)
  }

  /** Resolves with the first request (from `since` on) whose last user message is `text`. */
  async waitForRequest(text: string, timeoutMs = 30_000, since = 0): Promise<ModelRequest> {
    const deadline = Date.now() + timeoutMs
    while (true) {
      const found = this.requests.slice(since).find((r) => r.lastUser === text)
      if (found !== undefined) return found
      if (Date.now() >= deadline) {
        throw new Error(`timed out after ${timeoutMs}ms waiting for a model request for ${JSON.stringify(text)}\n${this.summary()}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  summary(): string {
    const last = this.requests.slice(-10).map((r) =>
      `  ${JSON.stringify(r.lastUser)} messages=${r.messages.length} stream=${r.stream} ` +
      `${r.done ? "done" : r.aborted ? "aborted" : "pending"}${r.outcome !== undefined ? ` (${r.outcome})` : ""}`
    )
    return [`--- fake model ${this.baseUrl} ---`, `requests=${this.requests.length}${this.requests.length > 10 ? " (last 10)" : ""}:`, ...last]
      .join("\n")
  }

  close(): Promise<void> {
    this.releaseAll()
    return closeServer(this.server)
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let body = ""
    req.setEncoding("utf8")
    req.on("data", (chunk: string) => (body += chunk))
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://fake")
      const route = url.pathname.replace(/\/+$/, "")
      if (req.method === "GET" && route === "/v1/models") {
        return this.json(res, 200, {
          object: "list",
          data: [{ id: fakeModelName, object: "model", created: 1_700_000_000, owned_by: "e2e" }]
        })
      }
      if (req.method === "POST" && route === "/v1/chat/completions") {
        let parsed: unknown
        try {
          parsed = JSON.parse(body)
        } catch {
          return this.json(res, 400, { error: { message: "the body is not JSON", type: "invalid_request_error" } })
        }
        if (typeof parsed !== "object" || parsed === null || !Array.isArray((parsed as any).messages)) {
          return this.json(res, 400, { error: { message: "messages is required", type: "invalid_request_error" } })
        }
        void this.complete(req, res, parsed as Record<string, any>)
        return
      }
      return this.json(res, 404, { error: { message: `no route ${req.method} ${url.pathname}`, type: "not_found" } })
    })
  }

  private async complete(req: http.IncomingMessage, res: http.ServerResponse, body: Record<string, any>): Promise<void> {
    const messages: Array<ModelMessage> = (body.messages as Array<any>).map((m) => ({
      role: String(m?.role),
      content: textOf(m?.content)
    }))
    const lastUser = [...messages].reverse().find((m) => m.role === "user")?.content ?? ""
    const request: ModelRequest = {
      at: Date.now(),
      body,
      model: typeof body.model === "string" ? body.model : undefined,
      stream: body.stream === true,
      messages,
      lastUser,
      authorization: req.headers.authorization,
      done: false,
      aborted: false,
      outcome: undefined
    }
    this.requests.push(request)
    const gone = new Promise<void>((resolve) => {
      res.on("close", () => {
        if (!res.writableFinished) request.aborted = true
        resolve()
      })
    })

    const delay = typeof this.delay === "function" ? this.delay(lastUser) : this.delay
    if (delay > 0) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([new Promise<void>((resolve) => (timer = setTimeout(resolve, delay))), gone])
      clearTimeout(timer)
    }
    const held = this.holds.get(lastUser) ?? this.holdingAll
    if (held !== undefined) await Promise.race([held.released, gone])
    if (request.aborted || res.destroyed) return

    const failure = this.failures.shift() ?? this.failWhen?.(lastUser)
    if (failure?.kind === "status") {
      request.outcome = `status ${failure.status}`
      this.json(res, failure.status, { error: { message: failure.message ?? `fake model failure ${failure.status}`, type: "server_error" } })
      request.done = true
      return
    }
    const answer = this.answer(lastUser)
    const id = `chatcmpl-fake-${++this.sequence}`
    const created = Math.floor(Date.now() / 1000)
    const model = this.servedModel ?? request.model ?? fakeModelName

    if (!request.stream) {
      if (failure !== undefined) {
        // Non-streamed: malformed is a broken JSON document, cut is a connection closed mid-body.
        request.outcome = failure.kind
        res.writeHead(200, { "content-type": "application/json" })
        if (failure.kind === "malformed") {
          res.end("{\"id\": \"broken")
        } else {
          res.write("{\"id\": \"cut")
          res.destroy()
        }
        return
      }
      request.outcome = "answer"
      this.json(res, 200, {
        id,
        object: "chat.completion",
        created,
        model,
        choices: [{ index: 0, message: { role: "assistant", content: answer }, finish_reason: "stop" }],
        usage: { prompt_tokens: messages.length, completion_tokens: 1, total_tokens: messages.length + 1 }
      })
      request.done = true
      return
    }

    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" })
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
      `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`
    res.write(chunk({ role: "assistant", content: "" }))
    const parts = pieces(answer)
    if (failure !== undefined) {
      request.outcome = failure.kind
      res.write(chunk({ content: parts[0] ?? "" }))
      if (failure.kind === "malformed") {
        res.end("data: {\"choices\": [ this is not json\n\n")
      } else {
        res.destroy()
      }
      return
    }
    for (const part of parts) res.write(chunk({ content: part }))
    res.write(chunk({}, "stop"))
    if (body.stream_options?.include_usage === true) {
      res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [], usage: { prompt_tokens: messages.length, completion_tokens: parts.length, total_tokens: messages.length + parts.length } })}\n\n`)
    }
    res.end("data: [DONE]\n\n")
    request.outcome = "answer"
    request.done = true
  }

  private json(res: http.ServerResponse, status: number, body: unknown): void {
    if (res.writableEnded || res.destroyed) return
    const text = JSON.stringify(body)
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
    res.end(text)
  }
}
