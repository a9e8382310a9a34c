// A fake Telegram Bot API for the end-to-end tests: a plain Node HTTP server on 127.0.0.1:0 that the
// built gateway talks to over real sockets (`adapters.telegram.api_base_url`).
//
// Semantics follow the real Bot API where the gateway depends on them:
// - URLs are `/bot<token>/<method>`; a wrong token gets 401 Unauthorized on every method. A client
//   given `<url>/<name>` as its base URL is told apart by `via` (which replica polls).
// - getUpdates {offset, timeout, limit}: an offset confirms, and so forgets, every update below it;
//   the answer holds the updates at or above the offset (at most `limit`, default 100); with nothing
//   to give, the request is held up to `timeout` seconds and answered as soon as an update arrives.
//   A client that aborts a held request drops its waiter. A second getUpdates while one is held
//   ends the older one with 409 Conflict, as Telegram does when two bot instances poll.
// - sendMessage rejects an empty text and one longer than 4096 characters with 400, and answers the
//   Message ({message_id, date, chat, from, text}).
// - editMessageText {chat_id, message_id, text} replaces the text of a message the bot sent: 400
//   "message to edit not found" for an unknown message_id or one in another chat, 400 "message is
//   not modified: ..." when the text equals the current one, and the same 400s as sendMessage for an
//   empty or too long text. The answer is the edited Message (with edit_date).
// - deleteWebhook answers true (and forgets held updates with drop_pending_updates).
// Scripted errors (`failNext`) answer the next calls of a method with any status, description and
// retry_after. Everything is recorded for assertions: every call, every sent message (`sent`, each
// in its current state: an edit changes its entry in place), every accepted edit (`edits`), every
// chat action, and every update id ever handed out in a getUpdates answer (`delivered`).
import * as http from "node:http"
import { closeServer, type FakeOwner, listenOnLoopback } from "./LoopbackServer.js"

export type { FakeOwner }

/** The token the fake accepts unless told otherwise. */
export const fakeBotToken = "123456:E2E-fake-token"

export interface ScriptedError {
  readonly status: number
  readonly description?: string
  /** Seconds, sent as `parameters.retry_after` (Telegram's 429 flood control). */
  readonly retryAfter?: number
}

export interface BotCall {
  readonly method: string
  readonly params: Record<string, any>
  /** When the request arrived (its body read), ms since the epoch. */
  readonly at: number
  readonly tokenOk: boolean
  /** The path segment before /bot<token>, when the client's base URL had one (e.g. a replica's name). */
  readonly via: string | undefined
  /** The HTTP status it was answered with; undefined while held (or never answered: client gone). */
  status: number | undefined
  /** When it was answered. */
  answeredAt: number | undefined
  /** The `description` of an error answer (e.g. "Bad Request: message is not modified: ..."). */
  description?: string | undefined
  /** When the connection closed without an answer (the client gave up or died). */
  closedAt?: number | undefined
}

/** A message the bot sent, in its current state. */
export interface SentMessage {
  readonly chatId: number
  readonly messageId: number
  /** The current text: what sendMessage set, or the last accepted editMessageText. */
  text: string
  /** When it was first sent (the sendMessage request), ms since the epoch; an edit leaves it. */
  readonly at: number
  /** When the last accepted edit arrived; undefined while never edited. */
  editedAt: number | undefined
}

/** One accepted editMessageText. */
export interface MessageEdit {
  readonly chatId: number
  readonly messageId: number
  readonly text: string
  readonly at: number
}

/** Telegram's answer to an edit that changes nothing. */
export const notModifiedDescription =
  "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"

/** When a message got its current text: its last edit, or its sending. */
export const textSetAt = (message: SentMessage): number => message.editedAt ?? message.at

export interface ChatAction {
  readonly chatId: number
  readonly action: string
  readonly at: number
}

export interface PushedUpdate {
  readonly updateId: number
  readonly chatId: number
  readonly text: string | undefined
  readonly userId: number
  readonly username: string | undefined
  readonly at: number
}

export interface PushMessage {
  readonly chatId: number
  /** undefined pushes a message without text (e.g. a sticker). */
  readonly text?: string | undefined
  /** Defaults to chatId (a private chat's id is its user's id). */
  readonly userId?: number
  readonly username?: string
}

export interface FakeTelegramOptions {
  readonly token?: string
  readonly firstUpdateId?: number
  readonly bot?: { readonly id: number; readonly username: string; readonly first_name?: string }
}

interface Update {
  readonly update_id: number
  readonly message: Record<string, unknown>
}

interface Waiter {
  readonly offset: number | undefined
  readonly wake: () => void
  readonly conflict: () => void
  readonly cancel: () => void
}

