// Hostile or careless config input (issue "Hostile input", items 5, 6, 7, 10, 11): durations past
// their bounds, keys nobody can send, no adapter, config.yaml that is not a small regular file, and
// YAML nested deep enough to overflow the parser's recursion. Each is one ConfigError (78) naming
// the key or the file, never a defect.
import { afterEach, beforeEach, describe, expect, it } from "@effect/vitest"
import * as Redacted from "effect/Redacted"
import { FastCheck } from "effect"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { waitBudget } from "../../../src/cli/StopCommand.js"
import { maxConfigBytes } from "../../../src/config/ConfigFile.js"
import { formatDuration } from "../../../src/config/Duration.js"
import { type DurationBounds, durationBounds, timerLimit } from "../../../src/config/DurationBounds.js"
import { defaultConfig, type GatewayConfig } from "../../../src/config/GatewayConfig.js"
import { ConfigError, loadConfig, parseConfigText, variableFor } from "../../../src/config/LoadConfig.js"
import { maxConfigNesting, yamlNesting } from "../../../src/config/YamlNesting.js"
import { homePaths } from "../../../src/home/HomePaths.js"
import { minimumKillTimeout } from "../../../src/lifecycle/ShutdownBudget.js"
import { budgetOf } from "../../../src/cli/RunCommand.js"
import { accepted, rejected } from "./ConfigFixture.js"

type Key = keyof typeof durationBounds
const keys = Object.keys(durationBounds) as ReadonlyArray<Key>

/** config.yaml setting one dotted key (the openai agent's keys count only with that agent chosen). */
const yamlSetting = (key: Key, value: string): string => {
  const parts = key.split(".")
  if (key.startsWith("agent.openai.")) {
    return `agent:\n  kind: openai\n  openai:\n    model: m\n    ${parts[2]}: ${JSON.stringify(value)}\n`
  }
  return parts.map((part, i) => `${"  ".repeat(i)}${part}:${i === parts.length - 1 ? ` ${JSON.stringify(value)}` : ""}`).join("\n") + "\n"
}

const valueOf = (config: GatewayConfig, key: Key): Duration.Duration =>
  key.split(".").reduce((node: any, part) => node[part], config) as Duration.Duration

/** Nanoseconds as text parseDuration reads exactly (`123ns`): any size, no rounding. */
const nanosText = (nanos: bigint): string => `${nanos}ns`
const nanosOf = (d: Duration.Duration): bigint =>
  d.value._tag === "Millis" ? BigInt(d.value.millis) * 1_000_000n : d.value._tag === "Nanos" ? d.value.nanos : -1n

