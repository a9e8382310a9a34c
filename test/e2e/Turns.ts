// Turns in flight, known from facts: a streamed turn is accepted once its first byte arrived
// (CONTRACT 9), a turn answered by a FakeModel is in flight once the model received it, and it
// stays in flight until the test releases the model's latch. Used instead of sleeps and long echo
// delays, so the e2e tests hold on a loaded machine.
import { chat, type ChatResult, type Gateway } from "./harness.js"

/**
 * A streamed chat turn (`stream: true`) the gateway has accepted: CONTRACT 9 sends the first byte of
 * a stream only once the inbound message is durable, so its arrival is the fact "the turn is in
 * flight" (no sleep, no guess). `end` resolves when the stream ends, however it ends.
 */
export interface StreamingTurn {
  readonly status: number
  readonly headers: Headers
  /** The session the turn belongs to (the X-Hermes-Session response header). */
  readonly session: string | null
  readonly end: Promise<StreamEnd>
}

export interface StreamEnd {
  /** The content deltas, joined. */
  readonly text: string
  /** Every `data:` event but [DONE], parsed. */
  readonly events: ReadonlyArray<any>
  /** `data: [DONE]` was seen: the turn completed. */
  readonly done: boolean
  /** The error event, when the stream carried one (e.g. `interrupted` at shutdown). */
  readonly error: any
  /** The connection broke before the stream ended (e.g. the gateway was killed). */
  readonly broken: boolean
}

const streamEndOf = (raw: string, broken: boolean): StreamEnd => {
  const events: Array<any> = []
  let done = false
  for (const line of raw.split("\n")) {
    if (!line.startsWith("data: ")) continue
    const data = line.slice("data: ".length)
    if (data === "[DONE]") {
      done = true
      continue
    }
    try {
      events.push(JSON.parse(data))
    } catch {
      events.push(data)
    }
  }
  const text = events.map((e) => e?.choices?.[0]?.delta?.content ?? "").join("")
  return { text, events, done, error: events.find((e) => e?.error !== undefined)?.error, broken }
}

/**
 * Starts a streamed chat turn and resolves once its first byte arrived, i.e. once the gateway has
 * durably recorded the inbound message (CONTRACT 9). Fails with the status and body when the gateway
 * refuses the turn instead, and after `timeoutMs` (the whole exchange is bounded by `endTimeoutMs`).
 */
export const startStreamingTurn = async (
  port: number,
  content: string,
  options: { readonly timeoutMs?: number; readonly endTimeoutMs?: number; readonly headers?: Record<string, string> } = {}
): Promise<StreamingTurn> => {
  const signal = AbortSignal.timeout(options.endTimeoutMs ?? 120_000)
  const response = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...options.headers },
    body: JSON.stringify({ messages: [{ role: "user", content }], stream: true }),
    signal
  })
  if (response.status !== 200 || response.body === null) {
    throw new Error(`the gateway refused the streamed turn ${JSON.stringify(content)}: ${response.status} ${await response.text()}`)
  }
  const reader = response.body.getReader()
  const decoder = new TextDecoder()
  let raw = ""
  const read = async (): Promise<boolean> => {
    const { done, value } = await reader.read()
    if (value !== undefined) raw += decoder.decode(value, { stream: true })
    return done
  }
  let ended = false
  const deadline = options.timeoutMs ?? 30_000
  let timer: NodeJS.Timeout | undefined
  try {
    // The status line can come before the body; the first byte of the body is the acknowledgement.
    ended = await Promise.race([
      read(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no first byte of the streamed turn ${JSON.stringify(content)} within ${deadline}ms`)), deadline)
      })
    ])
  } finally {
    clearTimeout(timer)
  }
  const end = (async () => {
    try {
      while (!ended) ended = await read()
      return streamEndOf(raw, false)
    } catch {
      return streamEndOf(raw, true)
    }
  })()
  return { status: response.status, headers: response.headers, session: response.headers.get("x-hermes-session"), end }
}

/**
 * A non-streamed chat turn held in flight by a FakeModel latch (`model.holdAll()` or `hold(text)`):
 * resolves once the model received the request, which the agent sends only after the turn was
 * recorded. The pending reply is wrapped in an object: returned bare from an async function it
 * would be awaited here.
 */
export const heldTurn = async (
  gateway: Gateway,
  model: { readonly waitForRequest: (text: string, timeoutMs?: number) => Promise<unknown> },
  port: number,
  content = "hi"
): Promise<{ readonly reply: Promise<ChatResult> }> => {
  // The reply may come long after the latch is released on a loaded machine: bounded generously.
  const reply = chat(port, content, 120_000)
  reply.catch(() => {}) // observed later by the test
  await Promise.race([
    model.waitForRequest(content, 30_000),
    gateway.exited.then(() => {
      throw new Error(`gateway exited before the turn ${JSON.stringify(content)} reached the model\n${gateway.describe()}`)
    }),
    reply.then((r) => {
      throw new Error(`the turn ${JSON.stringify(content)} was answered before it reached the model: ${r.status} ${JSON.stringify(r.body)}`)
    })
  ])
  return { reply }
}

/**
 * config.yaml for the HTTP adapter with the openai agent answering from `model` (a FakeModel): the
 * way to hold turns with a latch. The agent timeout is long so that only the test ends a held turn.
 */
export const modelConfig = (
  model: { readonly baseUrl: string },
  options: { readonly drain?: string; readonly timeout?: string } = {}
): string =>
  [
    ...(options.drain !== undefined ? ["gateway:", `  drain_timeout: ${options.drain}`] : []),
    "adapters:",
    "  http:",
    "    port: 0",
    "agent:",
    "  kind: openai",
    "  openai:",
    `    base_url: ${JSON.stringify(model.baseUrl)}`,
    `    model: ${JSON.stringify("fake-model")}`,
    `    timeout: ${options.timeout ?? "10m"}`,
    ""
  ].join("\n")
