// A fake Telegram Bot API on 127.0.0.1: getMe, getUpdates with offset/timeout semantics (an
// offset confirms, and so forgets, every update below it; with nothing to give, the request is
// held up to `timeout` seconds), sendMessage, sendChatAction, and scripted error answers.
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

export const fakeToken = "123456:TEST-token"

export interface ScriptedError {
  readonly status: number
  readonly description?: string
  readonly retryAfter?: number
}

export interface Call {
  readonly method: string
  readonly params: Record<string, any>
  readonly at: number
}

export interface FakeBotApi {
  readonly url: string
  readonly calls: Array<Call>
  /** Messages sent, in order, with their chat and CURRENT text (editMessageText changes it in place). */
  readonly sent: Array<{ readonly chatId: number; readonly text: string }>
  /** Every successful editMessageText. */
  readonly edits: Array<{ readonly chatId: number; readonly messageId: number; readonly text: string }>
  /** Messages whose current text is not the placeholder, in order. */
  readonly answers: () => ReadonlyArray<{ readonly chatId: number; readonly text: string }>
  /** Queues an update with a text message (or none with `text: undefined`); returns its id. */
  readonly push: (message: { chatId: number; text?: string | undefined; userId?: number; username?: string }) => number
  /** The next `times` calls of `method` answer with this error. */
  readonly failNext: (method: string, error: ScriptedError, times?: number) => void
  /** Updates still held (not confirmed by an offset). */
  readonly held: () => ReadonlyArray<number>
  /** getUpdates requests currently held open. */
  readonly waiting: () => number
  /** false: offsets no longer forget updates (as if the confirming request never reached Telegram). */
  readonly setConfirming: (confirming: boolean) => void
  /** sendMessage to this chat answers 403 (the user blocked the bot). */
  readonly block: (chatId: number) => void
  /** Resolves when `predicate` holds, polling every 10ms, failing after `ms`. */
  readonly until: (predicate: () => boolean, ms?: number) => Effect.Effect<void>
}

