// The turn journal the kernel writes through: a turn is recorded before the agent runs, and its
// completion, failure or interruption afterwards. Closing it is shutdown step 7.
// This file holds the interface and an in-memory journal; the durable one is TurnJournal.ts.
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type { InboundMessage, TurnIds } from "../adapters/Adapter.js"
import type { ChatMessage, Role } from "../agents/Agent.js"
import { memoryHousekeeping } from "./SessionHousekeeping.js"

export type SessionDbErrorReason =
  | "closed"
  | "missing"
  | "unknown_session"
  | "unknown_turn"
  | "turn_not_running"
  | "turn_not_resumable"
  /** markDelivered on a turn that has no final answer yet (running or resume_pending). */
  | "turn_not_ended"
  | "suspended"
  | "corrupt"
  /** A file of the database is a symbolic link, not a regular file, or someone else's: the home is misconfigured. */
  | "unsafe"
  | "storage"

export class SessionDbError extends Data.TaggedError("SessionDbError")<{
  readonly message: string
  /** Set where a caller may act on the kind of failure (e.g. the CLI on "missing"). */
  readonly reason?: SessionDbErrorReason
}> {}

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

/** How a platform delivers replies: on the request's own connection, or pushed to a chat later. */
export type Delivery = "request_response" | "push"

/** Platforms whose reply travels on the request itself, unless configured otherwise; every other one is push. */
export const defaultRequestResponsePlatforms: ReadonlyArray<string> = ["http"]

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
}

export interface MemoryTurn {
  readonly ids: TurnIds
  readonly inbound: string
  readonly inboundSeq: number
  readonly platform: string
  readonly delivery: Delivery
  /** The platform's message id (InboundMessage.externalId), unique within the session. */
  readonly externalId: string | undefined
  readonly startedAt: string
  status: TurnStatus
  reply: string | undefined
  reason: string | undefined
  endedAt: string | undefined
  deliveredAt: string | undefined
  replyRef: string | undefined
}

export interface MemorySession {
  readonly id: string
  readonly platform: string
  readonly chatKey: string
  readonly user: string | null
  readonly createdAt: string
  updatedAt: string
  status: SessionStatus
  readonly messages: Array<TranscriptMessage>
}

export interface MemoryJournal {
  /** By `platform:chatKey`. */
  readonly sessions: Map<string, MemorySession>
  readonly turns: Map<string, MemoryTurn>
  closed: boolean
  nextId: number
}

export const emptyJournal = (): MemoryJournal => ({ sessions: new Map(), turns: new Map(), closed: false, nextId: 1 })

export interface MemoryJournalOptions {
  /** Platforms whose reply travels on the request itself (default ["http"]); every other one is push. */
  readonly requestResponsePlatforms?: ReadonlyArray<string>
}

/**
 * Keeps sessions and turns for the life of the process: nothing survives a restart, so an
 * interrupted turn is always `interrupted`, push or not (there is no later life to resume it in),
 * and `resume_pending` never occurs: resumeTurn and expireTurn always fail with
 * "turn_not_resumable". Delivery follows the platform like the durable journal, so the backlog
 * lists this life's ended push turns whose answer was not marked delivered (an interrupted push
 * turn included: its notice is undelivered too). Duplicate detection by externalId is the same.
 */
