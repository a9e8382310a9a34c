import { afterEach, beforeEach, describe, expect, it } from "@effect/vitest"
import * as Redacted from "effect/Redacted"
import { FastCheck } from "effect"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { formatDuration } from "../../../src/config/Duration.js"
import { defaultConfig, isLoopbackHost } from "../../../src/config/GatewayConfig.js"
import {
  ConfigError,
  configLeaves,
  loadConfig,
  variableFor
} from "../../../src/config/LoadConfig.js"
import { accepted, rejected } from "./ConfigFixture.js"

let dir = ""
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-config-"))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const configFile = () => path.join(dir, "config.yaml")
const writeConfig = (text: string): string => {
  fs.writeFileSync(configFile(), text)
  return configFile()
}

const millisOf = (d: Duration.Duration) => Duration.toMillis(d)

/** Long enough for a non-loopback host (16 characters other than whitespace). */
const remoteKey = "k3y-0f-s1xteen-chars"

describe("defaults", () => {
  it("are the values CONTRACT 7 lists", () => {
    expect(millisOf(defaultConfig.gateway.drain_timeout)).toBe(20_000)
    expect(millisOf(defaultConfig.gateway.adapter_connect_timeout)).toBe(30_000)
    expect(millisOf(defaultConfig.gateway.adapter_disconnect_timeout)).toBe(5_000)
    expect(millisOf(defaultConfig.gateway.db_close_timeout)).toBe(5_000)
    expect(millisOf(defaultConfig.gateway.marker_ttl)).toBe(60_000)
    expect(millisOf(defaultConfig.gateway.loop_stall_timeout)).toBe(60_000)
    expect(defaultConfig.adapters.http).toEqual({
      enabled: true,
      host: "127.0.0.1",
      port: 8642,
      api_key: null,
      max_body_bytes: 1_048_576,
      max_connections: 512,
      request_timeout: Duration.seconds(30),
      max_inflight_body_bytes: 67_108_864
    })
    expect(defaultConfig.agent.kind).toBe("echo")
    expect(millisOf(defaultConfig.agent.echo.delay)).toBe(0)
    expect(defaultConfig.log).toEqual({ format: "auto", level: "info" })
  })

  it.effect("a missing file means every default", () =>
    Effect.gen(function*() {
      const config = yield* loadConfig({ file: path.join(dir, "absent.yaml"), env: {} })
      expect(config).toEqual(defaultConfig)
    }))

  it.effect("an empty file means every default", () =>
    Effect.gen(function*() {
      const config = yield* loadConfig({ file: writeConfig(""), env: {} })
      expect(config).toEqual(defaultConfig)
    }))

  it.each([
    ["comments only", "# nothing set yet\n"],
    ["null sections", "gateway:\nadapters:\nagent:\nlog:\n"],
    ["empty sections", "gateway: {}\nadapters: {}\nagent: {}\nlog: {}\n"],
    ["null nested section", "adapters:\n  http:\nagent:\n  echo: ~\n"],
    ["null keys", "gateway:\n  drain_timeout: null\nadapters:\n  http:\n    port: ~\n"]
  ])("%s mean every default", (_, text) => {
    expect(accepted(text)).toEqual(defaultConfig)
  })

  it("the example file in the contract spells exactly the defaults", () => {
    const example = `
gateway:
  drain_timeout: 20s
  adapter_connect_timeout: 30s
  adapter_disconnect_timeout: 5s
  db_close_timeout: 5s
  marker_ttl: 60s
adapters:
  http:
    enabled: true
    host: 127.0.0.1
    port: 8642            # 0 = pick a free port
    api_key: null         # required when host is not loopback
    max_body_bytes: 1048576
agent:
  kind: echo              # echo | openai
  echo:
    delay: 0s
log:
  format: auto
  level: info
`
    expect(accepted(example)).toEqual(defaultConfig)
  })
})

