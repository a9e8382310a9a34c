// sessions.postgres plus the environment -> where and how to connect, or the config error (exit 78)
// naming the variable. The URL is a secret (it usually carries the password): it is Redacted from
// the moment it is read, and what the gateway says about the database is `describeTarget` (user,
// host, port and database, never the password or the URL's query).
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type { GatewayConfig } from "../../config/GatewayConfig.js"
import { ConfigError } from "../../config/LoadConfig.js"

export interface PostgresTarget {
  readonly user: string
  readonly host: string
  readonly port: number
  readonly database: string
}

export interface PostgresSettings {
  readonly url: Redacted.Redacted<string>
  readonly target: PostgresTarget
  readonly poolSize: number
  readonly statementTimeout: Duration.Duration
}

/** `user@host:port/database`: what logs and errors call the database. */
export const describeTarget = (target: PostgresTarget): string =>
  `${target.user}@${target.host}:${target.port}/${target.database}`

/** `host:port`: where an unreachable server was looked for. */
export const describeAddress = (target: PostgresTarget): string => `${target.host}:${target.port}`

const decodePart = (part: string): string => {
  try {
    return decodeURIComponent(part)
  } catch {
    return part
  }
}

/**
 * Pure: the parts of a postgres:// or postgresql:// URL that may be shown, or why it is not one
 * (without quoting it). Defaults follow libpq: localhost, 5432, the user's name as database.
 */
export const parseTarget = (url: string): Either.Either<PostgresTarget, string> => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return Either.left("is not a URL (expected postgresql://user:password@host:5432/database)")
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    return Either.left(`is a ${parsed.protocol.replace(/:$/, "")}: URL, expected postgresql://user:password@host:5432/database`)
  }
  const host = decodePart(parsed.hostname.replace(/^\[(.*)\]$/, "$1"))
  if (host === "") return Either.left("names no host (expected postgresql://user:password@host:5432/database)")
  const port = parsed.port === "" ? 5432 : Number(parsed.port)
  const user = decodePart(parsed.username)
  if (user === "") return Either.left("names no user (expected postgresql://user:password@host:5432/database)")
  const database = decodePart(parsed.pathname.replace(/^\//, "")) || user
  return Either.right({ user, host, port, database })
}

export const postgresSettingsFrom = (
  config: GatewayConfig["sessions"]["postgres"],
  env: Record<string, string | undefined>
): Either.Either<PostgresSettings, ConfigError> => {
  const name = config.url_env
  const value = env[name]?.trim()
  const fail = (problem: string) =>
    Either.left(new ConfigError({ path: "sessions.postgres.url_env", message: `sessions.postgres.url_env: the environment variable ${name} ${problem}` }))
  if (value === undefined || value === "") {
    return fail(`${value === undefined ? "is not set" : "is empty"}; set it to the PostgreSQL connection URL ` +
      `(postgresql://user:password@host:5432/database), or set sessions.engine to sqlite`)
  }
  return Either.match(parseTarget(value), {
    onLeft: fail,
    onRight: (target) =>
      Either.right({
        url: Redacted.make(value),
        target,
        poolSize: config.pool_size,
        statementTimeout: config.statement_timeout
      })
  })
}
