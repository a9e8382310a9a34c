import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { defaultConfig } from "../../../src/config/GatewayConfig.js"
import { postgresSettingsFrom } from "../../../src/sessions/postgres/PostgresSettings.js"
import { accepted, rejected } from "./ConfigFixture.js"

const secret = "s3cr3t-Pa55word"

describe("sessions.engine and sessions.postgres", () => {
  it("default to SQLite, DATABASE_URL, 4 connections and a 30s statement timeout", () => {
    expect(defaultConfig.sessions.engine).toBe("sqlite")
    expect(defaultConfig.sessions.postgres).toEqual({
      url_env: "DATABASE_URL",
      pool_size: 4,
      statement_timeout: Duration.seconds(30),
      replica_id: null,
      lease: Duration.seconds(15),
      lease_renew_every: Duration.seconds(5)
    })
  })

  it("are read from the file and from HERMES_SESSIONS_* variables", () => {
    const config = accepted("sessions:\n  engine: postgres\n  postgres:\n    url_env: PG_URL\n    pool_size: 4\n", {
      HERMES_SESSIONS_POSTGRES_STATEMENT_TIMEOUT: "5s"
    })
    expect(config.sessions.engine).toBe("postgres")
    expect(config.sessions.postgres).toEqual({
      url_env: "PG_URL",
      pool_size: 4,
      statement_timeout: Duration.seconds(5),
      replica_id: null,
      lease: Duration.seconds(15),
      lease_renew_every: Duration.seconds(5)
    })
  })

  it.each([
    ["sessions:\n  engine: mysql\n", "config.yaml: sessions.engine: expected one of sqlite, postgres, got \"mysql\""],
    ["sessions:\n  postgres:\n    pool_size: 0\n", "config.yaml: sessions.postgres.pool_size: expected an integer between 1 and 100, got 0"],
    ["sessions:\n  postgres:\n    pool_size: 2.5\n", "config.yaml: sessions.postgres.pool_size: expected an integer between 1 and 100, got 2.5"],
    ["sessions:\n  postgres:\n    url_env: \"postgres://x\"\n", "config.yaml: sessions.postgres.url_env: must be the name of an environment variable (letters, digits, _), got \"postgres://x\""],
    ["sessions:\n  postgres:\n    statement_timeout: 0\n", "config.yaml: sessions.postgres.statement_timeout: must be between 1s and 10min, got 0s"],
    ["sessions:\n  postgres:\n    statement_timeout: 1h\n", "config.yaml: sessions.postgres.statement_timeout: must be between 1s and 10min, got 1h"],
    ["sessions:\n  postgres:\n    lease: 500ms\n", "config.yaml: sessions.postgres.lease: must be between 1s and 10min, got 500ms"],
    ["sessions:\n  postgres:\n    lease_renew_every: 0\n", "config.yaml: sessions.postgres.lease_renew_every: must be between 100ms and 5min, got 0s"]
  ])("rejects %j with one line naming the key", (text, message) => {
    const error = rejected(text)
    expect(error.message).toBe(message)
    expect(error.exitCode).toBe(78)
  })

  it("the variable url_env names is the gateway's own, not a typo of a HERMES_ key", () => {
    const config = accepted("sessions:\n  postgres:\n    url_env: HERMES_DATABASE_URL\n", { HERMES_DATABASE_URL: "postgresql://u@h/d" })
    expect(config.sessions.postgres.url_env).toBe("HERMES_DATABASE_URL")
  })
})

describe("postgresSettingsFrom", () => {
  const config = defaultConfig.sessions.postgres

  it("reads the URL from the named variable, Redacted, with the parts that may be shown", () => {
    const settings = Either.getOrThrow(postgresSettingsFrom(config, { DATABASE_URL: `postgresql://hermes:${secret}@db.internal:6543/chat?sslmode=require` }))
    expect(settings.target).toEqual({ user: "hermes", host: "db.internal", port: 6543, database: "chat" })
    expect(String(settings.url)).not.toContain(secret)
    expect(Redacted.value(settings.url)).toContain(secret)
  })

  it("follows libpq's defaults for the port and the database", () => {
    const settings = Either.getOrThrow(postgresSettingsFrom(config, { DATABASE_URL: "postgres://alice@localhost" }))
    expect(settings.target).toEqual({ user: "alice", host: "localhost", port: 5432, database: "alice" })
  })

  it.each([
    [undefined, "sessions.postgres.url_env: the environment variable DATABASE_URL is not set; set it to the PostgreSQL connection URL (postgresql://user:password@host:5432/database), or set sessions.engine to sqlite"],
    ["  ", "sessions.postgres.url_env: the environment variable DATABASE_URL is empty; set it to the PostgreSQL connection URL (postgresql://user:password@host:5432/database), or set sessions.engine to sqlite"],
    [`mysql://root:${secret}@h/db`, "sessions.postgres.url_env: the environment variable DATABASE_URL is a mysql: URL, expected postgresql://user:password@host:5432/database"],
    [`${secret} not a url`, "sessions.postgres.url_env: the environment variable DATABASE_URL is not a URL (expected postgresql://user:password@host:5432/database)"],
    [`postgresql://:${secret}@h/db`, "sessions.postgres.url_env: the environment variable DATABASE_URL names no user (expected postgresql://user:password@host:5432/database)"]
  ])("%j is a config error (78) that never quotes the value", (value, message) => {
    const error = Either.getLeft(postgresSettingsFrom(config, { DATABASE_URL: value })).pipe((o) => o._tag === "Some" ? o.value : undefined)
    expect(error?.message).toBe(message)
    expect(error?.exitCode).toBe(78)
    expect(error?.message).not.toContain(secret)
  })
})