export const startFakeBotApi = (firstUpdateId = 1000): Effect.Effect<FakeBotApi, never, Scope.Scope> =>
  Effect.gen(function*() {
    const calls: Array<Call> = []
    const sent: Array<{ chatId: number; text: string }> = []
    let updates: Array<{ update_id: number; message: Record<string, unknown> }> = []
    let nextId = firstUpdateId
    let messageId = 1
    const errors = new Map<string, Array<ScriptedError>>()
    const waiters = new Set<() => void>()
    let confirming = true
    const blocked = new Set<number>()
    const messages = new Map<number, { chatId: number; text: string }>()
    const edits: Array<{ chatId: number; messageId: number; text: string }> = []

    const answer = (res: http.ServerResponse, status: number, body: unknown) => {
      if (res.writableEnded || res.destroyed) return
      res.writeHead(status, { "content-type": "application/json" })
      res.end(JSON.stringify(body))
    }
    const ok = (res: http.ServerResponse, result: unknown) => answer(res, 200, { ok: true, result })

    const server = http.createServer((req, res) => {
      let text = ""
      req.on("data", (chunk) => (text += chunk))
      req.on("end", () => {
        const url = new URL(req.url ?? "/", "http://x")
        const match = /^\/bot([^/]+)\/(\w+)$/.exec(url.pathname)
        if (match === null) return answer(res, 404, { ok: false, error_code: 404, description: "Not Found" })
        const [, token, method] = match as unknown as [string, string, string]
        const params: Record<string, any> = Object.fromEntries(url.searchParams)
        if (text !== "") Object.assign(params, JSON.parse(text))
        calls.push({ method, params, at: Date.now() })
        if (token !== fakeToken) return answer(res, 401, { ok: false, error_code: 401, description: "Unauthorized" })
        const scripted = errors.get(method)?.shift()
        if (scripted !== undefined) {
          return answer(res, scripted.status, {
            ok: false,
            error_code: scripted.status,
            description: scripted.description ?? "scripted error",
            ...(scripted.retryAfter !== undefined ? { parameters: { retry_after: scripted.retryAfter } } : {})
          })
        }
        switch (method) {
          case "getMe":
            return ok(res, { id: 42, is_bot: true, first_name: "Hermes", username: "hermes_test_bot" })
          case "sendMessage": {
            const chatId = Number(params.chat_id)
            const body = String(params.text)
            if (body.length > 4096) return answer(res, 400, { ok: false, error_code: 400, description: "Bad Request: message is too long" })
            if (blocked.has(chatId)) return answer(res, 403, { ok: false, error_code: 403, description: "Forbidden: bot was blocked by the user" })
            const entry = { chatId, text: body }
            const id = messageId++
            sent.push(entry)
            messages.set(id, entry)
            return ok(res, { message_id: id, chat: { id: chatId }, text: body })
          }
          case "editMessageText": {
            const entry = messages.get(Number(params.message_id))
            const body = String(params.text)
            if (entry === undefined || entry.chatId !== Number(params.chat_id)) {
              return answer(res, 400, { ok: false, error_code: 400, description: "Bad Request: message to edit not found" })
            }
            if (entry.text === body) {
              return answer(res, 400, {
                ok: false,
                error_code: 400,
                description: "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"
              })
            }
            entry.text = body
            edits.push({ chatId: entry.chatId, messageId: Number(params.message_id), text: body })
            return ok(res, { message_id: Number(params.message_id), chat: { id: entry.chatId }, text: body })
          }
          case "sendChatAction":
          case "deleteWebhook":
            return ok(res, true)
          case "getUpdates": {
            const offset = params.offset === undefined ? undefined : Number(params.offset)
            if (offset !== undefined && confirming) updates = updates.filter((u) => u.update_id >= offset)
            const timeout = Number(params.timeout ?? 0)
            const give = () => ok(res, updates.filter((u) => offset === undefined || u.update_id >= offset || !confirming).slice(0, 100))
            if (updates.length > 0 || timeout <= 0) return give()
            let timer: NodeJS.Timeout | undefined = undefined
            const wake = () => {
              waiters.delete(wake)
              if (timer !== undefined) clearTimeout(timer)
              give()
            }
            waiters.add(wake)
            timer = setTimeout(wake, timeout * 1000)
            // The client gave up (aborted): forget the waiter.
            res.on("close", () => {
              waiters.delete(wake)
              if (timer !== undefined) clearTimeout(timer)
            })
            return
          }
          default:
            return answer(res, 404, { ok: false, error_code: 404, description: "Not Found: method not found" })
        }
      })
    })
    const port = yield* Effect.acquireRelease(
      Effect.async<number>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as AddressInfo).port)))
      }),
      () =>
        Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
    )

    const until = (predicate: () => boolean, ms = 5000) =>
      Effect.gen(function*() {
        const deadline = Date.now() + ms
        while (!predicate()) {
          if (Date.now() > deadline) return yield* Effect.die(new Error(`condition not met within ${ms}ms`))
          yield* Effect.sleep(10)
        }
      })

    return {
      url: `http://127.0.0.1:${port}`,
      calls,
      sent,
      edits,
      answers: () => sent.filter((m) => m.text !== "…"),
      push: ({ chatId, text, userId, username }) => {
        const id = nextId++
        const from = { id: userId ?? chatId, is_bot: false, first_name: "U", ...(username !== undefined ? { username } : {}) }
        updates.push({
          update_id: id,
          message: { message_id: messageId++, chat: { id: chatId, type: "private" }, from, ...(text !== undefined ? { text } : {}) }
        })
        for (const wake of [...waiters]) wake()
        return id
      },
      failNext: (method, error, times = 1) => {
        const list = errors.get(method) ?? []
        for (let i = 0; i < times; i++) list.push(error)
        errors.set(method, list)
      },
      setConfirming: (value) => {
        confirming = value
      },
      held: () => updates.map((u) => u.update_id),
      block: (chatId) => void blocked.add(chatId),
      waiting: () => waiters.size,
      until
    }
  })
