// What the CLI may ask about sessions (list, lookup by key, transcript) and what it may change
// (reactivate a session the restart-loop breaker suspended, prune finished old sessions): answered
// by the running gateway over its control channel, or by opening the database directly when no
// gateway is alive.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { PruneResult, SessionDbError, SessionDbService } from "./SessionDb.js"

/** Sessions younger than a day are never pruned: a typo such as `1h` for `1d` cannot wipe the week. */
export const minimumPruneAgeMs = 24 * 3600 * 1000
/** Ten years (sessions.retention's bound): the cutoff stays a real date. */
export const maximumPruneAgeMs = 3650 * minimumPruneAgeMs

/**
 * What a prune answers: how much it removed, and the cutoff it applied (last activity before it);
 * null when there was no database to prune.
 */
export interface PruneReport extends PruneResult {
  readonly cutoff: string | null
}

/** Removes the finished sessions whose last activity is more than `olderThanMs` ago, by this process's clock. */
export const pruneOlderThan = (
  db: SessionDbService,
  olderThanMs: number
): Effect.Effect<PruneReport & { readonly cutoff: string }, SessionDbError> =>
  Effect.gen(function*() {
    const cutoff = new Date((yield* Clock.currentTimeMillis) - olderThanMs).toISOString()
    const removed = yield* db.prune(cutoff)
    return { ...removed, cutoff }
  })

export const SessionQuery = Schema.Union(
  Schema.Struct({ op: Schema.Literal("sessions") }),
  Schema.Struct({ op: Schema.Literal("transcript"), id: Schema.String }),
  Schema.Struct({ op: Schema.Literal("reactivate"), id: Schema.String }),
  Schema.Struct({ op: Schema.Literal("lookup"), key: Schema.String }),
  // Checked here too: the control socket is a boundary, whatever the CLI already refused.
  Schema.Struct({
    op: Schema.Literal("prune"), olderThanMs: Schema.Int.pipe(Schema.between(minimumPruneAgeMs, maximumPruneAgeMs))
  })
)
export type SessionQuery = typeof SessionQuery.Type

export type SessionAnswer = { readonly ok: unknown } | { readonly error: string }

export const answerQuery = (db: SessionDbService, query: SessionQuery): Effect.Effect<unknown, SessionDbError> => {
  switch (query.op) {
    case "sessions":
      return db.listSessions
    case "transcript":
      return db.transcript(query.id)
    case "reactivate":
      // Answers with the session as it now is.
      return Effect.zipRight(db.reactivateSession(query.id), Effect.map(db.transcript(query.id), (t) => t.session))
    case "lookup":
      return db.sessionsByKey(query.key)
    case "prune":
      return pruneOlderThan(db, query.olderThanMs)
  }
}

/** Decodes a request from the control channel and answers it; never fails. */
export const answerRawQuery = (db: SessionDbService) => (raw: unknown): Effect.Effect<SessionAnswer> => {
  const decoded = Schema.decodeUnknownEither(SessionQuery)(raw)
  if (Either.isLeft(decoded)) {
    return Effect.succeed({ error: `unknown request: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}` })
  }
  return answerQuery(db, decoded.right).pipe(
    Effect.map((ok): SessionAnswer => ({ ok })),
    Effect.catchAll((error) => Effect.succeed<SessionAnswer>({ error: error.message }))
  )
}
