// A HERMES_* variable that is no config key and none of the gateway's own variables is a typo: the
// config is rejected (exit 78) naming it, with the variable it most likely meant.
import { describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { editDistance, gatewayVariables, unknownVariables } from "../../../src/config/EnvVariables.js"
import { ConfigError, configLeaves, resolveConfig } from "../../../src/config/LoadConfig.js"

type Env = Record<string, string | undefined>

const resolve = (text: string | undefined, env: Env) =>
  resolveConfig(text === undefined ? Option.none() : Option.some(text), { file: "config.yaml", env })

const rejected = (text: string | undefined, env: Env): ConfigError =>
  Either.match(resolve(text, env), {
    onLeft: (error) => error,
    onRight: () => {
      throw new Error("expected a ConfigError, got a config")
    }
  })

const configVariables = configLeaves.map((leaf) => leaf.variable)

describe("HERMES_* variables that are not config keys", () => {
  it("a misspelt key's variable is rejected naming it and the variable it meant", () => {
    const error = rejected(undefined, { HERMES_GATEWAY_DRAIN_TIMOUT: "5s" })
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.exitCode).toBe(78)
    expect(error.message).toBe("HERMES_GATEWAY_DRAIN_TIMOUT: unknown variable (did you mean HERMES_GATEWAY_DRAIN_TIMEOUT?)")
  })

  it("a variable far from every key is rejected without a guess", () => {
    const error = rejected(undefined, { HERMES_COMPLETELY_UNRELATED_THING: "1" })
    expect(error.message).toMatch(/^HERMES_COMPLETELY_UNRELATED_THING: unknown variable: no config key is spelt so/)
    expect(error.message).not.toContain("did you mean")
  })

  it("is reported with the file's own problems, all at once", () => {
    const error = rejected("gateway:\n  marker_ttl: soon\n", { HERMES_LOG_LEVLE: "debug", HERMES_HOME: "/srv" })
    const lines = error.message.split("\n")
    expect(lines).toHaveLength(2)
    expect(lines).toContain("HERMES_LOG_LEVLE: unknown variable (did you mean HERMES_LOG_LEVEL?)")
    expect(lines.some((line) => line.startsWith("config.yaml: gateway.marker_ttl:"))).toBe(true)
  })

  it("the gateway's documented variables are accepted", () => {
    for (const variable of gatewayVariables.keys()) {
      expect(Either.isRight(resolve(undefined, { [variable]: "x" })), variable).toBe(true)
    }
    expect([...gatewayVariables.keys()].sort()).toEqual(["HERMES_API_KEY", "HERMES_HOME", "HERMES_SUPERVISOR"])
  })

  it("a variable the config names for a secret is not a typo", () => {
    const text = "adapters:\n  telegram:\n    token_env: HERMES_TG_TOKEN\nagent:\n  kind: openai\n  openai:\n" +
      "    model: m\n    api_key_env: HERMES_MODEL_KEY\n"
    expect(Either.isRight(resolve(text, { HERMES_TG_TOKEN: "t", HERMES_MODEL_KEY: "k" }))).toBe(true)
    // named through the environment too
    expect(Either.isRight(resolve(undefined, { HERMES_ADAPTERS_TELEGRAM_TOKEN_ENV: "HERMES_TG", HERMES_TG: "t" }))).toBe(true)
    // but only the names it gives
    expect(rejected(text, { HERMES_TG_TOKENS: "t" }).message).toContain("HERMES_TG_TOKENS: unknown variable")
  })

  it("variables set to undefined and names without the HERMES_ prefix are not looked at", () => {
    expect(Either.isRight(resolve(undefined, { HERMES_GATEWAY_DRAIN_TIMOUT: undefined, hermes_log_levle: "x", PATH: "/bin" })))
      .toBe(true)
  })

  it.prop(
    "every config key's variable with one letter dropped is rejected, suggesting that variable",
    [FastCheck.constantFrom(...configVariables), FastCheck.nat()],
    ([variable, at]) => {
      const cut = "HERMES_".length + (at % (variable.length - "HERMES_".length))
      const typo = variable.slice(0, cut) + variable.slice(cut + 1)
      const found = unknownVariables({ [typo]: "1" }, { configVariables, namedByConfig: [] })
      if (configVariables.includes(typo)) {
        expect(found).toEqual([])
        return
      }
      expect(found).toHaveLength(1)
      const suggestion = Option.getOrThrow(found[0]!.suggestion)
      // another key's variable may be just as close; whichever is named is one edit away
      expect(configVariables).toContain(suggestion)
      expect(editDistance(suggestion, typo)).toBe(1)
    },
    { fastCheck: { numRuns: 200 } }
  )
})