describe("duration keys have bounds (item 5)", () => {
  it("every bound of a key that reaches a timer stays below Node's timer limit", () => {
    for (const key of keys) {
      const bounds: DurationBounds = durationBounds[key]
      if (bounds.timer === false) continue
      expect(Duration.lessThan(bounds.max, timerLimit), key).toBe(true)
    }
    expect(keys.filter((key) => (durationBounds[key] as DurationBounds).timer === false)).toEqual(["gateway.resume_window", "sessions.retention"])
  })

  it("every duration key of the schema has an entry in the bounds table (a new key must choose its bounds)", () => {
    const durationPaths = (node: unknown, prefix: ReadonlyArray<string>): ReadonlyArray<string> =>
      Duration.isDuration(node)
        ? [prefix.join(".")]
        : typeof node === "object" && node !== null && !Array.isArray(node)
        ? Object.entries(node).flatMap(([name, child]) => durationPaths(child, [...prefix, name]))
        : []
    expect([...durationPaths(defaultConfig, [])].sort()).toEqual([...keys].sort())
  })

  it.each(keys)("%s: its upper bound is accepted, a nanosecond more is refused naming the key", (key) => {
    const max = nanosOf(durationBounds[key].max)
    expect(nanosOf(valueOf(accepted(yamlSetting(key, nanosText(max))), key))).toBe(max)
    const error = rejected(yamlSetting(key, nanosText(max + 1n)))
    expect(error.exitCode).toBe(78)
    expect(error.path).toBe(key)
    expect(error.message).toMatch(new RegExp(`^config\\.yaml: ${key.replace(/\./g, "\\.")}: must be`))
  })

  it.each(keys)("%s: the environment variable is refused naming the variable", (key) => {
    const variable = variableFor(key.split("."))
    const env = { [variable]: "30d", ...(key.startsWith("agent.openai.") ? { HERMES_AGENT_KIND: "openai", HERMES_AGENT_OPENAI_MODEL: "m" } : {}) }
    if (key === "gateway.resume_window") {
      // 30 days is its bound; 31 is not.
      expect(valueOf(accepted(undefined, env), key)).toEqual(Duration.days(30))
      expect(rejected(undefined, { [variable]: "31d" }).message).toBe(`${variable}: must be 0 (never) or at most 30d, got 31d`)
      return
    }
    if (key === "sessions.retention") {
      // A day to ten years, or 0 (off): 30 days is a typical value; an hour is refused.
      expect(valueOf(accepted(undefined, env), key)).toEqual(Duration.days(30))
      expect(rejected(undefined, { [variable]: "1h" }).message).toBe(`${variable}: must be 0 (off) or between 1d and 3650d, got 1h`)
      return
    }
    expect(rejected(undefined, env).message).toMatch(new RegExp(`^${variable}: must be .*, got 30d$`))
  })

  it.each([
    ["30d", "got 30d"],
    ["99999999999999999999999s", "must be at most 1h"],
    ["1000000h", "must be at most 1h"],
    ["infinity", "infinity is not allowed"]
  ])("drain_timeout: %s is refused (the issue's examples)", (value, mention) => {
    const error = rejected(`gateway:\n  drain_timeout: ${value}\n`)
    expect(error.path).toBe("gateway.drain_timeout")
    expect(error.message).toContain(mention)
  })

  it("marker_ttl: 0 is refused (every stop would look unplanned); 1s is the floor", () => {
    expect(rejected("gateway:\n  marker_ttl: 0\n").message).toBe("config.yaml: gateway.marker_ttl: must be between 1s and 1h, got 0s")
    expect(Duration.toMillis(accepted("gateway:\n  marker_ttl: 1s\n").gateway.marker_ttl)).toBe(1000)
  })

  it.prop(
    "any value above a key's bound is refused with 78 naming the key, however large",
    [FastCheck.constantFrom(...keys), FastCheck.bigInt({ min: 1n, max: 10n ** 30n })],
    ([key, excess]) => {
      const error = rejected(yamlSetting(key, nanosText(nanosOf(durationBounds[key].max) + excess)))
      expect(error.exitCode).toBe(78)
      expect(error.path).toBe(key)
    },
    { fastCheck: { numRuns: 200 } }
  )

  it.prop(
    "every budget the config accepts has a kill timeout (hard deadline + 5 s) below the timer limit",
    [
      FastCheck.bigInt({ min: 0n, max: nanosOf(durationBounds["gateway.drain_timeout"].max) }),
      FastCheck.bigInt({ min: 0n, max: nanosOf(durationBounds["gateway.adapter_disconnect_timeout"].max) }),
      FastCheck.bigInt({ min: 0n, max: nanosOf(durationBounds["gateway.db_close_timeout"].max) })
    ],
    ([drain, disconnect, dbClose]) => {
      const config = accepted(
        `gateway:\n  drain_timeout: ${nanosText(drain)}\n  adapter_disconnect_timeout: ${nanosText(disconnect)}\n` +
          `  db_close_timeout: ${nanosText(dbClose)}\n`
      )
      expect(Duration.lessThan(minimumKillTimeout(budgetOf(config)), timerLimit)).toBe(true)
    },
    { fastCheck: { numRuns: 100 } }
  )

  it("the largest budget of all is a little over an hour", () => {
    const config = accepted(
      ["drain_timeout", "adapter_disconnect_timeout", "db_close_timeout"]
        .reduce((text, key) => `${text}  ${key}: ${formatDuration(durationBounds[`gateway.${key}` as Key].max)}\n`, "gateway:\n")
    )
    expect(formatDuration(minimumKillTimeout(budgetOf(config)))).toBe("1h 10min 10s")
  })

  it.effect("stop --timeout: bounded too, a usage error (64) naming the flag", () =>
    Effect.gen(function*() {
      const paths = homePaths(os.tmpdir())
      for (const [text, mention] of [["30d", "must be at most 1d, got 30d"], ["infinity", "infinity is not allowed"], ["99999999999999999999999s", "must be at most 1d"]]) {
        const error = yield* Effect.flip(waitBudget(paths, Option.some(text!)))
        expect(error.exitCode).toBe(64)
        expect(error.message).toContain(`--timeout: ${mention}`)
      }
      expect(Duration.toMillis(yield* waitBudget(paths, Option.some("24h")))).toBe(24 * 3600 * 1000)
    }))
})

