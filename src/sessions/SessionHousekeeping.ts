// Sessions housekeeping: pruning finished sessions older than a cutoff, and finding a session by the
// key a client sent. One decision (isPrunable), written again in SQL by SqlHousekeeping.ts for the
// durable journal and used as it is by the in-memory one (MemorySessionDb.ts), so both remove exactly the same sessions.
//
// A session is finished when nothing the gateway still owes is in it: no turn running, none
// resume_pending (a later life runs it again), and no push turn whose final answer (or failure
// notice) has not been marked delivered. A suspended session is never pruned: the restart-loop
// breaker suspended it for an operator to look at, and only `sessions reactivate` ends that.
import type { Delivery, SessionDbService, SessionStatus, TurnStatus } from "./SessionDb.js"

export interface TurnHold {
  readonly status: TurnStatus
  readonly delivery: Delivery
  /** A final answer marked delivered (delivered_at set). */
  readonly delivered: boolean
}

/** A turn the gateway still has work for: running, waiting to resume, or a push answer not yet delivered. */
export const holdsSession = (turn: TurnHold): boolean =>
  turn.status === "running" || turn.status === "resume_pending" || (turn.delivery === "push" && !turn.delivered)

/**
 * Pure: may this session be removed by a prune with `cutoff` (ISO time)? Active, last activity
 * (the newest message or turn change) strictly before the cutoff, and no turn holding it.
 */
export const isPrunable = (
  session: { readonly status: SessionStatus; readonly lastActivity: string },
  turns: ReadonlyArray<TurnHold>,
  cutoff: string
): boolean => session.status === "active" && session.lastActivity < cutoff && !turns.some(holdsSession)

export type Housekeeping = Pick<SessionDbService, "prune" | "sessionsByKey">
