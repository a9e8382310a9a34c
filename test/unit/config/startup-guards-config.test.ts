import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { defaultConfig } from "../../../src/config/GatewayConfig.js"
import { resolveConfig } from "../../../src/config/LoadConfig.js"

const resolve = (text: string, env: Record<string, string | undefined> = {}) =>
  resolveConfig(Option.some(text), { file: "config.yaml", env })
const ok = (text: string, env: Record<string, string | undefined> = {}) =>
  Either.getOrThrowWith(resolve(text, env), (error) => new Error(error.message))
const refusal = (text: string, env: Record<string, string | undefined> = {}) =>
  Either.match(resolve(text, env), { onLeft: (e) => e.message, onRight: () => "accepted" })

describe("gateway.startup_timeout and gateway.respawn_storm", () => {
  it("default to 300s, 5 starts and 120s", () => {
    expect(Duration.toMillis(defaultConfig.gateway.startup_timeout)).toBe(300_000)
    expect(defaultConfig.gateway.respawn_storm.max_starts).toBe(5)
    expect(Duration.toMillis(defaultConfig.gateway.respawn_storm.window)).toBe(120_000)
  })

  it("startup_timeout: 0 is off, otherwise 1s to 24h", () => {
    expect(Duration.toMillis(ok("gateway:\n  startup_timeout: 0\n").gateway.startup_timeout)).toBe(0)
    expect(Duration.toMillis(ok("gateway:\n  startup_timeout: 1s\n").gateway.startup_timeout)).toBe(1000)
    expect(Duration.toMillis(ok("gateway:\n  startup_timeout: 24h\n").gateway.startup_timeout)).toBe(86_400_000)
    expect(refusal("gateway:\n  startup_timeout: 500ms\n")).toBe(
      "config.yaml: gateway.startup_timeout: must be 0 (off) or between 1s and 1d, got 500ms"
    )
    expect(refusal("gateway:\n  startup_timeout: 25d\n")).toContain("gateway.startup_timeout: must be 0 (off) or between 1s and 1d")
    expect(refusal("gateway:\n  startup_timeout: infinity\n")).toContain("gateway.startup_timeout: infinity is not allowed")
  })

  it("respawn_storm: max_starts 1 to 100, window any finite duration (0 turns the breaker off); env overrides", () => {
    const config = ok("gateway:\n  respawn_storm:\n    max_starts: 3\n    window: 0\n")
    expect(config.gateway.respawn_storm).toEqual({ max_starts: 3, window: Duration.zero })
    expect(refusal("gateway:\n  respawn_storm:\n    max_starts: 0\n")).toContain(
      "gateway.respawn_storm.max_starts: expected an integer between 1 and 100, got 0"
    )
    expect(refusal("gateway:\n  respawn_storm:\n    max_starts: 101\n")).toContain("gateway.respawn_storm.max_starts")
    expect(refusal("gateway:\n  respawn_storm:\n    speed: 3\n")).toContain("speed")
    const env = ok("", { HERMES_GATEWAY_RESPAWN_STORM_MAX_STARTS: "9", HERMES_GATEWAY_RESPAWN_STORM_WINDOW: "1h" })
    expect(env.gateway.respawn_storm.max_starts).toBe(9)
    expect(Duration.toMillis(env.gateway.respawn_storm.window)).toBe(3_600_000)
  })
})