const describeValue = (value: unknown): string => {
  const text = JSON.stringify(value)
  return text.length > 200 ? `${text.slice(0, 199)}…` : text
}

const textOf = (params: Record<string, any>): string =>
  params.text === undefined || params.text === null ? "" : String(params.text)

export class FakeTelegram {
  /** Base URL for `adapters.telegram.api_base_url` (no /bot part, no trailing slash). */
  readonly url: string
  readonly token: string
  /** Every request, in arrival order. */
  readonly calls: Array<BotCall> = []
  /** Every accepted sendMessage, in send order, each in its current state (edits update it in place). */
  readonly sent: Array<SentMessage> = []
  /** Every accepted editMessageText, in order (rejected ones are only in `calls`). */
  readonly edits: Array<MessageEdit> = []
  /** Every accepted sendChatAction. */
  readonly actions: Array<ChatAction> = []
  /** Every update pushed, in order. */
  readonly pushed: Array<PushedUpdate> = []
  /** Every update id ever handed out in a getUpdates answer. */
  readonly delivered = new Set<number>()
  /** How many getUpdates answers each update id was in. */
  readonly deliveries = new Map<number, number>()
  /** getUpdates requests ended with 409 because a newer one arrived. */
  conflicts = 0

  private updates: Array<Update> = []
  private nextUpdateId: number
  private nextMessageId = 1
  private readonly errors = new Map<string, Array<ScriptedError>>()
  private readonly waiters = new Set<Waiter>()
  private readonly bot: { id: number; is_bot: true; first_name: string; username: string }

  private constructor(
    private readonly server: http.Server,
    port: number,
    options: FakeTelegramOptions
  ) {
    this.url = `http://127.0.0.1:${port}`
    this.token = options.token ?? fakeBotToken
    this.nextUpdateId = options.firstUpdateId ?? 10_000
    this.bot = {
      id: options.bot?.id ?? 4242,
      is_bot: true,
      first_name: options.bot?.first_name ?? "Hermes E2E",
      username: options.bot?.username ?? "hermes_e2e_bot"
    }
    server.on("request", (req, res) => this.handle(req, res))
  }

  /** Starts a fake on 127.0.0.1:0, closed when the owning test finishes. */
  static async start(owner: FakeOwner, options: FakeTelegramOptions = {}): Promise<FakeTelegram> {
    const server = http.createServer()
    const port = await listenOnLoopback(server)
    const fake = new FakeTelegram(server, port, options)
    owner.onTestFinished(() => fake.close())
    return fake
  }

  /** Queues an update holding one message; wakes a held getUpdates; returns the update_id. */
  push(message: PushMessage): number {
    const updateId = this.nextUpdateId++
    const userId = message.userId ?? message.chatId
    const from = {
      id: userId,
      is_bot: false,
      first_name: message.username ?? `User ${userId}`,
      ...(message.username !== undefined ? { username: message.username } : {})
    }
    const update: Update = {
      update_id: updateId,
      message: {
        message_id: this.nextMessageId++,
        date: Math.floor(Date.now() / 1000),
        chat: { id: message.chatId, type: "private", first_name: from.first_name },
        from,
        ...(message.text !== undefined ? { text: message.text } : {})
      }
    }
    this.updates.push(update)
    this.pushed.push({
      updateId,
      chatId: message.chatId,
      text: message.text,
      userId,
      username: message.username,
      at: Date.now()
    })
    for (const waiter of [...this.waiters]) waiter.wake()
    return updateId
  }

  /** The next `times` calls of `method` are answered with this error instead. */
  failNext(method: string, error: ScriptedError, times = 1): void {
    const key = method.toLowerCase()
    const list = this.errors.get(key) ?? []
    for (let i = 0; i < times; i++) list.push(error)
    this.errors.set(key, list)
  }

  /** Scripted errors not used yet, for `method` or for all. */
  scriptedLeft(method?: string): number {
    if (method !== undefined) return this.errors.get(method.toLowerCase())?.length ?? 0
    return [...this.errors.values()].reduce((n, list) => n + list.length, 0)
  }

  /** The current texts of the messages sent to a chat, in send order (an edited message shows its new text). */
  repliesTo(chatId: number): Array<string> {
    return this.messagesIn(chatId).map((m) => m.text)
  }

  /** The messages sent to a chat, in send order, in their current state. */
  messagesIn(chatId: number): Array<SentMessage> {
    return this.sent.filter((m) => m.chatId === chatId)
  }

  /** A sent message by its id. */
  message(messageId: number): SentMessage | undefined {
    return this.sent.find((m) => m.messageId === messageId)
  }

