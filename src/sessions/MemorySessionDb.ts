// The in-memory turn journal: sessions and turns kept for the life of the process, for tests that
// run the kernel without a database (SessionStore.memory). The durable journal is TurnJournal.ts;
// both implement SessionDbService (SessionDb.ts) and the sessions test harness holds them to the same cases.
import * as Effect from "effect/Effect"
import type { TurnIds } from "../adapters/TurnIntake.js"
import type { Role } from "../agents/Agent.js"
import type {
  BacklogTurn,
  BegunTurn,
  PruneResult,
  SessionDbService,
  SessionStatus,
  SessionSummary,
  TranscriptMessage,
  TurnRecord,
  TurnStatus
} from "./SessionDb.js"
import { boundedContext, defaultMaxContextMessages } from "./ContextBound.js"
import { SessionDbError } from "./SessionDbError.js"
import { type Housekeeping, isPrunable } from "./SessionHousekeeping.js"
import { type Delivery, defaultRequestResponsePlatforms } from "./DeliveryMode.js"

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
  /** The most messages a turn's context holds (sessions.max_context_messages; ContextBound.ts). */
  readonly maxContextMessages?: number
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
          context: boundedContext(session.messages, options.maxContextMessages ?? defaultMaxContextMessages),
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

/** The in-memory journal's housekeeping, with the same decision. */
export const memoryHousekeeping = (
  journal: MemoryJournal,
  open: <A>(f: () => Effect.Effect<A, SessionDbError>) => Effect.Effect<A, SessionDbError>,
  summary: (session: MemorySession) => SessionSummary
): Housekeeping => ({
  prune: (cutoff) =>
    open(() => {
      const result = { sessions: 0, turns: 0, messages: 0 }
      for (const [mapKey, session] of journal.sessions) {
        const turns = Array.from(journal.turns.values()).filter((t) => t.ids.sessionId === session.id)
        const holds = turns.map((t) => ({ status: t.status, delivery: t.delivery, delivered: t.deliveredAt !== undefined }))
        if (!isPrunable({ status: session.status, lastActivity: session.updatedAt }, holds, cutoff)) continue
        for (const turn of turns) journal.turns.delete(turn.ids.turnId)
        journal.sessions.delete(mapKey)
        result.sessions++
        result.turns += turns.length
        result.messages += session.messages.length
      }
      return Effect.succeed<PruneResult>(result)
    }),
  sessionsByKey: (key) =>
    open(() => {
      const all = Array.from(journal.sessions.values())
      const byId = all.filter((s) => s.id === key)
      const found = byId.length > 0 ? byId : all.filter((s) => s.chatKey === key)
      return Effect.succeed(
        found.map(summary).sort((a, b) => a.platform.localeCompare(b.platform) || a.id.localeCompare(b.id))
      )
    })
})
