// The turn journal the kernel writes through: a turn is recorded before the agent runs, and its
// completion, failure or interruption afterwards. Closing it is shutdown step 7.
// This file holds the interface and the records it answers with; the durable journal is
// TurnJournal.ts, the in-memory one MemorySessionDb.ts.
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type { InboundMessage, TurnIds } from "../adapters/TurnIntake.js"
import type { ChatMessage, Role } from "../agents/Agent.js"
import type { SessionDbError } from "./SessionDbError.js"
import type { Delivery } from "./DeliveryMode.js"

export { SessionDbError, type SessionDbErrorReason } from "./SessionDbError.js"
export { type Delivery, defaultRequestResponsePlatforms } from "./DeliveryMode.js"

export interface BegunTurn {
  readonly ids: TurnIds
  /** The conversation the agent answers: the session's transcript ending with the inbound message. */
  readonly context: ReadonlyArray<ChatMessage>
  /**
   * The inbound message's externalId was already recorded in this session by an earlier turn:
   * nothing new was written, `ids` name that turn, and `context` is empty. The earlier turn owns
   * the answer (it is resumed or delivered after a restart), so the caller must not run it again.
   */
  readonly duplicate: boolean
  /** The platform of the turn's session, where the caller does not know it (resumeTurn). */
  readonly platform?: string | undefined
}

/**
 * running → completed | failed | interrupted (request/response platforms: the client is gone) |
 * resume_pending (push platforms: resumed after restart, back to running; or expired by expireTurn
 * to interrupted). completed, failed and interrupted are final; a push turn's answer is then
 * undelivered until markDelivered.
 */
export type TurnStatus = "running" | "completed" | "interrupted" | "resume_pending" | "failed"

export type SessionStatus = "active" | "suspended"


/**
 * The inbound message, plus who sent it where the platform knows (stored on the session). Its
 * `sessionKey` continues the session of the same platform whose chat key, or else whose id, it is;
 * undefined starts a new session.
 */
export interface SessionInbound extends InboundMessage {
  readonly user?: string | undefined
}

export interface SessionSummary {
  readonly id: string
  readonly platform: string
  /** The platform's conversation key; a session begun without one uses its own id. */
  readonly chatKey: string
  readonly user: string | null
  readonly messageCount: number
  readonly createdAt: string
  /** ISO time of the last message or turn change. */
  readonly lastActivity: string
  readonly status: SessionStatus
}

export interface TranscriptMessage {
  readonly seq: number
  readonly role: Role
  readonly content: string
  /** null for history a client sent along with the first request of a session. */
  readonly turnId: string | null
  readonly turnStatus: TurnStatus | null
  readonly createdAt: string
}

export interface SessionTranscript {
  readonly session: SessionSummary
  /** Oldest first. */
  readonly messages: ReadonlyArray<TranscriptMessage>
}

export interface TurnRecord {
  readonly id: string
  readonly sessionId: string
  readonly platform: string
  /** seq of the inbound user message in the session's transcript. */
  readonly inboundSeq: number
  readonly status: TurnStatus
  readonly reason: string | null
  readonly delivery: Delivery
  readonly startedAt: string
  readonly endedAt: string | null
  /** Gateway lives that died (without shutting down) while this turn was running. */
  readonly interruptedLives: number
}

/**
 * A push turn a new life must act on: `resume_pending` (run it again, or expire it when too old),
 * or ended (`completed`, `failed`, `interrupted`) with an answer that never reached its chat.
 */
export interface BacklogTurn {
  readonly ids: TurnIds
  readonly platform: string
  /** The platform's conversation key of the turn's session (Telegram: the chat id). */
  readonly chatKey: string
  readonly status: Exclude<TurnStatus, "running">
  /** The inbound user message that began the turn. */
  readonly inbound: string
  /** completed: the reply; otherwise null. */
  readonly reply: string | null
  /** failed / interrupted: why; otherwise null. */
  readonly reason: string | null
  /** When the inbound message was recorded (ISO). */
  readonly startedAt: string
  readonly interruptedLives: number
  /** The platform's message the answer goes into (setReplyRef), or null. */
  readonly replyRef: string | null
}

export interface PruneResult {
  readonly sessions: number
  readonly turns: number
  readonly messages: number
}

export interface TurnFilter {
  readonly sessionId?: string
  readonly status?: TurnStatus
}