  callsOf(method: string): Array<BotCall> {
    const key = method.toLowerCase()
    return this.calls.filter((c) => c.method.toLowerCase() === key)
  }

  actionsIn(chatId: number): Array<ChatAction> {
    return this.actions.filter((a) => a.chatId === chatId)
  }

  /** Update ids still held: pushed and not yet confirmed by an offset. */
  held(): Array<number> {
    return this.updates.map((u) => u.update_id)
  }

  /** getUpdates requests currently held open. */
  waiting(): number {
    return this.waiters.size
  }

  /** Resolves once `predicate` holds (checked every 10 ms); rejects after `timeoutMs` with the fake's state. */
  async waitFor(
    predicate: () => boolean,
    timeoutMs = 30_000,
    describe: string | (() => string) = "a condition on the fake Telegram"
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!predicate()) {
      if (Date.now() >= deadline) {
        const what = typeof describe === "string" ? describe : describe()
        throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}\n${this.summary()}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  /** A short account of what the fake saw, for failure messages. */
  summary(): string {
    const counts = new Map<string, number>()
    for (const call of this.calls) counts.set(call.method, (counts.get(call.method) ?? 0) + 1)
    const last = this.sent.slice(-15).map((m) => {
      const edits = this.edits.filter((e) => e.messageId === m.messageId).length
      return `  -> chat ${m.chatId} #${m.messageId}: ${describeValue(m.text)}${edits > 0 ? ` (edited ${edits}x)` : ""}`
    })
    return [
      `--- fake Telegram ${this.url} ---`,
      `calls: ${[...counts].map(([m, n]) => `${m}=${n}`).join(" ") || "none"}`,
      `pushed=${this.pushed.length} delivered=${this.delivered.size} held=${this.updates.length} ` +
      `waiting=${this.waiters.size} conflicts=${this.conflicts} scripted_left=${this.scriptedLeft()}`,
      `edits=${this.edits.length} sent=${this.sent.length}${this.sent.length > 15 ? " (last 15)" : ""}:`,
      ...last
    ].join("\n")
  }

  close(): Promise<void> {
    for (const waiter of [...this.waiters]) waiter.cancel()
    return closeServer(this.server)
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let body = ""
    req.setEncoding("utf8")
    req.on("data", (chunk: string) => (body += chunk))
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://fake")
      const match = /^(?:\/([\w-]+))?\/bot([^/]*)\/([A-Za-z]+)$/.exec(url.pathname)
      if (match === null) return this.answer(res, undefined, 404, { ok: false, error_code: 404, description: "Not Found" })
      const via = match[1]
      const token = match[2]!
      const method = match[3]!
      const params: Record<string, any> = Object.fromEntries(url.searchParams)
      if (body.trim() !== "") {
        try {
          Object.assign(params, JSON.parse(body))
        } catch {
          Object.assign(params, Object.fromEntries(new URLSearchParams(body)))
        }
      }
      const call: BotCall = { method, params, at: Date.now(), tokenOk: token === this.token, via, status: undefined, answeredAt: undefined }
      this.calls.push(call)
      res.once("close", () => {
        if (call.answeredAt === undefined) call.closedAt = Date.now()
      })
      if (!call.tokenOk) return this.answer(res, call, 401, { ok: false, error_code: 401, description: "Unauthorized" })
      const scripted = this.errors.get(method.toLowerCase())?.shift()
      if (scripted !== undefined) {
        return this.answer(res, call, scripted.status, {
          ok: false,
          error_code: scripted.status,
          description: scripted.description ?? `scripted error ${scripted.status}`,
          ...(scripted.retryAfter !== undefined ? { parameters: { retry_after: scripted.retryAfter } } : {})
        })
      }
      switch (method.toLowerCase()) {
        case "getme":
          return this.ok(res, call, this.bot)
        case "deletewebhook":
          if (params.drop_pending_updates === true || params.drop_pending_updates === "true") this.updates = []
          return this.ok(res, call, true)
        case "getwebhookinfo":
          return this.ok(res, call, { url: "", has_custom_certificate: false, pending_update_count: this.updates.length })
        case "sendmessage":
          return this.sendMessage(res, call)
        case "editmessagetext":
          return this.editMessageText(res, call)
        case "sendchataction": {
          const chatId = Number(params.chat_id)
          if (!Number.isFinite(chatId)) return this.badRequest(res, call, "chat not found")
          this.actions.push({ chatId, action: String(params.action), at: call.at })
          return this.ok(res, call, true)
        }
        case "getupdates":
          return this.getUpdates(res, call)
        default:
          return this.answer(res, call, 404, { ok: false, error_code: 404, description: "Not Found: method not found" })
      }
    })
  }

  private sendMessage(res: http.ServerResponse, call: BotCall): void {
    const chatId = Number(call.params.chat_id)
    if (!Number.isFinite(chatId)) return this.badRequest(res, call, "chat not found")
    const text = textOf(call.params)
    if (text.trim() === "") return this.badRequest(res, call, "message text is empty")
    if (text.length > 4096) return this.badRequest(res, call, "message is too long")
    const message: SentMessage = { chatId, messageId: this.nextMessageId++, text, at: call.at, editedAt: undefined }
    this.sent.push(message)
    return this.ok(res, call, this.messageObject(message))
  }

  private editMessageText(res: http.ServerResponse, call: BotCall): void {
    const chatId = Number(call.params.chat_id)
    if (!Number.isFinite(chatId)) return this.badRequest(res, call, "chat not found")
    const text = textOf(call.params)
    if (text.trim() === "") return this.badRequest(res, call, "message text is empty")
    if (text.length > 4096) return this.badRequest(res, call, "message is too long")
    const messageId = Number(call.params.message_id)
    const message = this.sent.find((m) => m.messageId === messageId && m.chatId === chatId)
    if (message === undefined) return this.badRequest(res, call, "message to edit not found")
    if (message.text === text) {
      return this.answer(res, call, 400, { ok: false, error_code: 400, description: notModifiedDescription })
    }
    message.text = text
    message.editedAt = call.at
    this.edits.push({ chatId, messageId, text, at: call.at })
    return this.ok(res, call, this.messageObject(message))
  }

  /** The Bot API's Message object for a message the bot sent. */
  private messageObject(message: SentMessage): Record<string, unknown> {
    return {
      message_id: message.messageId,
      date: Math.floor(message.at / 1000),
      ...(message.editedAt !== undefined ? { edit_date: Math.floor(message.editedAt / 1000) } : {}),
      chat: { id: message.chatId, type: "private" },
      from: this.bot,
      text: message.text
    }
  }

  private getUpdates(res: http.ServerResponse, call: BotCall): void {
    const raw = call.params.offset
    const offset = raw === undefined || raw === null || raw === "" ? undefined : Number(raw)
    // The offset confirms every update below it: Telegram forgets them.
    if (offset !== undefined && offset > 0) this.updates = this.updates.filter((u) => u.update_id >= offset)
    const limit = Math.min(100, Math.max(1, Number(call.params.limit ?? 100) || 100))
    const timeoutSeconds = Math.max(0, Number(call.params.timeout ?? 0) || 0)
    const available = () => this.updates.filter((u) => offset === undefined || offset <= 0 || u.update_id >= offset).slice(0, limit)

    // Only one long poll at a time: a newer request ends the older one, as on Telegram.
    for (const waiter of [...this.waiters]) waiter.conflict()

    const give = () => {
      const batch = available()
      if (res.writableEnded || res.destroyed) return false
      for (const update of batch) {
        this.delivered.add(update.update_id)
        this.deliveries.set(update.update_id, (this.deliveries.get(update.update_id) ?? 0) + 1)
      }
      this.ok(res, call, batch)
      return true
    }
    if (available().length > 0 || timeoutSeconds === 0) {
      give()
      return
    }
    let timer: NodeJS.Timeout | undefined
    const done = () => {
      this.waiters.delete(waiter)
      if (timer !== undefined) clearTimeout(timer)
    }
    const waiter: Waiter = {
      offset,
      wake: () => {
        if (available().length === 0) return
        done()
        give()
      },
      conflict: () => {
        done()
        this.conflicts++
        this.answer(res, call, 409, {
          ok: false,
          error_code: 409,
          description: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
        })
      },
      cancel: () => done()
    }
    this.waiters.add(waiter)
    timer = setTimeout(() => {
      done()
      give()
    }, timeoutSeconds * 1000)
    // The client gave up (aborted the long poll, or died): drop the waiter.
    res.on("close", () => {
      if (!res.writableEnded) done()
    })
  }

  private ok(res: http.ServerResponse, call: BotCall, result: unknown): void {
    this.answer(res, call, 200, { ok: true, result })
  }

  private badRequest(res: http.ServerResponse, call: BotCall, what: string): void {
    this.answer(res, call, 400, { ok: false, error_code: 400, description: `Bad Request: ${what}` })
  }

  private answer(res: http.ServerResponse, call: BotCall | undefined, status: number, body: unknown): void {
    if (res.writableEnded || res.destroyed) return
    if (call !== undefined) {
      call.status = status
      call.answeredAt = Date.now()
      const description = (body as { description?: unknown } | undefined)?.description
      if (typeof description === "string") call.description = description
    }
    const text = JSON.stringify(body)
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
    res.end(text)
  }
}
