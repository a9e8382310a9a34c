// HTTP load through the balancer: `clients` conversations, each sending its messages one after the
// other (`<name>#0`, `<name>#1`, ...) as the `user` session key, every request on a connection of
// its own (so the balancer picks a replica per request). The ledger keeps every outcome; a 200 with
// a complete body is an acknowledgement: the gateway says question and answer are stored.
import * as http from "node:http"
import { type HttpAck, messageText } from "./Verdicts.js"

export interface ChatOutcome {
  readonly client: string
  readonly text: string
  readonly status: number | undefined
  readonly sessionId: string | undefined
  readonly reply: string | undefined
  readonly error: string | undefined
}

const post = (port: number, user: string, text: string, timeoutMs: number): Promise<Omit<ChatOutcome, "client" | "text">> =>
  new Promise((resolve) => {
    const body = JSON.stringify({ messages: [{ role: "user", content: text }], user })
    const request = http.request({
      host: "127.0.0.1",
      port,
      path: "/v1/chat/completions",
      method: "POST",
      agent: false,
      timeout: timeoutMs,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), connection: "close" }
    }, (response) => {
      let raw = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => (raw += chunk))
      response.on("error", (error: NodeJS.ErrnoException) =>
        resolve({ status: response.statusCode, sessionId: undefined, reply: undefined, error: error.code ?? String(error) }))
      response.on("end", () => {
        const sessionId = response.headers["x-hermes-session"]
        let reply: string | undefined
        try {
          reply = JSON.parse(raw)?.choices?.[0]?.message?.content
        } catch {
          // not a complete JSON body: not an acknowledgement
        }
        resolve({
          status: response.statusCode,
          sessionId: typeof sessionId === "string" ? sessionId : undefined,
          reply: typeof reply === "string" ? reply : undefined,
          error: reply === undefined && response.statusCode === 200 ? "incomplete body" : undefined
        })
      })
    })
    request.on("timeout", () => request.destroy(new Error("timed out")))
    request.on("error", (error: NodeJS.ErrnoException) =>
      resolve({ status: undefined, sessionId: undefined, reply: undefined, error: error.code ?? String(error) }))
    request.end(body)
  })

export class ChatLoad {
  readonly ledger: Array<ChatOutcome> = []
  private running = true
  private readonly done: Promise<void>

  constructor(port: number, clients: number, prefix: string, private readonly onFailure: () => Promise<void>) {
    this.done = Promise.all(Array.from({ length: clients }, (_, c) => this.client(port, `${prefix}${c}`))).then(() => undefined)
  }

  /** Stops sending; resolves when every client's last request has its outcome. */
  async stop(): Promise<void> {
    this.running = false
    await this.done
  }

  acks(): Array<HttpAck> {
    return this.ledger.flatMap((o) =>
      o.status === 200 && o.sessionId !== undefined && o.reply !== undefined ? [{ sessionId: o.sessionId, text: o.text, reply: o.reply }] : []
    )
  }

  /** Outcomes counted by kind: 200, another status, or the connection's error. */
  tally(): Record<string, number> {
    const counts: Record<string, number> = {}
    for (const o of this.ledger) {
      const kind = o.status === 200 && o.reply !== undefined ? "200" : o.status !== undefined ? `http ${o.status}` : `error ${o.error}`
      counts[kind] = (counts[kind] ?? 0) + 1
    }
    return counts
  }

  private async client(port: number, name: string): Promise<void> {
    for (let n = 0; this.running; n++) {
      const text = messageText(name, n)
      const outcome = await post(port, name, text, 30_000)
      this.ledger.push({ client: name, text, ...outcome })
      // A refusal (503 while a replica drains, a cut connection): give the replicas a moment rather than spin.
      if (outcome.status !== 200) await this.onFailure()
    }
  }
}
