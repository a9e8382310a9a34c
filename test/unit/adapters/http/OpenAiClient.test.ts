import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import OpenAI from "openai"
import { replyTo, startServing } from "./AdapterFixture.js"

const clientFor = (url: string, apiKey: string) =>
  // No retries: a failure must show up as a failure, not as a slow pass.
  new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0, timeout: 10_000 })

describe("HttpAdapter with the official openai client", () => {
  it.scopedLive("chat.completions.create works plain and streaming, models.list lists the model", () =>
    Effect.gen(function*() {
      const { url } = yield* startServing({ chunkDelay: "2 millis" }, { apiKey: Redacted.make("sk-test") })
      const client = clientFor(url, "sk-test")

      const completion = yield* Effect.promise(() =>
        client.chat.completions.create({
          model: "hermes-echo",
          messages: [{ role: "system", content: "be nice" }, { role: "user", content: "ping pong" }]
        })
      )
      expect(completion.choices[0]?.message.content).toBe(replyTo("ping pong"))
      expect(completion.choices[0]?.finish_reason).toBe("stop")
      expect(completion.id).toMatch(/^chatcmpl-/)

      const stream = yield* Effect.promise(() =>
        client.chat.completions.create({
          model: "hermes-echo",
          messages: [{ role: "user", content: "stream me please" }],
          stream: true
        })
      )
      const text = yield* Effect.promise(async () => {
        let text = ""
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ""
        return text
      })
      expect(text).toBe(replyTo("stream me please"))

      const models = yield* Effect.promise(() => client.models.list())
      expect(models.data.map((model) => model.id)).toEqual(["hermes-echo"])
    }))

  it.scopedLive("the client surfaces auth failures and interrupted streams as errors", () =>
    Effect.gen(function*() {
      const { url } = yield* startServing({ outcome: "Interrupted" }, { apiKey: Redacted.make("sk-test") })
      const wrongKey = yield* Effect.promise(() =>
        clientFor(url, "sk-wrong").models.list().then(() => undefined, (error: unknown) => error)
      )
      expect(wrongKey).toBeInstanceOf(OpenAI.AuthenticationError)

      const interrupted = yield* Effect.promise(async () => {
        const stream = await clientFor(url, "sk-test").chat.completions.create({
          model: "hermes-echo",
          messages: [{ role: "user", content: "hello" }],
          stream: true
        })
        try {
          for await (const _ of stream) {
            // drain
          }
          return undefined
        } catch (error) {
          return error
        }
      })
      expect(interrupted).toBeInstanceOf(OpenAI.APIError)
      expect((interrupted as Error).message).toContain("shutting down")
    }))
})