describe("file values", () => {
  it("reads durations in systemd syntax, a bare number being seconds", () => {
    const config = accepted(
      "gateway:\n  drain_timeout: 1min 30s\n  marker_ttl: 90\n  db_close_timeout: 500ms\nagent:\n  echo:\n    delay: 1.5\n"
    )
    expect(millisOf(config.gateway.drain_timeout)).toBe(90_000)
    expect(millisOf(config.gateway.marker_ttl)).toBe(90_000)
    expect(millisOf(config.gateway.db_close_timeout)).toBe(500)
    expect(millisOf(config.agent.echo.delay)).toBe(1_500)
  })

  it("keeps the defaults of keys it does not set", () => {
    const config = accepted("adapters:\n  http:\n    port: 9000\n")
    expect(config.adapters.http).toEqual({ ...defaultConfig.adapters.http, port: 9000 })
    expect(config.gateway).toEqual(defaultConfig.gateway)
  })

  it("accepts port 0 (pick a free port) and 65535", () => {
    expect(accepted("adapters:\n  http:\n    port: 0\n").adapters.http.port).toBe(0)
    expect(accepted("adapters:\n  http:\n    port: 65535\n").adapters.http.port).toBe(65535)
  })

  it("reads warn as the warning level", () => {
    expect(accepted("log:\n  level: warn\n").log.level).toBe("warning")
    expect(accepted("log:\n  level: warning\n").log.level).toBe("warning")
  })

  it("an empty api_key means no key", () => {
    expect(accepted("adapters:\n  http:\n    api_key: ''\n").adapters.http.api_key).toBeNull()
    expect(Redacted.value(accepted("adapters:\n  http:\n    api_key: s3cret\n").adapters.http.api_key!)).toBe("s3cret")
  })
})

