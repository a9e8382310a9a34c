// How engine failures become a SessionDbError: SqlErrors (including the commit failures and
// migration errors that @effect/sql raises as defects) name the file and the operation; any other
// defect is a bug and stays a defect.
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { SessionDbError } from "./SessionDb.js"
import { describeSqliteError, isCorruptionError } from "./SqliteDriver.js"

const causes = (error: unknown): ReadonlyArray<unknown> => {
  const chain: Array<unknown> = []
  let current: unknown = error
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    chain.push(current)
    current = typeof current === "object" && "cause" in current ? (current as { cause?: unknown }).cause : undefined
  }
  return chain
}

/** Whether the error, or anything in its `cause` chain, says the database file is damaged. */
export const isCorruption = (error: unknown): boolean => causes(error).some(isCorruptionError)

const isSqlFailure = (error: unknown): boolean =>
  causes(error).some((e) => typeof e === "object" && e !== null && "_tag" in e && (e._tag === "SqlError" || e._tag === "MigrationError"))

/** The innermost message, which is the engine's own words. */
export const describeFailure = (error: unknown): string => {
  const chain = causes(error)
  const messages = chain.map((e) => describeSqliteError(e)).filter((m) => m !== "" && m !== "undefined")
  return messages.length === 0 ? String(error) : Array.from(new Set(messages)).join(": ")
}

export const toSessionDbError = (file: string, what: string, cause: Cause.Cause<unknown>): SessionDbError | Cause.Cause<never> => {
  const failure = Cause.failureOption(cause)
  const error = Option.isSome(failure) ? failure.value : Option.getOrUndefined(Cause.dieOption(cause))
  if (error instanceof SessionDbError) return error
  if (error !== undefined && (Option.isSome(failure) || isSqlFailure(error))) {
    return new SessionDbError({
      message: `session database ${file}: cannot ${what}: ${describeFailure(error)}`,
      reason: isCorruption(error) ? "corrupt" : "storage"
    })
  }
  return cause as Cause.Cause<never>
}

/** Fails with the SessionDbError for `cause`, or re-raises it when it is a bug. */
export const failWithSessionDbError = (file: string, what: string) => (cause: Cause.Cause<unknown>): Effect.Effect<never, SessionDbError> => {
  const mapped = toSessionDbError(file, what, cause)
  return mapped instanceof SessionDbError ? Effect.fail(mapped) : Effect.failCause(mapped)
}
