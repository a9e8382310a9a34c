// What crosses the thread boundary between the gateway and its SessionDB worker, as Schemas: one
// request per SessionDbService method and the value each answers with. Both sides encode what they
// send and decode what they receive, so a mismatch is a decoding error naming the field, never a
// silently wrong turn. SessionDbError crosses as {message, reason} and is rebuilt on the other side,
// so callers still act on "suspended", "turn_not_resumable", ...
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { SessionDbService } from "../SessionDb.js"
import { SessionDbError, type SessionDbErrorReason } from "../SessionDb.js"
import { DeliveryColumn, RoleColumn, SessionStatusColumn, TurnStatusColumn } from "../SessionRows.js"

const Ids = Schema.Struct({ turnId: Schema.String, sessionId: Schema.String })
const Message = Schema.Struct({ role: RoleColumn, content: Schema.String })
const OptionalString = Schema.optional(Schema.String)

/** The inbound message as the journal stores it; generation options stay with the turn, not the database. */
const Inbound = Schema.Struct({
  platform: Schema.String,
  sessionKey: Schema.UndefinedOr(Schema.String),
  text: Schema.String,
  history: Schema.Array(Message),
  user: OptionalString,
  externalId: OptionalString
})

export const DbCall = Schema.Union(
  Schema.TaggedStruct("beginTurn", { inbound: Inbound }),
  Schema.TaggedStruct("completeTurn", { ids: Ids, reply: Schema.String }),
  Schema.TaggedStruct("failTurn", { ids: Ids, message: Schema.String }),
  Schema.TaggedStruct("interruptTurn", { ids: Ids, reason: Schema.String }),
  Schema.TaggedStruct("resumeTurn", { turnId: Schema.String }),
  Schema.TaggedStruct("expireTurn", { turnId: Schema.String, reason: Schema.String }),
  Schema.TaggedStruct("markDelivered", { ids: Ids }),
  Schema.TaggedStruct("setReplyRef", { ids: Ids, ref: Schema.String }),
  Schema.TaggedStruct("backlog", {}),
  Schema.TaggedStruct("listSessions", {}),
  Schema.TaggedStruct("transcript", { sessionId: Schema.String }),
  Schema.TaggedStruct("turns", { filter: Schema.optional(Schema.Struct({ sessionId: OptionalString, status: Schema.optional(TurnStatusColumn) })) }),
  Schema.TaggedStruct("prune", { cutoff: Schema.String }),
  Schema.TaggedStruct("sessionsByKey", { key: Schema.String }),
  Schema.TaggedStruct("reactivateSession", { sessionId: Schema.String })
)
export type DbCall = typeof DbCall.Type
export type DbCallTag = DbCall["_tag"]

const BegunTurn = Schema.Struct({
  ids: Ids,
  context: Schema.Array(Message),
  duplicate: Schema.Boolean,
  platform: OptionalString
})

const SessionSummary = Schema.Struct({
  id: Schema.String,
  platform: Schema.String,
  chatKey: Schema.String,
  user: Schema.NullOr(Schema.String),
  messageCount: Schema.Number,
  createdAt: Schema.String,
  lastActivity: Schema.String,
  status: SessionStatusColumn
})

const SessionTranscript = Schema.Struct({
  session: SessionSummary,
  messages: Schema.Array(Schema.Struct({
    seq: Schema.Number,
    role: RoleColumn,
    content: Schema.String,
    turnId: Schema.NullOr(Schema.String),
    turnStatus: Schema.NullOr(TurnStatusColumn),
    createdAt: Schema.String
  }))
})

const TurnRecord = Schema.Struct({
  id: Schema.String,
  sessionId: Schema.String,
  platform: Schema.String,
  inboundSeq: Schema.Number,
  status: TurnStatusColumn,
  reason: Schema.NullOr(Schema.String),
  delivery: DeliveryColumn,
  startedAt: Schema.String,
  endedAt: Schema.NullOr(Schema.String),
  interruptedLives: Schema.Number
})

const BacklogTurn = Schema.Struct({
  ids: Ids,
  platform: Schema.String,
  chatKey: Schema.String,
  status: Schema.Literal("completed", "interrupted", "resume_pending", "failed"),
  inbound: Schema.String,
  reply: Schema.NullOr(Schema.String),
  reason: Schema.NullOr(Schema.String),
  startedAt: Schema.String,
  interruptedLives: Schema.Number,
  replyRef: Schema.NullOr(Schema.String)
})

const PruneResult = Schema.Struct({ sessions: Schema.Number, turns: Schema.Number, messages: Schema.Number })

/** The value each call answers with, checked against the service's own types below. */
export const resultSchemas = {
  beginTurn: BegunTurn,
  completeTurn: Schema.Void,
  failTurn: Schema.Void,
  interruptTurn: Schema.Void,
  resumeTurn: BegunTurn,
  expireTurn: Schema.Void,
  markDelivered: Schema.Void,
  setReplyRef: Schema.Void,
  backlog: Schema.Array(BacklogTurn),
  listSessions: Schema.Array(SessionSummary),
  transcript: SessionTranscript,
  turns: Schema.Array(TurnRecord),
  prune: PruneResult,
  sessionsByKey: Schema.Array(SessionSummary),
  reactivateSession: Schema.Void
} as const

