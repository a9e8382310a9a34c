// The adapter's own view of itself (state, last error, bot, acknowledged update) and its summary for
// the kernel (PlatformHealth), both held in SubscriptionRefs: the kernel may read `health` when it
// likes or follow its changes; the health ref is only written when state or error really change.
import * as Effect from "effect/Effect"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { PlatformHealth } from "../Adapter.js"

/**
 * failed: the token was rejected after a start-up that could not reach the Bot API; nothing is polled.
 * With replicas (sessions.engine postgres): standby, another replica polls; waiting, the session
 * database cannot be reached, so nobody here polls.
 */
export type TelegramState = "disconnected" | "connected" | "polling" | "retrying" | "failed" | "stopped" | "standby" | "waiting"

export interface TelegramStatus {
  readonly state: TelegramState
  /** The last Bot API error while retrying; null otherwise. */
  readonly error: string | null
  /** When retrying: how long until the next attempt. */
  readonly retryInMs: number | null
  readonly bot: string | null
  /** Highest update id handled along with every one before it. */
  readonly acknowledged: number
}

export interface StatusCell {
  readonly status: SubscriptionRef.SubscriptionRef<TelegramStatus>
  /** state + error only; each change published once. */
  readonly health: SubscriptionRef.SubscriptionRef<PlatformHealth>
  readonly patch: (patch: Partial<TelegramStatus>) => Effect.Effect<void>
}

export const healthOf = (status: TelegramStatus): PlatformHealth => ({ state: status.state, error: status.error })

export const makeStatusCell: Effect.Effect<StatusCell> = Effect.gen(function*() {
  const initial: TelegramStatus = { state: "disconnected", error: null, retryInMs: null, bot: null, acknowledged: 0 }
  const status = yield* SubscriptionRef.make(initial)
  const health = yield* SubscriptionRef.make(healthOf(initial))
  // The health ref is set inside the status ref's own update, so the two never disagree in order.
  const patch = (change: Partial<TelegramStatus>) =>
    SubscriptionRef.modifyEffect(status, (before) => {
      const after = { ...before, ...change }
      const moved = after.state !== before.state || after.error !== before.error
      return Effect.as(moved ? SubscriptionRef.set(health, healthOf(after)) : Effect.void, [undefined, after] as const)
    })
  return { status, health, patch }
})
