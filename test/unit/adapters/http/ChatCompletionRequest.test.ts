import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import {
  decodeChatCompletionRequest,
  parseJson,
  toInboundMessage
} from "../../../../src/adapters/http/ChatCompletionRequest.js"

const decode = (body: unknown) => decodeChatCompletionRequest(body)
const errorOf = (body: unknown) => Either.getLeft(decode(body)).pipe((option) => option._tag === "Some" ? option.value : undefined)

describe("ChatCompletionRequest", () => {
  it("accepts OpenAI bodies and ignores fields it does not use", () => {
    const decoded = decode({
      model: "gpt-4o",
      messages: [{ role: "user", content: "hi", name: "alice" }],
      temperature: 0.3,
      tools: [],
      stream: null,
      user: null
    })
    expect(Either.isRight(decoded)).toBe(true)
  })

  it("names the bad field with its path and the top-level key as param", () => {
    expect(errorOf({ messages: [{ role: "user", content: "hi" }, { role: "bot", content: "x" }] })).toEqual({
      message: 'messages[1].role: Expected one of "system", "user", "assistant", "developer", "tool", actual "bot"',
      param: "messages"
    })
    expect(errorOf({ messages: [{ role: "user", content: [{ type: "text" }] }] })).toEqual({
      message: "messages[0].content[0].text: is missing",
      param: "messages"
    })
    expect(errorOf({ messages: [{ role: "user", content: "x" }], user: 5 })?.message).toBe(
      "user: Expected string, actual 5"
    )
    expect(errorOf({ messages: [3] })?.message).toBe("messages[0]: Expected a message object {role, content}, actual 3")
    expect(errorOf("text")).toEqual({ message: 'Expected a JSON object, actual "text"', param: null })
  })

  it("refuses a conversation without a user message", () => {
    expect(errorOf({ messages: [] })?.message).toBe('messages: must contain at least one message with role "user"')
    expect(errorOf({ messages: [{ role: "assistant", content: "x" }] })?.param).toBe("messages")
  })

  it("reports unparsable JSON", () => {
    const parsed = parseJson("{oops")
    expect(Either.isLeft(parsed)).toBe(true)
    expect(Either.getLeft(parsed).pipe((o) => o._tag === "Some" && o.value.message)).toMatch(/^request body is not valid JSON: /)
  })

  it("takes the last user message as the turn and maps the earlier ones to history", () => {
    const request = Either.getOrThrow(decode({
      messages: [
        { role: "system", content: "sys" },
        { role: "developer", content: [{ type: "text", text: "dev" }] },
        { role: "user", content: "one" },
        { role: "assistant", content: null },
        { role: "tool", content: "{}" },
        { role: "user", content: "two" },
        { role: "assistant", content: "prefill" }
      ]
    }))
    expect(toInboundMessage(request, undefined)).toEqual({
      platform: "http",
      sessionKey: undefined,
      text: "two",
      history: [
        { role: "system", content: "sys" },
        { role: "system", content: "dev" },
        { role: "user", content: "one" },
        { role: "assistant", content: "" }
      ]
    })
  })

  it("prefers the body's user over the session header, and ignores empty values", () => {
    const request = (user: string | null | undefined) =>
      Either.getOrThrow(decode({ messages: [{ role: "user", content: "x" }], ...(user === undefined ? {} : { user }) }))
    expect(toInboundMessage(request("alice"), "header").sessionKey).toBe("alice")
    expect(toInboundMessage(request(undefined), "header").sessionKey).toBe("header")
    expect(toInboundMessage(request(""), "header").sessionKey).toBe("header")
    expect(toInboundMessage(request(null), "").sessionKey).toBeUndefined()
  })
})
