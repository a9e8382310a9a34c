// What the CLI may ask about sessions (list, transcript) and the one thing it may change (reactivate
// a session the restart-loop breaker suspended): answered by the running gateway over its control
// channel, or by opening the database directly when no gateway is alive.
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { SessionDbError, SessionDbService } from "./SessionDb.js"

export const SessionQuery = Schema.Union(
  Schema.Struct({ op: Schema.Literal("sessions") }),
  Schema.Struct({ op: Schema.Literal("transcript"), id: Schema.String }),
  Schema.Struct({ op: Schema.Literal("reactivate"), id: Schema.String })
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
