// The memory that request bodies being received may hold at once, shared by every connection of
// the adapter: with max_body_bytes alone, N stalled uploads hold N times that much.

export interface BodyBudget {
  readonly limit: number
  /** Takes `bytes` from the budget; false (and nothing taken) when they do not fit. */
  readonly reserve: (bytes: number) => boolean
  /** Gives back bytes taken earlier. */
  readonly release: (bytes: number) => void
  /** Bytes reserved now. */
  readonly used: () => number
}

export const makeBodyBudget = (limit: number): BodyBudget => {
  let used = 0
  return {
    limit,
    reserve: (bytes) => {
      if (bytes > limit - used) return false
      used += bytes
      return true
    },
    release: (bytes) => {
      used = Math.max(0, used - bytes)
    },
    used: () => used
  }
}