export const memorySessionDb = (journal: MemoryJournal, options: MemoryJournalOptions = {}): SessionDbService => {
  const requestResponse = new Set(options.requestResponsePlatforms ?? defaultRequestResponsePlatforms)
  const closedError = new SessionDbError({ message: "the session database is closed", reason: "closed" })
  const now = () => new Date().toISOString()
  const sessionById = (id: string) => Array.from(journal.sessions.values()).find((s) => s.id === id)
  const summary = (s: MemorySession): SessionSummary => ({
    id: s.id,
    platform: s.platform,
    chatKey: s.chatKey,
    user: s.user,
    messageCount: s.messages.length,
    createdAt: s.createdAt,
    lastActivity: s.updatedAt,
    status: s.status
  })
  const record = (t: MemoryTurn): TurnRecord => ({
    id: t.ids.turnId,
    sessionId: t.ids.sessionId,
    platform: t.platform,
    inboundSeq: t.inboundSeq,
    status: t.status,
    reason: t.reason ?? null,
    delivery: t.delivery,
    startedAt: t.startedAt,
    endedAt: t.endedAt ?? null,
    interruptedLives: 0
  })
  const open = <A>(f: () => Effect.Effect<A, SessionDbError>) =>
    Effect.suspend(() => (journal.closed ? Effect.fail(closedError) : f()))
  const append = (session: MemorySession, role: Role, content: string, turnId: string | null) => {
    const at = now()
    session.messages.push({ seq: session.messages.length + 1, role, content, turnId, turnStatus: null, createdAt: at })
    session.updatedAt = at
    return session.messages.length
  }
  const unknownTurn = (turnId: string) => new SessionDbError({ message: `unknown turn ${turnId}`, reason: "unknown_turn" })
  const finishRunning = (ids: TurnIds, update: (t: MemoryTurn) => void) =>
    open(() => {
      const found = journal.turns.get(ids.turnId)
      if (found === undefined) return Effect.fail(unknownTurn(ids.turnId))
      if (found.status !== "running") {
        return Effect.fail(new SessionDbError({ message: `turn ${ids.turnId} is ${found.status}, not running`, reason: "turn_not_running" }))
      }
      update(found)
      found.endedAt = now()
      return Effect.void
    })
  const isEnded = (status: TurnStatus) => status === "completed" || status === "failed" || status === "interrupted"
  return {
    beginTurn: (inbound) =>
      open(() => {
        const key = inbound.sessionKey
        const existing = key === undefined
          ? undefined
          : journal.sessions.get(`${inbound.platform}:${key}`) ??
            [sessionById(key)].find((s) => s?.platform === inbound.platform)
        // Before the suspension check: a message already recorded is a duplicate, not refused.
        if (existing !== undefined && inbound.externalId !== undefined) {
          const earlier = Array.from(journal.turns.values()).find((t) =>
            t.ids.sessionId === existing.id && t.externalId === inbound.externalId
          )
          if (earlier !== undefined) return Effect.succeed<BegunTurn>({ ids: earlier.ids, context: [], duplicate: true })
        }
        if (existing?.status === "suspended") {
          return Effect.fail(new SessionDbError({ message: `session ${existing.id} is suspended`, reason: "suspended" }))
        }
        let session = existing
        if (session === undefined) {
          const id = `s${journal.nextId++}`
          const at = now()
          session = {
            id,
            platform: inbound.platform,
            chatKey: inbound.sessionKey ?? id,
            user: inbound.user ?? null,
            createdAt: at,
            updatedAt: at,
            status: "active",
            messages: []
          }
          journal.sessions.set(`${inbound.platform}:${session.chatKey}`, session)
          for (const m of inbound.history) append(session, m.role, m.content, null)
        }
        const ids: TurnIds = { turnId: `t${journal.nextId++}`, sessionId: session.id }
        const inboundSeq = append(session, "user", inbound.text, ids.turnId)
        journal.turns.set(ids.turnId, {
          ids,
          inbound: inbound.text,
          inboundSeq,
          platform: inbound.platform,
          delivery: requestResponse.has(inbound.platform) ? "request_response" : "push",
          externalId: inbound.externalId,
          startedAt: now(),
          status: "running",
          reply: undefined,
          reason: undefined,
          endedAt: undefined,
          deliveredAt: undefined,
          replyRef: undefined
        })
        return Effect.succeed<BegunTurn>({
          ids,
          context: session.messages.map((m) => ({ role: m.role, content: m.content })),
          duplicate: false
        })
      }),
    completeTurn: (ids, reply) =>
      finishRunning(ids, (t) => {
        t.status = "completed"
        t.reply = reply
        const session = sessionById(ids.sessionId)
        if (session !== undefined) append(session, "assistant", reply, ids.turnId)
      }),
    failTurn: (ids, message) =>
      finishRunning(ids, (t) => {
        t.status = "failed"
        t.reason = message
      }),
    interruptTurn: (ids, reason) =>
      open(() => {
        const found = journal.turns.get(ids.turnId)
        if (found === undefined) return Effect.fail(unknownTurn(ids.turnId))
        // A turn that ended just before the interruption landed keeps its real outcome.
        if (found.status !== "running") return Effect.void
        found.status = "interrupted"
        found.reason = reason
        found.endedAt = now()
        return Effect.void
      }),
    resumeTurn: (turnId) =>
      open(() =>
        Effect.fail(
          new SessionDbError({
            message: `turn ${turnId} cannot be resumed: the in-memory journal keeps nothing across restarts`,
            reason: "turn_not_resumable"
          })
        )
      ),
    expireTurn: (turnId, reason) =>
      open(() => {
        const found = journal.turns.get(turnId)
        if (found === undefined) return Effect.fail(unknownTurn(turnId))
        if (found.status !== "resume_pending") {
          return Effect.fail(
            new SessionDbError({ message: `turn ${turnId} is ${found.status}, not resume_pending`, reason: "turn_not_resumable" })
          )
        }
        found.status = "interrupted"
        found.reason = reason
        found.endedAt = now()
        return Effect.void
      }),
    markDelivered: (ids) =>
      open(() => {
        const found = journal.turns.get(ids.turnId)
        if (found === undefined || found.ids.sessionId !== ids.sessionId) {
          return Effect.fail(new SessionDbError({ message: `unknown turn ${ids.turnId} in session ${ids.sessionId}`, reason: "unknown_turn" }))
        }
        if (!isEnded(found.status)) {
          return Effect.fail(
            new SessionDbError({ message: `turn ${ids.turnId} is ${found.status}: it has no final answer to deliver`, reason: "turn_not_ended" })
          )
        }
        found.deliveredAt ??= now()
        return Effect.void
      }),
    setReplyRef: (ids, ref) =>
      open(() => {
        const found = journal.turns.get(ids.turnId)
        if (found === undefined || found.ids.sessionId !== ids.sessionId) {
          return Effect.fail(new SessionDbError({ message: `unknown turn ${ids.turnId} in session ${ids.sessionId}`, reason: "unknown_turn" }))
        }
        found.replyRef = ref
        return Effect.void
      }),
    backlog: open(() => {
      const rows: Array<BacklogTurn> = []
      for (const t of journal.turns.values()) {
        if (t.delivery !== "push" || t.deliveredAt !== undefined) continue
        const session = sessionById(t.ids.sessionId)
        if (session === undefined) continue
        const status = t.status
        if (status === "running") continue
        if (status === "resume_pending" && session.status === "suspended") continue
        rows.push({
          ids: t.ids,
          platform: t.platform,
          chatKey: session.chatKey,
          status,
          inbound: t.inbound,
          reply: status === "completed" ? t.reply ?? null : null,
          reason: status === "failed" || status === "interrupted" ? t.reason ?? null : null,
          startedAt: t.startedAt,
          interruptedLives: 0,
          replyRef: t.replyRef ?? null
        })
      }
      // Array.prototype.sort is stable: equal start times keep insertion order.
      return Effect.succeed(rows.sort((a, b) => a.startedAt.localeCompare(b.startedAt)))
    }),
    listSessions: open(() =>
      Effect.succeed(
        Array.from(journal.sessions.values()).map(summary).sort((a, b) => b.lastActivity.localeCompare(a.lastActivity))
      )
    ),
    transcript: (sessionId) =>
      open(() => {
        const session = sessionById(sessionId)
        if (session === undefined) {
          return Effect.fail(new SessionDbError({ message: `no session ${sessionId}`, reason: "unknown_session" }))
        }
        return Effect.succeed({
          session: summary(session),
          messages: session.messages.map((m) => ({
            ...m,
            turnStatus: m.turnId === null ? null : journal.turns.get(m.turnId)?.status ?? null
          }))
        })
      }),
    turns: (filter) =>
      open(() =>
        Effect.succeed(
          Array.from(journal.turns.values())
            .filter((t) => filter?.sessionId === undefined || t.ids.sessionId === filter.sessionId)
            .filter((t) => filter?.status === undefined || t.status === filter.status)
            .map(record)
        )
      ),
    ...memoryHousekeeping(journal, open, summary),
    reactivateSession: (sessionId) =>
      open(() => {
        const session = sessionById(sessionId)
        if (session === undefined) {
          return Effect.fail(new SessionDbError({ message: `no session ${sessionId}`, reason: "unknown_session" }))
        }
        session.status = "active"
        return Effect.void
      }),
    close: Effect.sync(() => {
      journal.closed = true
    })
  }
}
