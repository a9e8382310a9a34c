// Pure decisions about a PostgreSQL failure at start-up: is it the server being away (temporary:
// exit 69, a supervisor tries again later) or something only the operator can fix (wrong password,
// missing database, no right to create the schema: exit 78)? And the scrubbing that keeps the
// URL and the password out of every message, whatever a driver or server puts in one.
import * as Redacted from "effect/Redacted"
import { describeFailure } from "../SessionDbFailure.js"
import { describeAddress, describeTarget, type PostgresTarget } from "./PostgresSettings.js"

export type PgStartupProblem = "unreachable" | "refused"

const chainOf = (error: unknown): ReadonlyArray<Record<string, unknown>> => {
  const chain: Array<Record<string, unknown>> = []
  let current: unknown = error
  for (let depth = 0; typeof current === "object" && current !== null && depth < 8; depth++) {
    chain.push(current as Record<string, unknown>)
    current = (current as { cause?: unknown }).cause
  }
  return chain
}

/** SQLSTATE or errno code anywhere in the error's cause chain. */
export const pgCodes = (error: unknown): ReadonlyArray<string> =>
  chainOf(error).flatMap((e) => (typeof e.code === "string" ? [e.code] : []))

const networkCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET", "EPIPE"])
/** The server is starting or shutting down, or has no connection slot left: it will take us later. */
const serverBusyCodes = new Set(["57P01", "57P02", "57P03", "53300", "08000", "08001", "08003", "08006"])
const timeoutText = /timeout exceeded when trying to connect|connection timeout|Connection terminated/i

/** Pure: temporary (the server cannot be reached now) or the operator's to fix. */
export const startupProblemOf = (error: unknown): PgStartupProblem => {
  const codes = pgCodes(error)
  if (codes.some((code) => networkCodes.has(code) || serverBusyCodes.has(code))) return "unreachable"
  if (codes.length === 0 && chainOf(error).some((e) => typeof e.message === "string" && timeoutText.test(e.message))) return "unreachable"
  return "refused"
}

/** Hints for the mistakes an operator makes most, by SQLSTATE. */
const hints: Readonly<Record<string, string>> = {
  "28P01": "wrong password for this user",
  "28000": "the server refuses this user (pg_hba.conf)",
  "3D000": "the database does not exist",
  "42501": "the user may not create the SessionDB's tables (grant CREATE on the schema, or migrate as its owner)",
  "42P07": "a table of that name already exists and is not the SessionDB's"
}

/** Removes the URL and its password from `text` (a server may echo neither, but a driver might). */
export const scrub = (text: string, url: Redacted.Redacted<string>): string => {
  const full = Redacted.value(url)
  let password = ""
  try {
    password = decodeURIComponent(new URL(full).password)
  } catch {
    // An unparsable URL was refused before any connection; nothing more to hide than the whole.
  }
  let out = text.split(full).join("<database url>")
  if (password !== "") {
    out = out.split(password).join("<redacted>")
    const encoded = encodeURIComponent(password)
    if (encoded !== password) out = out.split(encoded).join("<redacted>")
  }
  return out
}

/** One line for an operator: what failed, where, and why; never the password. */
export const describeStartupFailure = (error: unknown, target: PostgresTarget, url: Redacted.Redacted<string>): string => {
  const detail = scrub(describeFailure(error), url)
  if (startupProblemOf(error) === "unreachable") {
    return `cannot reach PostgreSQL at ${describeAddress(target)}: ${detail}`
  }
  const hint = pgCodes(error).map((code) => hints[code]).find((h) => h !== undefined)
  return `PostgreSQL ${describeTarget(target)} refused the session database: ${detail}${hint === undefined ? "" : ` (${hint})`}`
}
