// Back-pressure: whether one more turn may start (gateway.max_inflight_turns), and what a message
// refused for it is told. A refusal is immediate and records nothing, so the platform can hand the
// message back (HTTP 429 with Retry-After) or simply wait before acknowledging it (Telegram).
import type { TurnOutcome } from "../adapters/TurnIntake.js"

/** Room for one more turn while `running` run; a limit of 0 means no limit. */
export const hasRoom = (running: number, limit: number): boolean => limit <= 0 || running < limit

export const busyOutcome = (limit: number): TurnOutcome => ({
  _tag: "Refused",
  reason: "busy",
  message: `the gateway is running ${limit} turns, its limit (gateway.max_inflight_turns); retry later`
})
