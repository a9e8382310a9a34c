// The e2e fakes themselves (no gateway involved): a fake that drifts from the real API would make
// the Telegram e2e tests prove nothing, so its load-bearing semantics are pinned here.
import OpenAI from "openai"
import { describe, it } from "vitest"
import { FakeModel } from "./FakeModel.js"
import { FakeTelegram, notModifiedDescription, textSetAt } from "./FakeTelegram.js"

const call = async (tg: FakeTelegram, method: string, params: Record<string, unknown> = {}, token = tg.token, signal?: AbortSignal) => {
  const response = await fetch(`${tg.url}/bot${token}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(params),
    ...(signal !== undefined ? { signal } : {})
  })
  return { status: response.status, body: (await response.json()) as Record<string, any> }
}

describe.concurrent("FakeTelegram", () => {
  it("getUpdates: an offset confirms and forgets; every update handed out is logged as delivered", async (ctx) => {
    const { expect } = ctx
    const tg = await FakeTelegram.start(ctx)
    const a = tg.push({ chatId: 1, text: "a" })
    const b = tg.push({ chatId: 2, text: "b", userId: 20, username: "bee" })
    const first = await call(tg, "getUpdates", { offset: 0, timeout: 0 })
    expect(first.status).toBe(200)
    expect(first.body.result.map((u: any) => u.update_id)).toEqual([a, b])
    expect(first.body.result[1].message).toMatchObject({ chat: { id: 2 }, from: { id: 20, username: "bee" }, text: "b" })
    // Not confirmed yet: handed out again.
    expect((await call(tg, "getUpdates", { offset: a, timeout: 0 })).body.result).toHaveLength(2)
    expect((await call(tg, "getUpdates", { offset: b, timeout: 0 })).body.result.map((u: any) => u.update_id)).toEqual([b])
    expect(tg.held()).toEqual([b])
    expect((await call(tg, "getUpdates", { offset: b + 1, timeout: 0 })).body.result).toEqual([])
    expect(tg.held()).toEqual([])
    expect([...tg.delivered]).toEqual([a, b])
    expect(tg.deliveries.get(a)).toBe(2)
    expect((await call(tg, "getUpdates", { offset: 0, limit: 1, timeout: 0 })).body.result).toEqual([])
  })

  it("getUpdates long-polls: held until an update arrives or the timeout passes; an abort drops the waiter", async (ctx) => {
    const { expect } = ctx
    const tg = await FakeTelegram.start(ctx)
    const started = Date.now()
    const empty = await call(tg, "getUpdates", { offset: 0, timeout: 1 })
    expect(empty.body.result).toEqual([])
    expect(Date.now() - started).toBeGreaterThanOrEqual(900)

    const held = call(tg, "getUpdates", { offset: 0, timeout: 10 })
    await tg.waitFor(() => tg.waiting() === 1, 2_000, "the poll to be held")
    const id = tg.push({ chatId: 5, text: "wake up" })
    const woken = await held
    expect(woken.body.result.map((u: any) => u.update_id)).toEqual([id])
    expect(tg.waiting()).toBe(0)

    const abort = new AbortController()
    const aborted = call(tg, "getUpdates", { offset: id + 1, timeout: 10 }, tg.token, abort.signal).catch((e) => e)
    await tg.waitFor(() => tg.waiting() === 1, 2_000, "the poll to be held")
    abort.abort()
    await aborted
    await tg.waitFor(() => tg.waiting() === 0, 2_000, "the aborted poll's waiter to be dropped")
    const later = tg.push({ chatId: 5, text: "for the next poll" })
    expect(tg.delivered.has(later)).toBe(false)
  })

  it("a second long poll ends the first with 409 Conflict", async (ctx) => {
    const { expect } = ctx
    const tg = await FakeTelegram.start(ctx)
    const first = call(tg, "getUpdates", { offset: 0, timeout: 10 })
    await tg.waitFor(() => tg.waiting() === 1, 2_000, "the first poll held")
    const second = call(tg, "getUpdates", { offset: 0, timeout: 1 })
    expect((await first).status).toBe(409)
    expect((await second).status).toBe(200)
    expect(tg.conflicts).toBe(1)
  })

  it("sendMessage, sendChatAction, getMe, deleteWebhook; wrong token 401; scripted errors", async (ctx) => {
    const { expect } = ctx
    const tg = await FakeTelegram.start(ctx)
    expect((await call(tg, "getMe")).body.result).toMatchObject({ is_bot: true, username: "hermes_e2e_bot" })
    expect((await call(tg, "deleteWebhook")).body).toEqual({ ok: true, result: true })
    expect(await call(tg, "getMe", {}, "1:wrong")).toEqual({ status: 401, body: { ok: false, error_code: 401, description: "Unauthorized" } })

    const hi = (await call(tg, "sendMessage", { chat_id: 9, text: "hi" })).body.result
    expect(hi).toMatchObject({ message_id: expect.any(Number), chat: { id: 9 }, text: "hi" })
    expect((await call(tg, "sendMessage", { chat_id: 9, text: "x".repeat(4096) })).status).toBe(200)
    expect((await call(tg, "sendMessage", { chat_id: 9, text: "x".repeat(4097) })).body).toMatchObject({ error_code: 400 })
    expect((await call(tg, "sendMessage", { chat_id: 9, text: "" })).status).toBe(400)
    expect(tg.repliesTo(9)).toEqual(["hi", "x".repeat(4096)])
    expect(tg.sent[0]).toMatchObject({ chatId: 9, messageId: hi.message_id, text: "hi", at: expect.any(Number), editedAt: undefined })
    await call(tg, "sendChatAction", { chat_id: 9, action: "typing" })
    expect(tg.actionsIn(9).map((a) => a.action)).toEqual(["typing"])

    tg.failNext("sendMessage", { status: 429, description: "Too Many Requests: retry after 2", retryAfter: 2 }, 2)
    const limited = await call(tg, "sendMessage", { chat_id: 9, text: "later" })
    expect(limited).toEqual({
      status: 429,
      body: { ok: false, error_code: 429, description: "Too Many Requests: retry after 2", parameters: { retry_after: 2 } }
    })
    expect((await call(tg, "sendMessage", { chat_id: 9, text: "later" })).status).toBe(429)
    expect((await call(tg, "sendMessage", { chat_id: 9, text: "later" })).status).toBe(200)
    expect(tg.scriptedLeft()).toBe(0)
    expect(tg.callsOf("sendMessage").map((c) => c.status)).toEqual([200, 200, 400, 400, 429, 429, 200])
  })

  it("editMessageText: updates the sent message in place; same text 400 not modified; unknown id or other chat 400", async (ctx) => {
    const { expect } = ctx
    const tg = await FakeTelegram.start(ctx)
    const placeholder = (await call(tg, "sendMessage", { chat_id: 9, text: "\u2026" })).body.result
    const other = (await call(tg, "sendMessage", { chat_id: 9, text: "a notice" })).body.result
    expect(other.message_id).not.toBe(placeholder.message_id)
    const sentAt = tg.sent[0]!.at
    // Time passing is the point here: the edit must get a later timestamp than the sending.
    await new Promise((resolve) => setTimeout(resolve, 20))

    const edited = await call(tg, "editMessageText", { chat_id: 9, message_id: placeholder.message_id, text: "the answer" })
    expect(edited.status).toBe(200)
    expect(edited.body.result).toMatchObject({ message_id: placeholder.message_id, chat: { id: 9 }, text: "the answer", edit_date: expect.any(Number) })
    // The entry is the message's current state, still in send order; the edit is logged.
    expect(tg.repliesTo(9)).toEqual(["the answer", "a notice"])
    expect(tg.sent).toHaveLength(2)
    const message = tg.message(placeholder.message_id)!
    expect(message).toMatchObject({ chatId: 9, messageId: placeholder.message_id, text: "the answer", at: sentAt })
    expect(message.editedAt).toBeGreaterThan(sentAt)
    expect(textSetAt(message)).toBe(message.editedAt)
    expect(textSetAt(tg.message(other.message_id)!)).toBe(tg.message(other.message_id)!.at)
    expect(tg.edits).toEqual([{ chatId: 9, messageId: placeholder.message_id, text: "the answer", at: message.editedAt }])

    // Setting the same text again is refused, exactly as Telegram does, and changes nothing.
    const again = await call(tg, "editMessageText", { chat_id: 9, message_id: placeholder.message_id, text: "the answer" })
    expect(again).toEqual({ status: 400, body: { ok: false, error_code: 400, description: notModifiedDescription } })
    expect(again.body.description).toMatch(/^Bad Request: message is not modified/)
    expect(tg.edits).toHaveLength(1)
    expect(tg.message(placeholder.message_id)!.editedAt).toBe(message.editedAt)

    // An unknown message id, and a known one in another chat: not found.
    const notFound = { status: 400, body: { ok: false, error_code: 400, description: "Bad Request: message to edit not found" } }
    expect(await call(tg, "editMessageText", { chat_id: 9, message_id: 999_999, text: "x" })).toEqual(notFound)
    expect(await call(tg, "editMessageText", { chat_id: 10, message_id: placeholder.message_id, text: "x" })).toEqual(notFound)
    // A user's message (pushed) is not the bot's to edit either.
    tg.push({ chatId: 9, text: "from the user" })
    expect(await call(tg, "editMessageText", { chat_id: 9, message_id: other.message_id + 1, text: "x" })).toEqual(notFound)
    // Empty and too long texts are refused like sendMessage's; 4096 is fine.
    expect((await call(tg, "editMessageText", { chat_id: 9, message_id: other.message_id, text: "" })).status).toBe(400)
    expect((await call(tg, "editMessageText", { chat_id: 9, message_id: other.message_id, text: "y".repeat(4097) })).body)
      .toMatchObject({ ok: false, error_code: 400 })
    expect((await call(tg, "editMessageText", { chat_id: 9, message_id: other.message_id, text: "y".repeat(4096) })).status).toBe(200)
    expect(tg.repliesTo(9)).toEqual(["the answer", "y".repeat(4096)])
    expect(tg.repliesTo(10)).toEqual([])
    expect(tg.edits.map((e) => e.messageId)).toEqual([placeholder.message_id, other.message_id])
    expect(tg.callsOf("editMessageText").map((c) => c.status)).toEqual([200, 400, 400, 400, 400, 400, 400, 200])

    // Scripted errors apply to edits too.
    tg.failNext("editMessageText", { status: 502 })
    expect((await call(tg, "editMessageText", { chat_id: 9, message_id: other.message_id, text: "z" })).status).toBe(502)
    expect(tg.repliesTo(9)[1]).toBe("y".repeat(4096))
  })
})

describe.concurrent("FakeModel", () => {
  it("answers `answer: <last user message>`, streamed (as the openai client reads it) and plain", async (ctx) => {
    const { expect } = ctx
    const model = await FakeModel.start(ctx)
    const client = new OpenAI({ baseURL: model.baseUrl, apiKey: "unused", maxRetries: 0 })
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(["fake-model"])

    const messages = [
      { role: "system" as const, content: "be brief" },
      { role: "user" as const, content: "first" },
      { role: "assistant" as const, content: "answer: first" },
      { role: "user" as const, content: "the second question here" }
    ]
    const plain = await client.chat.completions.create({ model: "fake-model", messages })
    expect(plain.choices[0]!.message.content).toBe("answer: the second question here")

    const stream = await client.chat.completions.create({ model: "fake-model", messages, stream: true })
    const pieces: Array<string> = []
    for await (const chunk of stream) if (chunk.choices[0]?.delta.content) pieces.push(chunk.choices[0].delta.content)
    expect(pieces.join("")).toBe("answer: the second question here")
    expect(pieces.length).toBeGreaterThan(1)

    expect(model.requests.map((r) => r.stream)).toEqual([false, true])
    expect(model.requestsFor("the second question here")[1]!.messages).toEqual(messages)
    expect(model.requests.every((r) => r.done && !r.aborted)).toBe(true)
  })

  it("delay, hold/release, failures; a client that gives up is recorded as aborted", async (ctx) => {
    const { expect } = ctx
    const model = await FakeModel.start(ctx, { delay: (text) => (text === "slow" ? 400 : 0) })
    const client = new OpenAI({ baseURL: model.baseUrl, apiKey: "unused", maxRetries: 0 })
    const ask = (content: string, options: { signal?: AbortSignal } = {}) =>
      client.chat.completions.create({ model: "fake-model", messages: [{ role: "user", content }] }, options)

    const started = Date.now()
    expect((await ask("slow")).choices[0]!.message.content).toBe("answer: slow")
    expect(Date.now() - started).toBeGreaterThanOrEqual(350)

    const release = model.hold("held")
    let settled = false
    const pending = ask("held").then((r) => {
      settled = true
      return r
    })
    await model.waitForRequest("held", 30_000)
    // Staying unanswered is an absence over time: this wait is the thing under test.
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(settled).toBe(false)
    release()
    expect((await pending).choices[0]!.message.content).toBe("answer: held")

    model.failNext({ kind: "status", status: 500, message: "boom" })
    await expect(ask("fails")).rejects.toMatchObject({ status: 500 })
    model.failWhen = (text) => (text === "malformed" ? { kind: "malformed" } : undefined)
    const broken = await fetch(`${model.baseUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "fake-model", stream: true, messages: [{ role: "user", content: "malformed" }] })
    })
    const text = await broken.text()
    expect(text).toContain("this is not json")
    expect(text).not.toContain("[DONE]")

    model.hold("abandoned")
    const abort = new AbortController()
    const abandoned = ask("abandoned", { signal: abort.signal }).catch((e) => e)
    const request = await model.waitForRequest("abandoned", 30_000)
    abort.abort()
    await abandoned
    const deadline = Date.now() + 30_000
    while (!request.aborted && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(request.aborted).toBe(true)
    expect(request.done).toBe(false)
  })

  it("holdAll: every answer waits for the latch whatever its text; released, they all come and later ones at once", async (ctx) => {
    const { expect } = ctx
    const model = await FakeModel.start(ctx)
    const client = new OpenAI({ baseURL: model.baseUrl, apiKey: "unused", maxRetries: 0 })
    const ask = (content: string) =>
      client.chat.completions.create({ model: "fake-model", messages: [{ role: "user", content }] }, { signal: AbortSignal.timeout(30_000) })

    const release = model.holdAll()
    expect(model.holdAll()).toBe(release) // one latch until it is released
    const answered: Array<string> = []
    const pending = ["one", "two"].map((text) => ask(text).then((r) => (answered.push(text), r.choices[0]!.message.content)))
    await model.waitForRequest("one", 30_000)
    await model.waitForRequest("two", 30_000)
    expect(answered).toEqual([]) // both arrived (the fact a test waits on), neither has a byte back
    release()
    expect(await Promise.all(pending)).toEqual(["answer: one", "answer: two"])
    expect((await ask("three")).choices[0]!.message.content).toBe("answer: three")

    model.holdAll()
    const held = ask("four")
    await model.waitForRequest("four", 30_000)
    model.releaseAll()
    expect((await held).choices[0]!.message.content).toBe("answer: four")
  })
})
