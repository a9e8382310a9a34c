// The environment is checked like the file: a misspelt HERMES_* variable is a config error (78)
// naming the variable it meant, and `doctor` checks what `run` would need from the environment
// (each enabled platform's secret variable) and whether the openai agent's model server answers.
import * as http from "node:http"
import { beforeAll, describe, it } from "vitest"
import { FakeModel, fakeModelName } from "./fakes/FakeModel.js"
import { closeServer, listenOnLoopback } from "./fakes/LoopbackServer.js"
import { assertBuilt, defaultConfig, Sandbox } from "./harness.js"

beforeAll(assertBuilt)

const openAiConfig = (baseUrl: string, extra = ""): string =>
  `${defaultConfig()}  kind: openai\n  openai:\n    base_url: ${baseUrl}\n    model: ${fakeModelName}\n${extra}`

/** A loopback port nothing listens on: taken, then given back. */
const closedPort = async (): Promise<number> => {
  const server = http.createServer()
  const port = await listenOnLoopback(server)
  await closeServer(server)
  return port
}

describe.concurrent("environment typos and doctor's platform checks", () => {
  it("run exits 78 naming a misspelt variable and the one it meant; doctor reports it", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gateway = sb.run(home, { HERMES_GATEWAY_DRAIN_TIMOUT: "5s" })
    const exit = await gateway.waitExit()
    expect(exit.code, gateway.describe()).toBe(78)
    expect(gateway.describe()).toContain("HERMES_GATEWAY_DRAIN_TIMOUT: unknown variable (did you mean HERMES_GATEWAY_DRAIN_TIMEOUT?)")

    const doctor = await sb.cli(["gateway", "doctor", "--home", home.dir], { HERMES_GATEWAY_DRAIN_TIMOUT: "5s" })
    expect(doctor.code, doctor.stdout + doctor.stderr).toBe(1)
    expect(doctor.stdout).toMatch(/FAIL\s+config\s+HERMES_GATEWAY_DRAIN_TIMOUT: unknown variable \(did you mean HERMES_GATEWAY_DRAIN_TIMEOUT\?\)/)
  })

  it("stop with a misspelt variable warns naming it and still stops the gateway", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gateway = sb.run(home)
    await gateway.waitRunning()
    const stop = await sb.cli(["gateway", "stop", "--home", home.dir], { HERMES_GATEWAY_DRAIN_TIMOUT: "5s" })
    expect(stop.code, stop.stdout + stop.stderr).toBe(0)
    expect(stop.stderr).toContain("warning: HERMES_GATEWAY_DRAIN_TIMOUT: unknown variable (did you mean HERMES_GATEWAY_DRAIN_TIMEOUT?)")
    expect((await gateway.waitExit()).code).toBe(0)
  })

  it("doctor fails naming the token variable of an enabled Telegram adapter when it is unset", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home(defaultConfig().replace("adapters:\n", "adapters:\n  telegram:\n    enabled: true\n    token_env: DOCTOR_E2E_BOT_TOKEN\n"))
    const unset = await sb.cli(["gateway", "doctor", "--home", home.dir], { DOCTOR_E2E_BOT_TOKEN: undefined })
    expect(unset.code, unset.stdout + unset.stderr).toBe(1)
    expect(unset.stdout).toMatch(/FAIL\s+telegram\s+.*DOCTOR_E2E_BOT_TOKEN is not set/)

    const set = await sb.cli(["gateway", "doctor", "--home", home.dir], { DOCTOR_E2E_BOT_TOKEN: "123:secret-token-value" })
    expect(set.code, set.stdout + set.stderr).toBe(0)
    expect(set.stdout).toMatch(/ok\s+telegram\s+the bot token variable DOCTOR_E2E_BOT_TOKEN is set/)
    expect(set.stdout + set.stderr).not.toContain("secret-token-value")
  })

  it("doctor fails naming the URL when the openai model server does not answer", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const url = `http://127.0.0.1:${await closedPort()}/v1`
    const doctor = await sb.cli(["gateway", "doctor", "--home", sb.home(openAiConfig(url)).dir])
    expect(doctor.code, doctor.stdout + doctor.stderr).toBe(1)
    expect(doctor.stdout).toContain(`GET ${url}/models: cannot connect (ECONNREFUSED)`)
    expect(doctor.stdout).toMatch(/FAIL\s+model\s+GET /)
  })

  it("doctor gives up on a model server that accepts and never answers, within its bound", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const silent = http.createServer(() => undefined)
    const port = await listenOnLoopback(silent)
    ctx.onTestFinished(() => closeServer(silent))
    const doctor = await sb.cli(["gateway", "doctor", "--home", sb.home(openAiConfig(`http://127.0.0.1:${port}/v1`)).dir])
    expect(doctor.code, doctor.stdout + doctor.stderr).toBe(1)
    expect(doctor.stdout).toMatch(/FAIL\s+model\s+GET http:\/\/127\.0\.0\.1:\d+\/v1\/models: no answer within 5s/)
  })

  it("doctor is content with a model server that answers /models, and never prints the key", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const model = await FakeModel.start(ctx)
    const home = sb.home(openAiConfig(model.baseUrl, "    api_key_env: DOCTOR_E2E_MODEL_KEY\n"))
    const doctor = await sb.cli(["gateway", "doctor", "--home", home.dir], { DOCTOR_E2E_MODEL_KEY: "model-key-not-to-print" })
    expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0)
    expect(doctor.stdout).toMatch(new RegExp(`ok\\s+model\\s+GET ${model.baseUrl}/models answered; it lists ${fakeModelName}`))
    expect(doctor.stdout).toMatch(/ok\s+agent\s+the API key variable DOCTOR_E2E_MODEL_KEY is set/)
    expect(doctor.stdout + doctor.stderr).not.toContain("model-key-not-to-print")

    const unsetKey = await sb.cli(["gateway", "doctor", "--home", home.dir], { DOCTOR_E2E_MODEL_KEY: undefined })
    expect(unsetKey.code).toBe(1)
    expect(unsetKey.stdout).toMatch(/FAIL\s+agent\s+agent\.openai\.api_key_env: the environment variable DOCTOR_E2E_MODEL_KEY is not set/)
  })
})
