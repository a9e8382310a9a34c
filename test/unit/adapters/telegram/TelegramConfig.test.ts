import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { isAllowedUser } from "../../../../src/adapters/telegram/TelegramAdapter.js"
import { telegramOptionsFrom } from "../../../../src/adapters/telegram/TelegramOptions.js"
import { defaultConfig, type GatewayConfig } from "../../../../src/config/GatewayConfig.js"
import { loadConfig } from "../../../../src/config/LoadConfig.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-telegram-config-"))
const load = (text: string, env: Record<string, string> = {}) => {
  const file = path.join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`)
  fs.writeFileSync(file, text)
  return loadConfig({ file, env })
}
const telegramOf = (config: GatewayConfig) => config.adapters.telegram

describe("adapters.telegram config", () => {
  it("defaults: disabled, TELEGRAM_BOT_TOKEN, api.telegram.org, 30s, everyone", () => {
    const telegram = telegramOf(defaultConfig)
    expect(telegram.enabled).toBe(false)
    expect(telegram.token_env).toBe("TELEGRAM_BOT_TOKEN")
    expect(telegram.api_base_url).toBe("https://api.telegram.org")
    expect(Duration.toMillis(telegram.poll_timeout)).toBe(30_000)
    expect(telegram.allowed_users).toEqual([])
  })

  it.effect("file values are read; usernames lose their @ and case, numeric strings become ids", () =>
    Effect.gen(function*() {
      const config = yield* load(
        "adapters:\n  telegram:\n    enabled: true\n    token_env: MY_TOKEN\n    api_base_url: http://127.0.0.1:8081/\n" +
          "    poll_timeout: 50s\n    allowed_users: [12345, '@Alice', '678', bob_2]\n"
      )
      const telegram = telegramOf(config)
      expect(telegram.enabled).toBe(true)
      expect(telegram.token_env).toBe("MY_TOKEN")
      expect(telegram.api_base_url).toBe("http://127.0.0.1:8081")
      expect(Duration.toMillis(telegram.poll_timeout)).toBe(50_000)
      expect(telegram.allowed_users).toEqual([12345, "alice", 678, "bob_2"])
    }))

  it.effect("environment overrides, allowed_users as a comma-separated list", () =>
    Effect.gen(function*() {
      const config = yield* load("", {
        HERMES_ADAPTERS_TELEGRAM_ENABLED: "yes",
        HERMES_ADAPTERS_TELEGRAM_ALLOWED_USERS: "42, @carol",
        HERMES_ADAPTERS_TELEGRAM_POLL_TIMEOUT: "10s"
      })
      expect(telegramOf(config).enabled).toBe(true)
      expect(telegramOf(config).allowed_users).toEqual([42, "carol"])
      expect(Duration.toMillis(telegramOf(config).poll_timeout)).toBe(10_000)
    }))

  it.each([
    ["    poll_timeout: 0s\n", "adapters.telegram.poll_timeout", "between 1s and 50s"],
    ["    poll_timeout: 2min\n", "adapters.telegram.poll_timeout", "between 1s and 50s"],
    ["    token_env: 'not a name'\n", "adapters.telegram.token_env", "name of an environment variable"],
    ["    allowed_users: [-5]\n", "adapters.telegram.allowed_users", "user ids (positive integers) or usernames"],
    ["    allowed_users: ['no spaces please']\n", "adapters.telegram.allowed_users", "user ids"],
    ["    api_base_url: ftp://x\n", "adapters.telegram.api_base_url", "http:// or https://"],
    ["    bot_token: x\n", "adapters.telegram.bot_token", "unknown key"]
  ])("%j is rejected at %s", (line, keyPath, reason) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(load(`adapters:\n  telegram:\n${line}`))
      expect(error.exitCode).toBe(78)
      expect(error.path).toBe(keyPath)
      expect(error.message).toContain(reason)
    }).pipe(Effect.runPromise))
})

describe("telegramOptionsFrom", () => {
  const enabled = { ...telegramOf(defaultConfig), enabled: true }

  it("a missing or empty token variable is a config error naming it", () => {
    const missing = telegramOptionsFrom(enabled, {}, "/home/h")
    expect(Either.isLeft(missing)).toBe(true)
    if (Either.isLeft(missing)) {
      expect(missing.left.exitCode).toBe(78)
      expect(missing.left.path).toBe("adapters.telegram.token_env")
      expect(missing.left.message).toContain("TELEGRAM_BOT_TOKEN is not set")
    }
    const empty = telegramOptionsFrom(enabled, { TELEGRAM_BOT_TOKEN: "  " }, "/home/h")
    expect(Either.isLeft(empty) && empty.left.message.includes("TELEGRAM_BOT_TOKEN is empty")).toBe(true)
  })

  it("the token is read from the named variable, redacted; the ledger lives in the home", () => {
    const options = Either.getOrThrow(telegramOptionsFrom(enabled, { TELEGRAM_BOT_TOKEN: " 1:abc " }, "/home/h"))
    expect(Redacted.value(options.token)).toBe("1:abc")
    expect(String(options.token)).not.toContain("1:abc")
    expect(options.tokenEnv).toBe("TELEGRAM_BOT_TOKEN")
    expect(options.ledgerFile).toBe(path.join("/home/h", "telegram_offset.json"))
  })
})

describe("isAllowedUser", () => {
  it("empty allows everyone; otherwise by id or case-insensitive username", () => {
    expect(isAllowedUser([], undefined)).toBe(true)
    expect(isAllowedUser([], { id: 1 })).toBe(true)
    expect(isAllowedUser([7, "alice"], { id: 7 })).toBe(true)
    expect(isAllowedUser([7, "alice"], { id: 8, username: "Alice" })).toBe(true)
    expect(isAllowedUser([7, "alice"], { id: 8, username: "bob" })).toBe(false)
    expect(isAllowedUser([7, "alice"], undefined)).toBe(false)
  })
})