describe("adapters.http.api_key (item 10)", () => {
  it.each([" ", "   ", "\t", " padded-key-that-is-long-enough", "long-enough-key-but-a-newline\n"])(
    "%j is refused on any host: no Authorization header can carry surrounding whitespace",
    (key) => {
      for (const host of ["127.0.0.1", "0.0.0.0"]) {
        const error = rejected(`adapters:\n  http:\n    host: ${host}\n    api_key: ${JSON.stringify(key)}\n`)
        expect(error.path).toBe("adapters.http.api_key")
        expect(error.message).toContain("must not begin or end with whitespace")
      }
    }
  )

  it("off loopback a key needs 16 characters other than whitespace, and the message does not repeat it", () => {
    const error = rejected(`adapters:\n  http:\n    host: 0.0.0.0\n    api_key: "s3cret  with   gaps"\n`)
    expect(error.path).toBe("adapters.http.api_key")
    expect(error.message).toContain("at least 16 characters other than whitespace")
    expect(error.message).toContain("the key has 14")
    expect(error.message).not.toContain("s3cret")
    expect(Redacted.value(accepted(`adapters:\n  http:\n    host: 0.0.0.0\n    api_key: "s3cret  with   gaps!!"\n`).adapters.http.api_key!))
      .toBe("s3cret  with   gaps!!")
  })

  it("a short key is fine on loopback (only this machine can connect)", () => {
    expect(Redacted.value(accepted("adapters:\n  http:\n    api_key: k\n").adapters.http.api_key!)).toBe("k")
  })

  it("a short key from the environment names the variable", () => {
    const error = rejected(undefined, { HERMES_ADAPTERS_HTTP_HOST: "0.0.0.0", HERMES_ADAPTERS_HTTP_API_KEY: "short" })
    expect(error.message).toMatch(/^HERMES_ADAPTERS_HTTP_API_KEY: must have at least 16/)
  })
})

describe("no adapter enabled (item 11)", () => {
  it("is a configuration error (78) naming the key, from the file or from the environment", () => {
    const error = rejected("adapters:\n  http:\n    enabled: false\n")
    expect(error.exitCode).toBe(78)
    expect(error.message).toBe(
      "config.yaml: adapters.http.enabled: no adapter is enabled: set adapters.http.enabled or adapters.telegram.enabled to true"
    )
    expect(rejected(undefined, { HERMES_ADAPTERS_HTTP_ENABLED: "false" }).message).toMatch(/^HERMES_ADAPTERS_HTTP_ENABLED: no adapter is enabled/)
  })

  it("telegram alone is enough", () => {
    expect(accepted("adapters:\n  http:\n    enabled: false\n  telegram:\n    enabled: true\n").adapters.telegram.enabled).toBe(true)
  })
})

