import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { decodeChatCompletionRequest, toInboundMessage } from "../../../../src/adapters/http/ChatCompletionRequest.js"

const messages = [{ role: "user", content: "hi" }]
const decode = (fields: Record<string, unknown>) => decodeChatCompletionRequest({ messages, ...fields })
const errorOf = (fields: Record<string, unknown>) =>
  Either.getLeft(decode(fields)).pipe((option) => option._tag === "Some" ? option.value : undefined)

const forwarded = {
  temperature: 0.7,
  top_p: 0.5,
  max_tokens: 100,
  max_completion_tokens: 80,
  stop: ["END"],
  seed: 42,
  response_format: { type: "json_schema", json_schema: { name: "reply", schema: { type: "object" }, strict: true } },
  presence_penalty: 1,
  frequency_penalty: -1
}

describe("generation parameters of a chat completion request", () => {
  it("the forwarded parameters reach the turn's inbound message as sent", () => {
    const inbound = toInboundMessage(Either.getOrThrow(decode(forwarded)), undefined)
    expect(inbound.generation).toEqual(forwarded)
    const json = toInboundMessage(Either.getOrThrow(decode({ response_format: { type: "json_object" }, stop: "x" })), undefined)
    expect(json.generation).toEqual({ response_format: { type: "json_object" }, stop: "x" })
  })

  it("absent and null parameters are left to the model server", () => {
    const nulls = Object.fromEntries(Object.keys(forwarded).map((name) => [name, null]))
    expect(toInboundMessage(Either.getOrThrow(decode(nulls)), undefined).generation).toBeUndefined()
    expect(toInboundMessage(Either.getOrThrow(decode({})), undefined).generation).toBeUndefined()
  })

  it.each([
    ["temperature", 2.5, "temperature: must be between 0 and 2"],
    ["temperature", "hot", "temperature: Expected number, actual \"hot\""],
    ["top_p", 1.5, "top_p: must be between 0 and 1"],
    ["max_tokens", 0, "max_tokens: must be a whole number of at least 1"],
    ["max_completion_tokens", 2.5, "max_completion_tokens: must be a whole number of at least 1"],
    ["stop", 5, "stop: Expected a string or an array of up to 4 strings"],
    ["stop", ["a", "b", "c", "d", "e"], "stop: must hold at most 4 sequences"],
    ["stop", ["a", 5], "stop[1]: Expected string, actual 5"],
    ["stop", "", "stop: must not be empty"],
    ["seed", 1.5, "seed: Expected an integer, actual 1.5"],
    ["response_format", { type: "xml" }, "response_format: Expected {\"type\": \"text\" | \"json_object\" | \"json_schema\"}, actual \"xml\""],
    ["presence_penalty", -3, "presence_penalty: must be between -2 and 2"],
    ["frequency_penalty", 3, "frequency_penalty: must be between -2 and 2"]
  ])("a bad %s (%j) is a 400 naming the field", (name, value, message) => {
    expect(errorOf({ [name]: value })).toEqual({ message, param: name })
  })

  it("json_schema without a name is refused", () => {
    expect(errorOf({ response_format: { type: "json_schema", json_schema: { schema: {} } } })?.param).toBe("response_format")
  })

  it.each([
    ["n", 2],
    ["tools", [{ type: "function", function: { name: "lookup", parameters: {} } }]],
    ["tool_choice", "auto"],
    ["parallel_tool_calls", "yes"],
    ["functions", [{ name: "lookup" }]],
    ["function_call", "auto"],
    ["audio", { voice: "alloy", format: "wav" }],
    ["modalities", ["text", "audio"]],
    ["logprobs", true],
    ["top_logprobs", 3]
  ])("%s (%j) is refused with a 400 naming it, not dropped", (name, value) => {
    const error = errorOf({ [name]: value })
    expect(error?.param).toBe(name)
    expect(error?.code).toBe("unsupported_parameter")
    expect(error?.message.startsWith(`${name}: `)).toBe(true)
    expect(error?.message).toMatch(/supported|must be 1/)
  })

  it("the no-op values of refused fields pass (clients that send defaults keep working)", () => {
    const defaults = {
      n: 1,
      tools: [],
      tool_choice: "none",
      parallel_tool_calls: true,
      functions: [],
      function_call: "none",
      audio: null,
      modalities: ["text"],
      logprobs: false,
      top_logprobs: null
    }
    expect(Either.isRight(decode(defaults))).toBe(true)
  })

  it.each([
    ["image_url", { type: "image_url", image_url: { url: "https://example.com/cat.png" } }],
    ["input_audio", { type: "input_audio", input_audio: { data: "AAAA", format: "wav" } }]
  ])("a %s content part is refused naming the part", (type, part) => {
    const error = Either.getLeft(decodeChatCompletionRequest({
      messages: [{ role: "user", content: [{ type: "text", text: "look" }, part] }]
    })).pipe((option) => option._tag === "Some" ? option.value : undefined)
    expect(error?.param).toBe("messages")
    expect(error?.message).toBe(
      `messages[0].content[1].type: Expected "text" (only text content parts are supported), actual "${type}"`
    )
  })
})
