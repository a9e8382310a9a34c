import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { startServing } from "./AdapterFixture.js"
import { parseEvents, postJson } from "./RawHttp.js"

const completions = "/v1/chat/completions"
const hello = { messages: [{ role: "user", content: "hello there" }] }
const report = {
  model: "served-model-2026",
  usage: { prompt_tokens: 11, completion_tokens: 5, total_tokens: 16 },
  finishReason: "length"
} as const
const json = (text: string) => JSON.parse(text)

describe("HttpAdapter: the model and usage the agent reports", () => {
  it.scopedLive("a plain completion carries the reported model, usage and finish reason, not the configured model and a word count", () =>
    Effect.gen(function*() {
      const { url } = yield* startServing({ report })
      const response = yield* postJson(url, completions, hello)
      expect(response.status).toBe(200)
      const body = json(response.body)
      expect(body.model).toBe("served-model-2026")
      expect(body.usage).toEqual(report.usage)
      expect(body.choices[0].finish_reason).toBe("length")
    }))

  it.scopedLive("a streamed completion names the reported model once known, and its usage chunk is the reported usage", () =>
    Effect.gen(function*() {
      const { url } = yield* startServing({ report })
      const response = yield* postJson(url, completions, { ...hello, stream: true, stream_options: { include_usage: true } })
      expect(response.status).toBe(200)
      const events = parseEvents(response.body).data.slice(0, -1).map(json)
      // The acknowledgement chunk goes out before the agent has said anything (CONTRACT 9).
      expect(events[0].model).toBe("hermes-echo")
      const withText = events.filter((event) => event.choices[0]?.delta?.content)
      expect(withText.length).toBeGreaterThan(0)
      for (const event of withText) expect(event.model).toBe("served-model-2026")
      expect(events.at(-1).usage).toEqual(report.usage)
      expect(events.find((event) => event.choices[0]?.finish_reason)?.choices[0].finish_reason).toBe("length")
    }))

  it.scopedLive("without a report (the echo agent) the configured model and the word count answer", () =>
    Effect.gen(function*() {
      const { url } = yield* startServing()
      const body = json((yield* postJson(url, completions, hello)).body)
      expect(body.model).toBe("hermes-echo")
      expect(body.usage).toEqual({ prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 })
    }))
})