/** What a service method succeeds with. */
export type ServiceResult<K extends DbCallTag> = SessionDbService[K] extends Effect.Effect<infer A, any, any> ? A
  : SessionDbService[K] extends (...args: Array<any>) => Effect.Effect<infer A, any, any> ? A
  : never

/** Compile-time check that every result schema describes what its service method returns. */
export const checkedResultSchemas: { readonly [K in DbCallTag]: Schema.Schema<ServiceResult<K>, any> } = resultSchemas

export const EncodedError = Schema.Struct({
  message: Schema.String,
  reason: Schema.optional(Schema.Literal(
    "closed", "missing", "unknown_session", "unknown_turn", "turn_not_running", "turn_not_resumable",
    "turn_not_ended", "suspended", "corrupt", "unsafe", "storage", "unreachable", "refused", "schema_newer"
  ))
})

/** Compile-time check that every reason a SessionDbError can carry crosses the thread boundary. */
export const everyReasonEncoded: Schema.Schema<SessionDbErrorReason> = EncodedError.fields.reason.from

export const encodeError = (error: SessionDbError): typeof EncodedError.Type =>
  error.reason === undefined ? { message: error.message } : { message: error.message, reason: error.reason }

export const decodeError = (encoded: typeof EncodedError.Type): SessionDbError => new SessionDbError(encoded)

/** What the worker needs to open the database: the store's options and what the open is for. */
export const OpenRequest = Schema.TaggedStruct("Open", {
  file: Schema.String,
  engine: Schema.optional(Schema.Literal("auto", "node:sqlite", "node-sqlite3-wasm")),
  requestResponsePlatforms: Schema.optional(Schema.Array(Schema.String)),
  maxInterruptedLives: Schema.optional(Schema.Number),
  maxContextMessages: Schema.optional(Schema.Number),
  busyTimeoutMs: Schema.optional(Schema.Number),
  previousLifeCrashed: Schema.Boolean,
  /** False when a respawned worker reopens: turns left running belong to the live gateway. */
  recoverTurns: Schema.Boolean,
  /** The most calls one group commit covers. */
  maxGroup: Schema.Number
})
export type OpenRequest = typeof OpenRequest.Type

const Call = Schema.TaggedStruct("Call", { id: Schema.Number, call: DbCall })

export const ToWorker = Schema.Union(
  OpenRequest,
  Call,
  /** The calls made in one run of the gateway's event loop, in call order, in one message. */
  Schema.TaggedStruct("Calls", { calls: Schema.Array(Call) }),
  Schema.TaggedStruct("Close", {})
)
export type ToWorker = typeof ToWorker.Type

const RecoveryReport = Schema.Struct({
  file: Schema.String,
  engine: Schema.Literal("node:sqlite", "node-sqlite3-wasm", "postgresql"),
  previous_life_crashed: Schema.Boolean,
  integrity: Schema.String,
  moved_aside: Schema.NullOr(Schema.Struct({ reason: Schema.String, moved_to: Schema.String, files: Schema.Array(Schema.String) })),
  removed_stale_lock: Schema.Boolean,
  turns_interrupted: Schema.Number,
  turns_resume_pending: Schema.Number,
  turns_failed: Schema.Number,
  sessions_suspended: Schema.Array(Schema.String),
  took_ms: Schema.Number
})

/** The answer to one call. */
export const Answer = Schema.Union(
  /** `value` is the call's result, encoded with resultSchemas[tag]. */
  Schema.TaggedStruct("Done", { id: Schema.Number, value: Schema.Unknown }),
  Schema.TaggedStruct("Failed", { id: Schema.Number, error: EncodedError }),
  /** A bug in the worker: the caller gets a defect, as it would in-process. */
  Schema.TaggedStruct("Defect", { id: Schema.Number, message: Schema.String })
)
export type Answer = typeof Answer.Type

export const FromWorker = Schema.Union(
  Schema.TaggedStruct("Opened", { recovery: Schema.NullOr(RecoveryReport) }),
  Schema.TaggedStruct("OpenFailed", { error: EncodedError }),
  ...Answer.members,
  /**
   * The answers of the calls one transaction covered, in call order, in one message: one message
   * (one copy, one wake-up of the gateway's event loop) per commit rather than one per call.
   */
  Schema.TaggedStruct("Answers", { answers: Schema.Array(Answer) }),
  Schema.TaggedStruct("Closed", { error: Schema.NullOr(EncodedError) }),
  /** A line the worker logged, re-logged by the gateway's own logger. */
  Schema.TaggedStruct("Log", { level: Schema.Literal("Debug", "Info", "Warning", "Error"), message: Schema.String })
)
export type FromWorker = typeof FromWorker.Type
