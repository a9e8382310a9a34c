// One INFO line per finished turn, so the default log shows the traffic: where it came from,
// which session, how it ended and how long it took. Message text never goes into the log.
import type { TurnOutcome } from "../adapters/Adapter.js"

/** How a turn ended, in the one word the log line and the turn's span both use. */
export const outcomeWord: Record<TurnOutcome["_tag"], string> = {
  Completed: "completed",
  Interrupted: "interrupted",
  Failed: "failed",
  Duplicate: "duplicate",
  Refused: "refused"
}

export const formatTurnDuration = (ms: number): string =>
  ms < 1000 ? `${Math.max(0, Math.round(ms))}ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`

/** `turn finished platform=http session=… outcome=completed duration=1.20s` (plus turn id and reason). */
export const turnLine = (platform: string, outcome: TurnOutcome, durationMs: number): string => {
  const session = "ids" in outcome ? outcome.ids.sessionId : "-"
  const turn = "ids" in outcome ? ` turn=${outcome.ids.turnId}` : ""
  const why = outcome._tag === "Refused" ? ` reason=${outcome.reason}` : ""
  return `turn finished platform=${platform} session=${session}${turn} outcome=${outcomeWord[outcome._tag]}${why} ` +
    `duration=${formatTurnDuration(durationMs)}`
}