describe("YAML nesting (item 6)", () => {
  const flow = (depth: number) => `gateway: ${"[".repeat(depth)}${"]".repeat(depth)}\n`
  const block = (depth: number) => Array.from({ length: depth }, (_, i) => `${" ".repeat(i)}a:`).join("\n") + " 1\n"

  it("is measured without recursion, even far past what the parser's recursion survives", () => {
    expect(yamlNesting("a: 1\n")).toBe(1)
    expect(yamlNesting("")).toBe(0)
    expect(yamlNesting(flow(200_000), Number.MAX_SAFE_INTEGER)).toBe(200_001)
    expect(yamlNesting(block(1200), Number.MAX_SAFE_INTEGER)).toBe(1200)
  })

  it.each([["flow", flow(5000)], ["block", block(1200)], ["flow, just past the cap", flow(maxConfigNesting)]])(
    "%s nesting past the cap is one ConfigError, not a RangeError",
    (_, text) => {
      const error = Either.getLeft(parseConfigText(text, "config.yaml")).pipe(Option.getOrThrow)
      expect(error.exitCode).toBe(78)
      expect(error.message).toBe(`config.yaml: nests deeper than ${maxConfigNesting} levels: this is not a gateway config (it needs 5)`)
    }
  )

  it("nesting up to the cap goes on to the schema, which names the bad key", () => {
    expect(rejected(flow(maxConfigNesting - 1)).message).toContain("config.yaml: gateway: expected a mapping")
  })

  it.prop(
    "any nesting depth ends in a ConfigError or data, never a thrown error",
    [FastCheck.integer({ min: 0, max: 3000 }), FastCheck.boolean()],
    ([depth, useFlow]) => {
      const result = parseConfigText(useFlow ? flow(depth) : block(Math.min(depth, 1400)), "config.yaml")
      if (Either.isLeft(result)) expect(result.left).toBeInstanceOf(ConfigError)
    },
    { fastCheck: { numRuns: 40 } }
  )
})

describe("config.yaml is read only as a small regular file (item 7)", () => {
  let dir = ""
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-hostile-config-"))
  })
  afterEach(() => {
    // Were a read ever to block on a FIFO again, a writer that opens and closes it ends that read (EOF).
    for (const name of ["config.yaml", "pipe"]) {
      try {
        fs.closeSync(fs.openSync(path.join(dir, name), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK))
      } catch {
        // no FIFO there, or nobody reading it
      }
    }
    fs.rmSync(dir, { recursive: true, force: true })
  })
  const file = () => path.join(dir, "config.yaml")
  const load = () => Effect.flip(loadConfig({ file: file(), env: {} }))

  it.effect("a FIFO is refused at once, without waiting for a writer", () =>
    Effect.gen(function*() {
      execFileSync("mkfifo", [file()])
      const error = yield* load().pipe(Effect.timeout("10 seconds"))
      expect(error.exitCode).toBe(78)
      expect(error.message).toBe(`${file()} is a named pipe (FIFO), not a regular file: replace it with a YAML file`)
    }))

  it.effect("a symbolic link to a FIFO is refused the same way", () =>
    Effect.gen(function*() {
      execFileSync("mkfifo", [path.join(dir, "pipe")])
      fs.symlinkSync(path.join(dir, "pipe"), file())
      const error = yield* load().pipe(Effect.timeout("10 seconds"))
      expect(error.message).toContain("is a named pipe (FIFO), not a regular file")
    }))

  it.effect("a symbolic link to a regular file is followed", () =>
    Effect.gen(function*() {
      fs.writeFileSync(path.join(dir, "real.yaml"), "gateway:\n  drain_timeout: 7s\n")
      fs.symlinkSync(path.join(dir, "real.yaml"), file())
      const config = yield* loadConfig({ file: file(), env: {} })
      expect(Duration.toMillis(config.gateway.drain_timeout)).toBe(7000)
    }))

  it.effect("a device is refused", () =>
    Effect.gen(function*() {
      fs.symlinkSync("/dev/zero", file())
      const error = yield* load()
      expect(error.message).toContain("is a device, not a regular file")
    }))

  it.effect("more than 1 MiB is refused; exactly 1 MiB is read", () =>
    Effect.gen(function*() {
      const comment = (bytes: number) => "#".repeat(bytes - 1) + "\n"
      fs.writeFileSync(file(), comment(maxConfigBytes + 1))
      expect((yield* load()).message).toBe(`${file()} is larger than 1048576 bytes (1 MiB): this is not a config file`)
      fs.writeFileSync(file(), comment(maxConfigBytes))
      expect(Duration.toMillis((yield* loadConfig({ file: file(), env: {} })).gateway.drain_timeout)).toBe(20_000)
    }))
})
