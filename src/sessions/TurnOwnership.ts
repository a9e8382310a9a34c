// Fencing between replicas sharing one database (src/replicas/): a replica whose lease lapsed (a
// database outage longer than the lease, a long stall) may have had its running turns recovered by
// another. Its journal then refuses to end or advance them, so a turn is never completed twice and
// its answer never recorded twice; for that replica the turn ends as lost.
import type { TurnRow } from "./SessionRows.js"

/** The words recovery writes into the reason of a turn it took from a replica whose lease expired. */
export const leaseExpiredMark = "its lease expired"

/**
 * Pure: why `me` may no longer write the end of `turn`, or undefined when it may (or when turns
 * carry no owner: `me` undefined, SQLite's single gateway).
 */
export const lostTurnProblem = (
  turn: Pick<typeof TurnRow.Type, "id" | "status" | "reason" | "owner">,
  me: string | undefined
): string | undefined => {
  if (me === undefined) return undefined
  if (turn.status === "running" && turn.owner !== undefined && turn.owner !== me) {
    return `turn ${turn.id} is lost to this replica (${me}): replica ${turn.owner ?? "unknown"} runs it now ` +
      `(it was recovered after this replica's lease lapsed); this replica records nothing for it`
  }
  if (turn.status !== "running" && turn.owner === me && (turn.reason ?? "").includes(leaseExpiredMark)) {
    return `turn ${turn.id} is lost to this replica (${me}): another replica recovered it as ${turn.status} ` +
      `after this replica's lease lapsed; this replica records nothing for it`
  }
  return undefined
}
