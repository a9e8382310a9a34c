// When a limit starts refusing work and when it stops, as a pure state machine, so an attack of a
// thousand refused connections leaves two log lines (one as it begins, one when it is over with
// the count), not a thousand.

export interface OverloadEpisode {
  /** Refusing since the last "started" notice, and not yet recovered. */
  readonly refusing: boolean
  /** Refusals in the current episode. */
  readonly refused: number
}

export const calm: OverloadEpisode = { refusing: false, refused: 0 }

export type OverloadNotice =
  | { readonly _tag: "Started" }
  | { readonly _tag: "Ended"; readonly refused: number }

/** One refusal; only the first of an episode asks for a notice. */
export const refuse = (
  episode: OverloadEpisode
): readonly [OverloadEpisode, OverloadNotice | undefined] =>
  episode.refusing
    ? [{ refusing: true, refused: episode.refused + 1 }, undefined]
    : [{ refusing: true, refused: 1 }, { _tag: "Started" }]

/**
 * Usage went down to `used`. The episode ends only once usage is at or below `recoverAt`, a mark
 * well under the limit: at the edge, every freed unit is taken again at once and would otherwise
 * end and start an episode each time.
 */
export const relieve = (
  episode: OverloadEpisode,
  used: number,
  recoverAt: number
): readonly [OverloadEpisode, OverloadNotice | undefined] =>
  episode.refusing && used <= recoverAt
    ? [calm, { _tag: "Ended", refused: episode.refused }]
    : [episode, undefined]
