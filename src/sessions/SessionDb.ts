// The turn journal the kernel writes through: a turn is recorded before the agent runs, and its
// completion, failure or interruption afterwards. Closing it is shutdown step 7.
// This file holds the interface and an in-memory journal; the durable SQLite one is its own issue.
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type { InboundMessage, TurnIds } from "../adapters/Adapter.js"
import type { ChatMessage } from "../agents/Agent.js"

export class SessionDbError extends Data.TaggedError("SessionDbError")<{
  readonly message: string
}> {}

export interface BegunTurn {
  readonly ids: TurnIds
  /** The conversation the agent answers: the session's transcript ending with the inbound message. */
  readonly context: ReadonlyArray<ChatMessage>
}

export type TurnStatus = "running" | "completed" | "interrupted" | "failed"

export interface SessionDbService {
  readonly beginTurn: (inbound: InboundMessage) => Effect.Effect<BegunTurn, SessionDbError>
  readonly completeTurn: (ids: TurnIds, reply: string) => Effect.Effect<void, SessionDbError>
  readonly failTurn: (ids: TurnIds, message: string) => Effect.Effect<void, SessionDbError>
  readonly interruptTurn: (ids: TurnIds, reason: string) => Effect.Effect<void, SessionDbError>
  /** Waits for writes in flight, then closes. The kernel bounds it with db_close_timeout. */
  readonly close: Effect.Effect<void, SessionDbError>
}

export interface MemoryTurn {
  readonly ids: TurnIds
  readonly inbound: string
  status: TurnStatus
  reply: string | undefined
  reason: string | undefined
}

export interface MemoryJournal {
  readonly sessions: Map<string, { readonly id: string; readonly transcript: Array<ChatMessage> }>
  readonly turns: Map<string, MemoryTurn>
  closed: boolean
  nextId: number
}

export const emptyJournal = (): MemoryJournal => ({ sessions: new Map(), turns: new Map(), closed: false, nextId: 1 })

/** Keeps sessions and turns for the life of the process: nothing survives a restart. */
export const memorySessionDb = (journal: MemoryJournal): SessionDbService => {
  const closedError = new SessionDbError({ message: "the session database is closed" })
  const turn = (ids: TurnIds) => journal.turns.get(ids.turnId)
  const finish = (ids: TurnIds, update: (t: MemoryTurn) => void) =>
    Effect.suspend(() => {
      if (journal.closed) return Effect.fail(closedError)
      const found = turn(ids)
      if (found === undefined) return Effect.fail(new SessionDbError({ message: `unknown turn ${ids.turnId}` }))
      update(found)
      return Effect.void
    })
  return {
    beginTurn: (inbound) =>
      Effect.suspend(() => {
        if (journal.closed) return Effect.fail(closedError)
        const key = inbound.sessionKey === undefined ? undefined : `${inbound.platform}:${inbound.sessionKey}`
        let session = key === undefined ? undefined : journal.sessions.get(key)
        if (session === undefined) {
          session = { id: `s${journal.nextId++}`, transcript: [...inbound.history] }
          journal.sessions.set(key ?? session.id, session)
        }
        const ids: TurnIds = { turnId: `t${journal.nextId++}`, sessionId: session.id }
        session.transcript.push({ role: "user", content: inbound.text })
        journal.turns.set(ids.turnId, { ids, inbound: inbound.text, status: "running", reply: undefined, reason: undefined })
        return Effect.succeed({ ids, context: [...session.transcript] })
      }),
    completeTurn: (ids, reply) =>
      finish(ids, (t) => {
        t.status = "completed"
        t.reply = reply
        for (const session of journal.sessions.values()) {
          if (session.id === ids.sessionId) session.transcript.push({ role: "assistant", content: reply })
        }
      }),
    failTurn: (ids, message) =>
      finish(ids, (t) => {
        t.status = "failed"
        t.reason = message
      }),
    interruptTurn: (ids, reason) =>
      finish(ids, (t) => {
        t.status = "interrupted"
        t.reason = reason
      }),
    close: Effect.sync(() => {
      journal.closed = true
    })
  }
}