/** What the state file says about the session database (null fields while it is available). */
export interface StorageHealth {
  readonly state: "available" | "unavailable"
  /** When it became unavailable (ISO), else null. */
  readonly since: string | null
  /** Why, never a URL or password, else null. */
  readonly problem: string | null
}

export interface SessionDbService {
  /**
   * Records the inbound message and a running turn; durable when it succeeds (the point of
   * acknowledgement). With an `externalId` already recorded in the session the key continues, it
   * writes nothing and returns that turn with `duplicate: true`; this check comes before the
   * suspended-session refusal (a message already recorded is not reported as refused). Fails with
   * "suspended" for a new message to a suspended session.
   */
  readonly beginTurn: (inbound: SessionInbound) => Effect.Effect<BegunTurn, SessionDbError>
  readonly completeTurn: (ids: TurnIds, reply: string) => Effect.Effect<void, SessionDbError>
  readonly failTurn: (ids: TurnIds, message: string) => Effect.Effect<void, SessionDbError>
  /** A turn cut short by shutdown: `interrupted` (request/response) or `resume_pending` (push). */
  readonly interruptTurn: (ids: TurnIds, reason: string) => Effect.Effect<void, SessionDbError>
  /**
   * A resume_pending turn goes back to running; the context ends with its inbound message
   * (`duplicate: false`). Fails with "turn_not_resumable" from any other status, "suspended" when
   * its session is suspended.
   */
  readonly resumeTurn: (turnId: string) => Effect.Effect<BegunTurn, SessionDbError>
  /**
   * A resume_pending turn too old to resume becomes `interrupted` with `reason`; its notice is still
   * undelivered, so it stays in the backlog until markDelivered. Any other status fails with
   * "turn_not_resumable", an unknown turn with "unknown_turn".
   */
  readonly expireTurn: (turnId: string, reason: string) => Effect.Effect<void, SessionDbError>
  /**
   * The final answer of a push turn reached its chat (or never can): a restart does not send it
   * again. Only for ended turns (completed, failed, interrupted): a running or resume_pending one
   * fails with "turn_not_ended". Idempotent: a second call keeps the first delivery time. A turn
   * that is not in `ids.sessionId` fails with "unknown_turn".
   */
  readonly markDelivered: (ids: TurnIds) => Effect.Effect<void, SessionDbError>
  /**
   * The platform's message that will carry this turn's answer (Telegram: the message_id of a
   * placeholder, edited into the answer). Recorded before the answer exists, so a later life
   * delivers into the same message instead of sending a second one. Any status but an unknown turn.
   */
  readonly setReplyRef: (ids: TurnIds, ref: string) => Effect.Effect<void, SessionDbError>
  /**
   * Push turns left `resume_pending` (except in suspended sessions, which cannot resume them until
   * reactivated), and ended push turns whose answer is undelivered, suspended sessions included (the
   * restart-loop breaker's failure notice must still reach its chat); oldest first (started_at, then
   * insertion order). Request/response turns never appear.
   */
  readonly backlog: Effect.Effect<ReadonlyArray<BacklogTurn>, SessionDbError>
  readonly listSessions: Effect.Effect<ReadonlyArray<SessionSummary>, SessionDbError>
  readonly transcript: (sessionId: string) => Effect.Effect<SessionTranscript, SessionDbError>
  readonly turns: (filter?: TurnFilter) => Effect.Effect<ReadonlyArray<TurnRecord>, SessionDbError>
  /**
   * Removes, in one durable transaction, every finished session whose last activity is before
   * `cutoff` (ISO), with its turns and messages (SessionHousekeeping.ts says which are finished).
   */
  readonly prune: (cutoff: string) => Effect.Effect<PruneResult, SessionDbError>
  /** The session whose id is `key`, else those whose chat key it is (one per platform at most). */
  readonly sessionsByKey: (key: string) => Effect.Effect<ReadonlyArray<SessionSummary>, SessionDbError>
  /** Lets a session suspended by the restart-loop breaker take turns again (an operator's decision). */
  readonly reactivateSession: (sessionId: string) => Effect.Effect<void, SessionDbError>
  /** Waits for writes in flight, then closes. The kernel bounds it with db_close_timeout. */
  readonly close: Effect.Effect<void, SessionDbError>
  /**
   * A database shared by replicas (PostgreSQL): this replica's id and the database's availability
   * as it changes (the current value first), for the state file and `gateway status`. Absent for
   * SQLite and the in-memory store.
   */
  readonly shared?: {
    readonly replicaId: string
    readonly health: Stream.Stream<StorageHealth>
  }
}
