// Rows as SQLite returns them, decoded with Schema at the boundary: both engines hand back plain
// values (numbers, strings, null), and a row that does not match is reported with the bad field's path.
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { SessionDbError } from "./SessionDb.js"

const Integer = Schema.Union(Schema.Number, Schema.BigIntFromSelf).pipe(
  Schema.transform(Schema.Number, {
    strict: true,
    decode: (n) => Number(n),
    encode: (n) => n
  })
)

export const TurnStatusColumn = Schema.Literal("running", "completed", "interrupted", "resume_pending", "failed")
export const SessionStatusColumn = Schema.Literal("active", "suspended")
export const DeliveryColumn = Schema.Literal("request_response", "push")
export const RoleColumn = Schema.Literal("system", "user", "assistant")

export const SessionRow = Schema.Struct({
  id: Schema.String,
  platform: Schema.String,
  chat_key: Schema.String,
  user: Schema.NullOr(Schema.String),
  created_at: Schema.String,
  updated_at: Schema.String,
  status: SessionStatusColumn
})

export const SessionSummaryRow = Schema.Struct({
  ...SessionRow.fields,
  message_count: Integer
})

export const MessageRow = Schema.Struct({
  seq: Integer,
  role: RoleColumn,
  content: Schema.String,
  turn_id: Schema.NullOr(Schema.String),
  turn_status: Schema.NullOr(TurnStatusColumn),
  created_at: Schema.String
})

export const ContextRow = Schema.Struct({
  seq: Schema.Number,
  role: RoleColumn,
  content: Schema.String
})

export const TurnRow = Schema.Struct({
  id: Schema.String,
  session_id: Schema.String,
  platform: Schema.String,
  inbound_seq: Integer,
  status: TurnStatusColumn,
  reason: Schema.NullOr(Schema.String),
  delivery: DeliveryColumn,
  started_at: Schema.String,
  ended_at: Schema.NullOr(Schema.String),
  interrupted_lives: Integer,
  /** The replica running it (schema 4); read only where ownership is checked. */
  owner: Schema.optional(Schema.NullOr(Schema.String))
})

export const NextSeqRow = Schema.Struct({ next_seq: Integer })

/** A turn found by its session and external id (duplicate detection). */
export const TurnIdRow = Schema.Struct({ id: Schema.String })

/** One row of the backlog query: a push turn with its session's chat key, inbound message and reply. */
export const BacklogRow = Schema.Struct({
  id: Schema.String,
  session_id: Schema.String,
  platform: Schema.String,
  chat_key: Schema.String,
  status: Schema.Literal("completed", "interrupted", "resume_pending", "failed"),
  inbound: Schema.String,
  reply: Schema.NullOr(Schema.String),
  reply_ref: Schema.NullOr(Schema.String),
  reason: Schema.NullOr(Schema.String),
  started_at: Schema.String,
  interrupted_lives: Integer
})

/** What a prune is about to remove (SessionHousekeeping.ts). */
export const PruneCountsRow = Schema.Struct({ sessions: Integer, turns: Integer, messages: Integer })

export const IntegrityRow = Schema.Struct({ integrity_check: Schema.String })

/** Decodes query results; node:sqlite rows have a null prototype, so they are copied first. */
// One decoder per row schema, built once: call sites ask for it on every query, and building the
// array schema's decoder each time showed up in the turn path's CPU profile.
const arrayDecoders = new WeakMap<object, (rows: unknown) => Effect.Effect<ReadonlyArray<unknown>, ParseResult.ParseError>>()

const arrayDecoder = <A, I>(schema: Schema.Schema<A, I>) => {
  let decode = arrayDecoders.get(schema)
  if (decode === undefined) {
    decode = Schema.decodeUnknown(Schema.Array(schema))
    arrayDecoders.set(schema, decode)
  }
  return decode as (rows: unknown) => Effect.Effect<ReadonlyArray<A>, ParseResult.ParseError>
}

export const decodeRows = <A, I>(schema: Schema.Schema<A, I>, what: string) => {
  const decode = arrayDecoder(schema)
  return (rows: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<A>, SessionDbError> =>
    decode(rows.map((row) => ({ ...(row as object) }))).pipe(
      Effect.mapError((error) =>
        new SessionDbError({
          message: `unexpected ${what} row in the session database: ${ParseResult.TreeFormatter.formatErrorSync(error)}`,
          reason: "storage"
        })
      )
    )
}
