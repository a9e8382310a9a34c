// End-to-end: the official OpenAI client against a real gateway (plain and streamed completions,
// API-key auth when one is configured, generation parameters and refusals with the openai agent).
import OpenAI from "openai"
import { beforeAll, describe, it } from "vitest"
import { FakeModel } from "./fakes/FakeModel.js"
import { assertBuilt, Sandbox } from "./harness.js"

beforeAll(assertBuilt)

describe.concurrent("OpenAI client", () => {
  it("plain and streamed completions return the echoed text", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    const port = await gw.waitRunning()
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "unused", maxRetries: 0 })
    // Bounds the whole exchange, body included (the client's own timeout does not cover the body).
    const bounded = () => ({ signal: AbortSignal.timeout(10_000) })

    const models = await client.models.list(bounded())
    const model = models.data[0]!.id
    expect(model).toBe("hermes-echo")

    const completion = await client.chat.completions.create({
      model,
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "an earlier message" },
        { role: "assistant", content: "an earlier reply" },
        { role: "user", content: "hello from the openai client" }
      ]
    }, bounded())
    expect(completion.object).toBe("chat.completion")
    expect(completion.choices[0]!.message.content).toBe("hello from the openai client")
    expect(completion.choices[0]!.finish_reason).toBe("stop")

    const stream = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "streamed words come back in pieces" }],
      stream: true,
      stream_options: { include_usage: true }
    }, bounded())
    const pieces: Array<string> = []
    let finish: string | null = null
    let usage: unknown = undefined
    for await (const chunk of stream) {
      const choice = chunk.choices[0]
      if (choice?.delta.content) pieces.push(choice.delta.content)
      if (choice?.finish_reason) finish = choice.finish_reason
      if (chunk.usage) usage = chunk.usage
    }
    expect(pieces.join("")).toBe("streamed words come back in pieces")
    expect(pieces.length).toBeGreaterThan(1)
    expect(finish).toBe("stop")
    expect(usage).toMatchObject({ total_tokens: expect.any(Number) })

    gw.signal("SIGINT")
    expect(await gw.waitExit()).toEqual({ code: 0, signal: null })
  })

  it("with api_key configured, the right key is served and a wrong one gets 401", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home("adapters:\n  http:\n    port: 0\n    api_key: e2e-secret\n")
    const gw = sb.run(home)
    const port = await gw.waitRunning()
    const baseURL = `http://127.0.0.1:${port}/v1`

    const bounded = () => ({ signal: AbortSignal.timeout(10_000) })
    const good = new OpenAI({ baseURL, apiKey: "e2e-secret", maxRetries: 0 })
    const completion = await good.chat.completions.create(
      { model: "hermes-echo", messages: [{ role: "user", content: "authorized" }] },
      bounded()
    )
    expect(completion.choices[0]!.message.content).toBe("authorized")

    const bad = new OpenAI({ baseURL, apiKey: "wrong", maxRetries: 0 })
    const refused = await bad.chat.completions.create({ model: "hermes-echo", messages: [{ role: "user", content: "x" }] }, bounded())
      .then(() => undefined, (error: unknown) => error)
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError)
    expect((refused as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401)

    gw.signal("SIGINT")
    expect(await gw.waitExit()).toEqual({ code: 0, signal: null })
  })

  it("with the openai agent: parameters reach the model server, its model and usage come back, tools are refused", async (ctx) => {
    const { expect } = ctx
    const model = await FakeModel.start(ctx, { answer: (text) => `{"echo": ${JSON.stringify(text)}}` })
    model.servedModel = "fake-model-2026-12-05"
    const sb = new Sandbox(ctx)
    const home = sb.home([
      "adapters:",
      "  http:",
      "    port: 0",
      "agent:",
      "  kind: openai",
      "  openai:",
      `    base_url: ${JSON.stringify(model.baseUrl)}`,
      "    model: fake-model",
      "    timeout: 10s",
      ""
    ].join("\n"))
    const gw = sb.run(home)
    const port = await gw.waitRunning()
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "unused", maxRetries: 0 })
    const bounded = () => ({ signal: AbortSignal.timeout(10_000) })

    const completion = await client.chat.completions.create({
      model: "fake-model",
      messages: [{ role: "user", content: "json mode please" }],
      response_format: { type: "json_object" },
      temperature: 0.1,
      max_tokens: 64,
      seed: 3,
      stop: ["\n\n"]
    }, bounded())
    expect(JSON.parse(completion.choices[0]!.message.content!)).toEqual({ echo: "json mode please" })
    const [sent] = model.requestsFor("json mode please")
    expect(sent?.body).toMatchObject({
      model: "fake-model",
      response_format: { type: "json_object" },
      temperature: 0.1,
      max_tokens: 64,
      seed: 3,
      stop: ["\n\n"]
    })
    // The fake counts a prompt token per message and a completion token per streamed piece.
    expect(completion.model).toBe("fake-model-2026-12-05")
    // (the gateway's own word count would be 3 + 4 = 7).
    expect(completion.usage).toEqual({ prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 })

    const stream = await client.chat.completions.create({
      model: "fake-model",
      messages: [{ role: "user", content: "streamed with usage" }],
      stream: true,
      stream_options: { include_usage: true },
      top_p: 0.5
    }, bounded())
    const models = new Set<string>()
    let usage: unknown = undefined
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) models.add(chunk.model)
      if (chunk.usage) usage = chunk.usage
    }
    expect([...models]).toEqual(["fake-model-2026-12-05"])
    expect(usage).toEqual({ prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 })
    expect(model.requestsFor("streamed with usage")[0]?.body).toMatchObject({ top_p: 0.5 })

    const before = model.requests.length
    const refused = await client.chat.completions.create({
      model: "fake-model",
      messages: [{ role: "user", content: "call a tool" }],
      tools: [{ type: "function", function: { name: "lookup", parameters: { type: "object", properties: {} } } }]
    }, bounded()).then(() => undefined, (error: unknown) => error)
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError)
    const bad = refused as InstanceType<typeof OpenAI.BadRequestError>
    expect(bad.status).toBe(400)
    expect(bad.param).toBe("tools")
    expect(bad.code).toBe("unsupported_parameter")
    expect(bad.message).toMatch(/tools: tool calling is not supported/)
    expect(model.requests.length).toBe(before)

    gw.signal("SIGINT")
    expect(await gw.waitExit()).toEqual({ code: 0, signal: null })
  })
})
