// What a new life does with the push turns an earlier one left behind (CONTRACT 5, step 5: an
// interrupted turn "can be resumed or reported"). Pure: the kernel reads the backlog, applies the
// plan (expiring what is too old in the SessionDB), and hands each platform its share.
import * as Duration from "effect/Duration"
import type { Carryover } from "../adapters/Adapter.js"
import { formatDuration } from "../config/Duration.js"
import type { BacklogTurn } from "../sessions/SessionDb.js"

/**
 * resume: run the turn again (resume_pending, message younger than resume_window);
 * expire: too old to answer now, recorded as interrupted and reported to the chat;
 * deliver: the turn ended in an earlier life but its answer never reached the chat.
 */
export type CarryoverAction = "resume" | "expire" | "deliver"

export interface PlannedTurn {
  readonly turn: BacklogTurn
  readonly action: CarryoverAction
}

/**
 * The age of a message is measured from when it was recorded, not from when it was interrupted:
 * the user waits from the moment they sent it. A time that cannot be read counts as too old, so
 * a damaged row is reported rather than answered hours late. A zero window resumes nothing.
 */
export const planCarryover = (
  backlog: ReadonlyArray<BacklogTurn>,
  nowMs: number,
  resumeWindow: Duration.Duration
): ReadonlyArray<PlannedTurn> => {
  const windowMs = Duration.toMillis(resumeWindow)
  return backlog.map((turn) => {
    if (turn.status !== "resume_pending") return { turn, action: "deliver" }
    const age = nowMs - Date.parse(turn.startedAt)
    return { turn, action: windowMs > 0 && Number.isFinite(age) && age <= windowMs ? "resume" : "expire" }
  })
}

/** Recorded on an expired turn and shown to its chat. */
export const expiredReason = (resumeWindow: Duration.Duration): string =>
  `the gateway was down for longer than its resume window (${formatDuration(resumeWindow)}), so it was not run again`

/** What the platform is told to do; `expiredWith` is the reason recorded when the turn was expired. */
export const carryoverOf = (planned: PlannedTurn, expiredWith: string): Carryover => {
  const { turn } = planned
  const base = { ids: turn.ids, chatKey: turn.chatKey, inbound: turn.inbound, replyRef: turn.replyRef }
  switch (planned.action) {
    case "resume":
      return { _tag: "Resume", ...base, startedAt: turn.startedAt }
    case "expire":
      return { _tag: "Deliver", ...base, outcome: "interrupted", text: expiredWith }
    case "deliver": {
      const outcome = turn.status === "completed" ? "completed" : turn.status === "failed" ? "failed" : "interrupted"
      const text = outcome === "completed" ? turn.reply ?? "" : turn.reason ?? "no reason was recorded"
      return { _tag: "Deliver", ...base, outcome, text }
    }
  }
}
