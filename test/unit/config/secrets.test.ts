// Secrets stay Redacted from the moment they are read: printing, logging or serialising the config
// or the agent's options shows <redacted>, and an error about a secret describes it without quoting it.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Inspectable from "effect/Inspectable"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import { isAuthorized } from "../../../src/adapters/http/BearerAuth.js"
import { openAiOptionsFrom } from "../../../src/agents/OpenAiAgent.js"
import { accepted, rejected } from "./ConfigFixture.js"

const httpKey = "hk-5e2a40689f3b7c1d"
const agentKey = "sk-agent-3b2f46807d1e5c9a"
const config = `adapters:\n  http:\n    host: 0.0.0.0\n    api_key: ${httpKey}\nagent:\n  kind: openai\n  openai:\n    model: m\n    api_key_env: OPENAI_API_KEY\n`

/** Every way a value ends up as text in this program: JSON, inspection, String(), a log line. */
const renderings = (value: unknown): Effect.Effect<ReadonlyArray<string>> =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const capture = Logger.make(({ message }) => void lines.push(Inspectable.format(message)))
    yield* Effect.log(value).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)))
    yield* Effect.log("config", value).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, Logger.logfmtLogger)))
    return [JSON.stringify(value), Inspectable.format(value), String(Inspectable.toJSON(value)), ...lines]
  })

describe("secrets", () => {
  it.effect("the HTTP api_key in the loaded config is Redacted and never rendered", () =>
    Effect.gen(function*() {
      const loaded = accepted(config, { OPENAI_API_KEY: agentKey })
      const key = loaded.adapters.http.api_key
      expect(key !== null && Redacted.isRedacted(key)).toBe(true)
      expect(Redacted.value(key!)).toBe(httpKey)
      for (const text of yield* renderings(loaded)) expect(text).not.toContain(httpKey)
    }))

  it.effect("the agent's API key is Redacted in its options", () =>
    Effect.gen(function*() {
      const loaded = accepted(config, { OPENAI_API_KEY: agentKey })
      const options = Either.getOrThrow(openAiOptionsFrom(loaded.agent.openai, { OPENAI_API_KEY: agentKey }))
      for (const text of yield* renderings(options)) expect(text).not.toContain(agentKey)
    }))

  it("a key of the wrong type is described by its type, not quoted", () => {
    const error = rejected("adapters:\n  http:\n    api_key: 73910462855301\n")
    expect(error.path).toBe("adapters.http.api_key")
    expect(error.message).toContain("expected a string or null, got a number")
    expect(error.message).not.toContain("73910462855301")
  })

  it("a key refused for its shape is not quoted either", () => {
    const error = rejected(`adapters:\n  http:\n    api_key: " ${httpKey}"\n`)
    expect(error.message).toContain("must not begin or end with whitespace")
    expect(error.message).not.toContain(httpKey)
  })

  it("the bearer check compares against the Redacted key", () => {
    const key = Redacted.make(httpKey)
    expect(isAuthorized(`Bearer ${httpKey}`, key)).toBe(true)
    expect(isAuthorized(`Bearer ${httpKey}x`, key)).toBe(false)
    expect(isAuthorized(undefined, key)).toBe(false)
  })
})
