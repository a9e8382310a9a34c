// The model server's stream chunks, decoded: what the answer needs must be well formed, what is only
// passed on (model, usage, finish reason) is dropped when it is not what OpenAI documents.
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { parseSseData } from "../../../src/agents/OpenAiAgent.js"

const events = (data: unknown) => {
  const parsed = parseSseData(typeof data === "string" ? data : JSON.stringify(data))
  if (Either.isLeft(parsed)) throw new Error(`expected events, got a failure: ${parsed.left.message}`)
  return parsed.right
}

const failure = (data: unknown) => {
  const parsed = parseSseData(typeof data === "string" ? data : JSON.stringify(data))
  if (Either.isRight(parsed)) throw new Error(`expected a failure, got ${JSON.stringify(parsed.right)}`)
  return parsed.left.message
}

describe("model server stream chunks", () => {
  it("text, model, usage and finish reason come out of a well-formed chunk", () => {
    expect(events({
      model: "gpt-x",
      usage: { prompt_tokens: 3, completion_tokens: 2 },
      choices: [{ delta: { content: "hi" }, finish_reason: "length" }]
    })).toEqual([
      { _tag: "Report", report: { model: "gpt-x", usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } } },
      { _tag: "Report", report: { finishReason: "length" } },
      { _tag: "Content", text: "hi" }
    ])
    expect(events("[DONE]")).toEqual([{ _tag: "Done" }])
  })

  it("what is only passed on is dropped when malformed, never failing the answer", () => {
    expect(events({
      model: 42,
      usage: { prompt_tokens: -1, completion_tokens: "2" },
      choices: [{ delta: { content: "ok" }, finish_reason: "tool_calls" }]
    })).toEqual([{ _tag: "Content", text: "ok" }])
    expect(events({ model: "  ", choices: [{ delta: null }] })).toEqual([])
    expect(events({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: "x" } })).toEqual([
      { _tag: "Report", report: { usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } } }
    ])
  })

  it("what the answer needs must be well formed", () => {
    expect(failure("{not json")).toMatch(/bad JSON/)
    expect(failure("7")).toMatch(/not an object/)
    expect(failure({ choices: "many" })).toMatch(/no choices/)
    expect(failure({ choices: [{ delta: { content: 7 } }] })).toMatch(/content is not text/)
    expect(failure({ error: { message: "overloaded" } })).toMatch(/failed mid-answer: overloaded/)
  })
})