describe("file errors", () => {
  it.effect("an unknown key exits 78 naming the file and the full key path", () =>
    Effect.gen(function*() {
      const file = writeConfig("gateway:\n  drain_timeot: 5s\n")
      const error = yield* Effect.flip(loadConfig({ file, env: {} }))
      expect(error).toBeInstanceOf(ConfigError)
      expect(error._tag).toBe("ConfigError")
      expect(error.exitCode).toBe(78)
      expect(error.path).toBe("gateway.drain_timeot")
      expect(error.message).toContain(`${file}: unknown key gateway.drain_timeot`)
      expect(error.message).toContain("did you mean gateway.drain_timeout?")
    }))

  it.each([
    ["gatway:\n  drain_timeout: 5s\n", "gatway"],
    ["adapters:\n  http:\n    hots: 0.0.0.0\n", "adapters.http.hots"],
    ["adapters:\n  telegram:\n    token: x\n", "adapters.telegram.token"],
    ["agent:\n  echo:\n    dealy: 1s\n", "agent.echo.dealy"]
  ])("unknown key in %j is reported as %s", (text, keyPath) => {
    const error = rejected(text)
    expect(error.path).toBe(keyPath)
    expect(error.message).toContain(`config.yaml: unknown key ${keyPath}`)
  })

  it.each([
    ["gateway:\n  drain_timeout: soon\n", "gateway.drain_timeout", `invalid duration "soon"`],
    ["gateway:\n  marker_ttl: -5\n", "gateway.marker_ttl", "negative"],
    ["gateway:\n  marker_ttl: true\n", "gateway.marker_ttl", `expected a duration such as "20s"`],
    ["gateway:\n  drain_timeout: infinity\n", "gateway.drain_timeout", "infinity is not allowed here"],
    ["adapters:\n  http:\n    enabled: maybe\n", "adapters.http.enabled", `expected true or false, got "maybe"`],
    ["adapters:\n  http:\n    port: http\n", "adapters.http.port", `expected an integer between 0 and 65535, got "http"`],
    ["adapters:\n  http:\n    port: 70000\n", "adapters.http.port", "between 0 and 65535, got 70000"],
    ["adapters:\n  http:\n    port: -1\n", "adapters.http.port", "between 0 and 65535, got -1"],
    ["adapters:\n  http:\n    port: 80.5\n", "adapters.http.port", "between 0 and 65535, got 80.5"],
    ["adapters:\n  http:\n    max_body_bytes: 0\n", "adapters.http.max_body_bytes", "expected a positive integer, got 0"],
    ["adapters:\n  http:\n    max_connections: 0\n", "adapters.http.max_connections", "expected a positive integer, got 0"],
    ["adapters:\n  http:\n    request_timeout: 500ms\n", "adapters.http.request_timeout", "must be between 1s and 10min, got 500ms"],
    ["adapters:\n  http:\n    max_inflight_body_bytes: 1.5\n", "adapters.http.max_inflight_body_bytes", "expected a positive integer"],
    [
      "adapters:\n  http:\n    max_body_bytes: 2048\n    max_inflight_body_bytes: 1024\n",
      "adapters.http.max_inflight_body_bytes",
      "must be at least adapters.http.max_body_bytes (2048), got 1024"
    ],
    ["adapters:\n  http:\n    host: ''\n", "adapters.http.host", "expected a host name or address"],
    ["adapters:\n  http:\n    api_key: 42\n", "adapters.http.api_key", "expected a string or null, got a number"],
    ["agent:\n  kind: claude\n", "agent.kind", `expected one of echo, openai, got "claude"`],
    ["log:\n  format: xml\n", "log.format", `got "xml"`],
    ["log:\n  level: verbose\n", "log.level", `got "verbose"`],
    ["gateway: 5\n", "gateway", "expected a mapping of keys, got 5"],
    ["adapters:\n  http: [1, 2]\n", "adapters.http", "expected a mapping of keys, got a list"]
  ])("%j is rejected at %s", (text, keyPath, reason) => {
    const error = rejected(text)
    expect(error.path).toBe(keyPath)
    expect(error.message).toContain(`config.yaml: ${keyPath}: `)
    expect(error.message).toContain(reason)
  })

  it("a file that is not a mapping is rejected as a whole", () => {
    const error = rejected("- gateway\n- adapters\n")
    expect(error.path).toBe("")
    expect(error.message).toBe("config.yaml: expected a mapping of keys, got a list")
  })

  it("reports every problem at once, one per line", () => {
    const error = rejected("gateway:\n  drain_timeout: soon\nadapters:\n  http:\n    port: 70000\nlog:\n  colour: red\n")
    const lines = error.message.split("\n")
    expect(lines).toHaveLength(3)
    expect(lines.some((line) => line.startsWith("config.yaml: gateway.drain_timeout: "))).toBe(true)
    expect(lines.some((line) => line.startsWith("config.yaml: adapters.http.port: "))).toBe(true)
    expect(lines.some((line) => line.startsWith("config.yaml: unknown key log.colour"))).toBe(true)
  })

  it.effect("a YAML syntax error names the file and the line", () =>
    Effect.gen(function*() {
      const file = writeConfig("gateway:\n  drain_timeout: 5s\n  marker_ttl: [60s\n")
      const error = yield* Effect.flip(loadConfig({ file, env: {} }))
      expect(error.exitCode).toBe(78)
      expect(error.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: line \\d+, column \\d+: invalid YAML: `))
    }))

  it("a duplicate key is a syntax error at its line", () => {
    expect(rejected("log:\n  level: info\n  level: debug\n").message).toMatch(/^config\.yaml: line 3, column 3: invalid YAML: /)
  })

  it.effect("a file that cannot be read is an error, not the defaults", () =>
    Effect.gen(function*() {
      const file = path.join(dir, "config.yaml")
      fs.mkdirSync(file) // a directory: refused before any read, even for root
      const error = yield* Effect.flip(loadConfig({ file, env: {} }))
      expect(error.exitCode).toBe(78)
      expect(error.message).toBe(`${file} is a directory, not a regular file: replace it with a YAML file`)
    }))
})

describe("http adapter exposure", () => {
  it.each(["0.0.0.0", "192.168.1.5", "example.com", "::", "[::]"])(
    "host %s without an api_key is rejected naming adapters.http.api_key",
    (host) => {
      const error = rejected(`adapters:\n  http:\n    host: "${host}"\n`)
      expect(error.path).toBe("adapters.http.api_key")
      expect(error.message).toContain("config.yaml: adapters.http.api_key: required when adapters.http.host is not a loopback address")
    }
  )

  it("a non-loopback host is fine with a key, or with the adapter disabled", () => {
    expect(accepted(`adapters:\n  http:\n    host: 0.0.0.0\n    api_key: ${remoteKey}\n`).adapters.http.host).toBe("0.0.0.0")
    expect(accepted("adapters:\n  http:\n    host: 0.0.0.0\n    enabled: false\n  telegram:\n    enabled: true\n").adapters.http.enabled)
      .toBe(false)
  })

  it("an empty api_key does not count as a key", () => {
    expect(rejected("adapters:\n  http:\n    host: 0.0.0.0\n    api_key: ''\n").path).toBe("adapters.http.api_key")
  })

  it("the rule also applies when the host comes from the environment", () => {
    const error = rejected(undefined, { HERMES_ADAPTERS_HTTP_HOST: "0.0.0.0" })
    expect(error.path).toBe("adapters.http.api_key")
    expect(Redacted.value(accepted(undefined, { HERMES_ADAPTERS_HTTP_HOST: "0.0.0.0", HERMES_ADAPTERS_HTTP_API_KEY: remoteKey }).adapters.http.api_key!))
      .toBe(remoteKey)
  })

  it.each(["127.0.0.1", "127.1.2.3", "127.255.255.255", "localhost", "LOCALHOST", "localhost.", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"])(
    "%s is loopback",
    (host) => {
      expect(isLoopbackHost(host)).toBe(true)
      expect(accepted(`adapters:\n  http:\n    host: "${host}"\n`).adapters.http.host).toBe(host)
    }
  )

  it.each(["0.0.0.0", "128.0.0.1", "127.0.0.256", "10.127.0.1", "localhost.example.com", "::2", "::", "::ffff:10.0.0.1", "my-host"])(
    "%s is not loopback",
    (host) => {
      expect(isLoopbackHost(host)).toBe(false)
    }
  )
})

describe("environment overrides", () => {
  it("the variable names come from the schema's leaves", () => {
    expect(configLeaves.map((leaf) => leaf.variable).sort()).toEqual([
      "HERMES_ADAPTERS_HTTP_API_KEY",
      "HERMES_ADAPTERS_HTTP_ENABLED",
      "HERMES_ADAPTERS_HTTP_HOST",
      "HERMES_ADAPTERS_HTTP_MAX_BODY_BYTES",
      "HERMES_ADAPTERS_HTTP_MAX_CONNECTIONS",
      "HERMES_ADAPTERS_HTTP_MAX_INFLIGHT_BODY_BYTES",
      "HERMES_ADAPTERS_HTTP_PORT",
      "HERMES_ADAPTERS_HTTP_REQUEST_TIMEOUT",
      "HERMES_ADAPTERS_TELEGRAM_ALLOWED_USERS",
      "HERMES_ADAPTERS_TELEGRAM_API_BASE_URL",
      "HERMES_ADAPTERS_TELEGRAM_ENABLED",
      "HERMES_ADAPTERS_TELEGRAM_POLL_TIMEOUT",
      "HERMES_ADAPTERS_TELEGRAM_TOKEN_ENV",
      "HERMES_AGENT_ECHO_DELAY",
      "HERMES_AGENT_KIND",
      "HERMES_AGENT_OPENAI_API_KEY_ENV",
      "HERMES_AGENT_OPENAI_BASE_URL",
      "HERMES_AGENT_OPENAI_MAX_CONTEXT_MESSAGES",
      "HERMES_AGENT_OPENAI_MODEL",
      "HERMES_AGENT_OPENAI_TIMEOUT",
      "HERMES_GATEWAY_ADAPTER_CONNECT_TIMEOUT",
      "HERMES_GATEWAY_ADAPTER_DISCONNECT_TIMEOUT",
      "HERMES_GATEWAY_DB_CLOSE_TIMEOUT",
      "HERMES_GATEWAY_DRAIN_TIMEOUT",
      "HERMES_GATEWAY_LOOP_STALL_TIMEOUT",
      "HERMES_GATEWAY_MARKER_TTL",
      "HERMES_GATEWAY_MAX_INFLIGHT_TURNS",
      "HERMES_GATEWAY_RESPAWN_STORM_MAX_STARTS",
      "HERMES_GATEWAY_RESPAWN_STORM_WINDOW",
      "HERMES_GATEWAY_RESUME_WINDOW",
      "HERMES_GATEWAY_STARTUP_TIMEOUT",
      "HERMES_LOG_FORMAT",
      "HERMES_LOG_LEVEL",
      "HERMES_SESSIONS_ENGINE",
      "HERMES_SESSIONS_MAX_CONTEXT_MESSAGES",
      "HERMES_SESSIONS_POSTGRES_LEASE",
      "HERMES_SESSIONS_POSTGRES_LEASE_RENEW_EVERY",
      "HERMES_SESSIONS_POSTGRES_POOL_SIZE",
      "HERMES_SESSIONS_POSTGRES_REPLICA_ID",
      "HERMES_SESSIONS_POSTGRES_STATEMENT_TIMEOUT",
      "HERMES_SESSIONS_POSTGRES_URL_ENV",
      "HERMES_SESSIONS_RETENTION",
      "HERMES_TELEMETRY_OTLP_ENDPOINT",
      "HERMES_TELEMETRY_SERVICE_NAME"
    ])
    for (const leaf of configLeaves) expect(leaf.variable).toBe(variableFor(leaf.path))
  })

  it.effect("an environment value beats the file's", () =>
    Effect.gen(function*() {
      const file = writeConfig("gateway:\n  drain_timeout: 30s\nadapters:\n  http:\n    port: 8000\nlog:\n  level: debug\n")
      const config = yield* loadConfig({
        file,
        env: {
          HERMES_GATEWAY_DRAIN_TIMEOUT: "5s",
          HERMES_ADAPTERS_HTTP_PORT: "9000",
          HERMES_AGENT_ECHO_DELAY: "2s",
          HERMES_LOG_LEVEL: "warn"
        }
      })
      expect(millisOf(config.gateway.drain_timeout)).toBe(5_000)
      expect(config.adapters.http.port).toBe(9000)
      expect(millisOf(config.agent.echo.delay)).toBe(2_000)
      expect(config.log.level).toBe("warning")
    }))

  it.effect("environment values apply without a file", () =>
    Effect.gen(function*() {
      const config = yield* loadConfig({ file: path.join(dir, "absent.yaml"), env: { HERMES_ADAPTERS_HTTP_PORT: "0" } })
      expect(config.adapters.http.port).toBe(0)
    }))

  it.each([
    ["true", true], ["false", false], ["1", true], ["0", false], ["yes", true], ["no", false], ["TRUE", true], ["No", false]
  ])("HERMES_ADAPTERS_HTTP_ENABLED=%s is %s", (raw, value) => {
    expect(
      accepted("adapters:\n  http:\n    enabled: " + String(!value) + "\n  telegram:\n    enabled: true\n", {
        HERMES_ADAPTERS_HTTP_ENABLED: raw
      }).adapters.http.enabled
    ).toBe(value)
  })

  it.each(["null", "NULL", ""])("HERMES_ADAPTERS_HTTP_API_KEY=%j clears the file's key", (raw) => {
    const config = accepted("adapters:\n  http:\n    api_key: from-file\n", { HERMES_ADAPTERS_HTTP_API_KEY: raw })
    expect(config.adapters.http.api_key).toBeNull()
  })

  it("an empty variable for a key without a null value says nothing", () => {
    expect(accepted("log:\n  level: debug\n", { HERMES_LOG_LEVEL: "" }).log.level).toBe("debug")
  })

  it("an environment value fills a section the file leaves null", () => {
    expect(accepted("adapters:\n  http:\n", { HERMES_ADAPTERS_HTTP_PORT: "9000" }).adapters.http.port).toBe(9000)
  })

  it("a bad environment value exits 78 naming the variable", () => {
    const error = rejected(undefined, { HERMES_ADAPTERS_HTTP_PORT: "http" })
    expect(error.exitCode).toBe(78)
    expect(error.message).toBe(`HERMES_ADAPTERS_HTTP_PORT: expected an integer between 0 and 65535, got "http"`)
    expect(error.path).toBe("adapters.http.port")
  })

  it.each([
    ["HERMES_ADAPTERS_HTTP_PORT", "70000", "got 70000"],
    ["HERMES_ADAPTERS_HTTP_ENABLED", "maybe", `got "maybe"`],
    ["HERMES_ADAPTERS_HTTP_MAX_BODY_BYTES", "1MB", `got "1MB"`],
    ["HERMES_GATEWAY_DRAIN_TIMEOUT", "soon", `invalid duration "soon"`],
    ["HERMES_GATEWAY_MARKER_TTL", "infinity", "infinity is not allowed"],
    ["HERMES_AGENT_KIND", "claude", `got "claude"`],
    ["HERMES_LOG_FORMAT", "xml", `got "xml"`]
  ])("%s=%s is blamed on the variable, not the file", (variable, raw, reason) => {
    const error = rejected("log:\n  level: info\n", { [variable]: raw })
    expect(error.message.startsWith(`${variable}: `)).toBe(true)
    expect(error.message).toContain(reason)
    expect(error.message).not.toContain("config.yaml")
  })

  it("the file is still blamed for its own mistakes next to a bad variable", () => {
    const error = rejected("gateway:\n  marker_ttl: soon\n", { HERMES_ADAPTERS_HTTP_PORT: "http" })
    expect(error.message.split("\n").sort()).toEqual([
      `HERMES_ADAPTERS_HTTP_PORT: expected an integer between 0 and 65535, got "http"`,
      `config.yaml: gateway.marker_ttl: invalid duration "soon": expected a number followed by a unit, e.g. 20s`
    ])
  })

  it("the gateway's own HERMES_* variables are not config keys and change no key", () => {
    const env = { HERMES_HOME: "/srv/hermes", HERMES_SUPERVISOR: "systemd", HERMES_API_KEY: "x" }
    expect(accepted(undefined, env)).toEqual(defaultConfig)
  })

  it.prop(
    "any port 0..65535 given by the environment is used as is",
    [FastCheck.integer({ min: 0, max: 65535 })],
    ([port]) => {
      expect(accepted("adapters:\n  http:\n    port: 1\n", { HERMES_ADAPTERS_HTTP_PORT: String(port) }).adapters.http.port)
        .toBe(port)
    },
    { fastCheck: { numRuns: 100 } }
  )

  it.prop(
    "any port outside 0..65535 given by the environment names the variable",
    [FastCheck.oneof(FastCheck.integer({ max: -1 }), FastCheck.integer({ min: 65536 }))],
    ([port]) => {
      const error = rejected(undefined, { HERMES_ADAPTERS_HTTP_PORT: String(port) })
      expect(error.message).toBe(`HERMES_ADAPTERS_HTTP_PORT: expected an integer between 0 and 65535, got ${port}`)
    },
    { fastCheck: { numRuns: 100 } }
  )

  it.prop(
    "a duration written by formatDuration into a variable comes back unchanged",
    [FastCheck.integer({ min: 0, max: 3600 * 1000 })],
    ([millis]) => {
      const config = accepted(undefined, { HERMES_GATEWAY_DRAIN_TIMEOUT: formatDuration(Duration.millis(millis)) })
      expect(Duration.toMillis(config.gateway.drain_timeout)).toBe(millis)
    },
    { fastCheck: { numRuns: 100 } }
  )
})

describe("gateway.loop_stall_timeout", () => {
  it("reads a duration from the file and from HERMES_GATEWAY_LOOP_STALL_TIMEOUT, the variable winning", () => {
    expect(millisOf(accepted("gateway:\n  loop_stall_timeout: 2min\n").gateway.loop_stall_timeout)).toBe(120_000)
    const config = accepted("gateway:\n  loop_stall_timeout: 2min\n", { HERMES_GATEWAY_LOOP_STALL_TIMEOUT: "90s" })
    expect(millisOf(config.gateway.loop_stall_timeout)).toBe(90_000)
  })

  it("0 turns the event-loop watchdog off; 1s is the smallest timeout", () => {
    expect(millisOf(accepted("gateway:\n  loop_stall_timeout: 0\n").gateway.loop_stall_timeout)).toBe(0)
    expect(millisOf(accepted("gateway:\n  loop_stall_timeout: 1s\n").gateway.loop_stall_timeout)).toBe(1_000)
  })

  it.each([
    ["gateway:\n  loop_stall_timeout: 500ms\n", {}, "config.yaml: gateway.loop_stall_timeout: must be 0 (off) or between 1s and 1h, got 500ms"],
    [undefined, { HERMES_GATEWAY_LOOP_STALL_TIMEOUT: "100ms" }, "HERMES_GATEWAY_LOOP_STALL_TIMEOUT: must be 0 (off) or between 1s and 1h, got 100ms"],
    ["gateway:\n  loop_stall_timeout: infinity\n", {}, "config.yaml: gateway.loop_stall_timeout: infinity is not allowed"],
    ["gateway:\n  loop_stall_timeout: -5\n", {}, "config.yaml: gateway.loop_stall_timeout: invalid duration \"-5\""]
  ] as const)("%j %j is rejected naming its source", (text, env, message) => {
    const error = rejected(text, env)
    expect(error.path).toBe("gateway.loop_stall_timeout")
    expect(error.message).toContain(message)
  })
})

describe("gateway.resume_window", () => {
  it("defaults to an hour, reads the file and the variable, and takes 0 to mean never", () => {
    expect(Duration.toMillis(accepted(undefined, {}).gateway.resume_window)).toBe(3_600_000)
    expect(Duration.toMillis(accepted("gateway:\n  resume_window: 15min\n", {}).gateway.resume_window)).toBe(900_000)
    expect(Duration.toMillis(accepted(undefined, { HERMES_GATEWAY_RESUME_WINDOW: "0" }).gateway.resume_window)).toBe(0)
  })

  it("refuses what is not a finite duration, naming the key", () => {
    expect(rejected("gateway:\n  resume_window: soon\n", {}).message).toContain("gateway.resume_window")
    expect(rejected("gateway:\n  resume_window: infinity\n", {}).message).toContain("gateway.resume_window")
  })
})
