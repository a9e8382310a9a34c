import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import {
  type BotApiError,
  decodeAnswer,
  isTokenRejected,
  isTransient,
  redactToken,
  SentMessage,
  TelegramUser,
  UpdateBatch
} from "../../../../src/adapters/telegram/BotApi.js"
import { routeUpdate } from "../../../../src/adapters/telegram/UpdateRouting.js"

const failure = <A, I>(status: number, body: unknown, result: Schema.Schema<A, I> = Schema.Unknown as any): BotApiError => {
  const decoded = decodeAnswer("getMe", status, body, result)
  if (Either.isRight(decoded)) throw new Error(`expected a failure, got ${JSON.stringify(decoded.right)}`)
  return decoded.left
}

describe("Bot API answers decoded with Schema", () => {
  it("a good answer gives its result, decoded", () => {
    const me = decodeAnswer("getMe", 200, { ok: true, result: { id: 42, is_bot: true, username: "hermes_bot" } }, TelegramUser)
    expect(me).toEqual(Either.right({ id: 42, is_bot: true, username: "hermes_bot" }))
  })

  it("a 2xx body that is not a Bot API envelope (a proxy's page, not JSON) is BotApiMalformed, transient, saying so", () => {
    for (const body of [undefined, "<html>502 from the proxy</html>", [1, 2], { result: [] }, { ok: "yes" }]) {
      const error = failure(200, body)
      expect(error._tag).toBe("BotApiMalformed")
      expect(error.message).toMatch(/^getMe: the Telegram Bot API answered with a malformed response \(.+\)$/)
      expect(isTransient(error)).toBe(true)
    }
  })

  it("ok: true with a result of the wrong shape names the bad field", () => {
    const error = failure(200, { ok: true, result: { username: "no id" } }, TelegramUser)
    expect(error._tag).toBe("BotApiMalformed")
    expect(error.message).toContain("unexpected result (id: is missing)")
    expect(failure(200, { ok: true, result: { message_id: "7" } }, SentMessage)._tag).toBe("BotApiMalformed")
    expect(failure(200, { ok: true, result: { updates: [] } }, UpdateBatch)._tag).toBe("BotApiMalformed")
  })

  it("a long bad value is cut short in the message", () => {
    const error = failure(200, "x".repeat(10_000))
    expect(error.message.length).toBeLessThan(300)
  })

  it("429 carries Telegram's retry_after as a Duration; without one it is still rate limited", () => {
    const error = failure(429, { ok: false, error_code: 429, description: "Too Many Requests: retry after 7", parameters: { retry_after: 7 } })
    expect(error._tag).toBe("BotApiRateLimited")
    expect(error._tag === "BotApiRateLimited" && Duration.toMillis(error.retryAfter!)).toBe(7_000)
    expect(error.message).toBe("getMe failed: 429 Too Many Requests: retry after 7")
    const bare = failure(429, "slow down")
    expect(bare._tag === "BotApiRateLimited" && bare.retryAfter).toBeUndefined()
    expect(isTransient(bare)).toBe(true)
  })

  it("409 is a conflict (another poller or a webhook), neither transient nor a rejected token", () => {
    const error = failure(409, { ok: false, error_code: 409, description: "Conflict: terminated by other getUpdates request" })
    expect(error._tag).toBe("BotApiConflict")
    expect(isTransient(error)).toBe(false)
    expect(isTokenRejected(error)).toBe(false)
  })

  it("401 and 404 are a rejected token; 403 and 400 are permanent refusals of one request", () => {
    expect(isTokenRejected(failure(401, { ok: false, error_code: 401, description: "Unauthorized" }))).toBe(true)
    expect(isTokenRejected(failure(404, "Not Found"))).toBe(true)
    const blocked = failure(403, { ok: false, error_code: 403, description: "Forbidden: bot was blocked by the user" })
    expect(blocked._tag).toBe("BotApiPermanent")
    expect(isTokenRejected(blocked)).toBe(false)
    expect(isTransient(blocked)).toBe(false)
  })

  it("5xx with or without an envelope is transient; HTTP 200 with ok: false reads error_code", () => {
    expect(failure(502, "<html>bad gateway</html>")).toMatchObject({ _tag: "BotApiTransient", status: 502, message: "getMe failed: 502 HTTP 502" })
    expect(failure(200, { ok: false, error_code: 400, description: "Bad Request" })).toMatchObject({ _tag: "BotApiPermanent", status: 400 })
    expect(failure(200, { ok: false })).toMatchObject({ _tag: "BotApiTransient", status: 500 })
  })

  it("a token handed over as a plain string is wrapped: it never shows when printed", () => {
    const token = redactToken("123:secret")
    expect(Redacted.value(token)).toBe("123:secret")
    expect(String(token)).not.toContain("secret")
    expect(JSON.stringify({ token })).not.toContain("secret")
    expect(redactToken(token)).toBe(token)
  })
})

describe("routing one update", () => {
  const update = (message: unknown) => ({ update_id: 5, message })
  const from = { id: 7, username: "Alice" }

  it("an update without a readable message is ignored (handled at once)", () => {
    expect(routeUpdate({ update_id: 5 }, [], null)._tag).toBe("Ignore")
    expect(routeUpdate(update({ chat: { id: "not a number" }, text: "hi" }), [], null)._tag).toBe("Ignore")
    expect(routeUpdate(update("garbage"), [], null)._tag).toBe("Ignore")
  })

  it("a message from someone not allowed is refused; a sticker is 'not text'; a command is a command", () => {
    expect(routeUpdate(update({ chat: { id: 1 }, from, text: "hi" }), [99], null)).toMatchObject({ _tag: "Refuse", chatId: 1, userId: "7" })
    expect(routeUpdate(update({ chat: { id: 1 }, from, sticker: {} }), [], null)._tag).toBe("NotText")
    expect(routeUpdate(update({ chat: { id: 1 }, from, text: "/status@hermes_bot" }), ["alice"], "hermes_bot")).toMatchObject({
      _tag: "Command",
      command: "status"
    })
  })

  it("a text is a turn named by username, else user id, else chat id", () => {
    expect(routeUpdate(update({ chat: { id: 1 }, from, text: "hi" }), [], null)).toEqual({ _tag: "Turn", updateId: 5, chatId: 1, text: "hi", user: "Alice" })
    expect(routeUpdate(update({ chat: { id: 1 }, from: { id: 8 }, text: "hi" }), [], null)).toMatchObject({ user: "8" })
    expect(routeUpdate(update({ chat: { id: 1 }, text: "hi" }), [], null)).toMatchObject({ user: "1" })
  })
})
