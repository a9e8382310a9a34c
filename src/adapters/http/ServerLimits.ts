// What clients can hold of the HTTP adapter, bounded: connections (beyond the cap a new one is
// closed as soon as it is accepted), the time to deliver a request's headers and body, and the
// memory of bodies being received. Each cap logs once when it starts refusing and once when it
// has recovered (OverloadEpisode), never a line per refused client.
import type * as http from "node:http"
import type * as net from "node:net"
import * as Effect from "effect/Effect"
import { type BodyBudget, makeBodyBudget } from "./BodyBudget.js"
import { calm, type OverloadEpisode, type OverloadNotice, refuse, relieve } from "./OverloadEpisode.js"

export interface ServerLimits {
  readonly maxConnections: number
  /** Headers and body must have arrived within this long of the request's start. */
  readonly requestTimeoutMillis: number
  readonly maxInflightBodyBytes: number
}

/** Runs a log effect in the adapter's runtime, synchronously. */
export type Report = (log: Effect.Effect<void>) => void

/**
 * Node's own deadlines: it answers 408 and closes a connection whose request is late. It looks for
 * late requests periodically (every 30 s by default): a quarter of the timeout, within 0.1-1 s,
 * keeps the timeout close to what it says for little work.
 */
export const serverOptions = (limits: ServerLimits): http.ServerOptions => ({
  requestTimeout: limits.requestTimeoutMillis,
  headersTimeout: limits.requestTimeoutMillis,
  connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(limits.requestTimeoutMillis / 4)))
})

const episodeLog = (
  notice: OverloadNotice | undefined,
  started: () => Effect.Effect<void>,
  ended: () => Effect.Effect<void>
): Effect.Effect<void> | undefined =>
  notice === undefined
    ? undefined
    : notice._tag === "Started"
    ? started()
    : ended().pipe(Effect.annotateLogs({ refused: notice.refused }))

/**
 * Node refuses connections beyond `maxConnections` before any JavaScript sees them ('drop');
 * counting open connections here tells when the episode is over: a tenth of the slots free again.
 */
export const capConnections = (server: http.Server, maxConnections: number, report: Report): void => {
  const recoverAt = maxConnections - Math.max(1, Math.ceil(maxConnections / 10))
  let open = 0
  let episode: OverloadEpisode = calm
  const note = ([next, notice]: readonly [OverloadEpisode, OverloadNotice | undefined]) => {
    episode = next
    const log = episodeLog(
      notice,
      () => Effect.logWarning(`connection limit reached (${maxConnections}); refusing new connections`),
      () => Effect.logInfo("connection limit cleared; accepting new connections again")
    )
    if (log !== undefined) report(log)
  }
  server.maxConnections = maxConnections
  server.on("drop", () => note(refuse(episode)))
  server.on("connection", (socket: net.Socket) => {
    open++
    socket.once("close", () => {
      open--
      note(relieve(episode, open, recoverAt))
    })
  })
}

/**
 * A body budget whose refusals and recovery are logged once per episode. A body is refused when
 * it does not fit, which can be well below the limit for a large one, so the episode ends only
 * once the bodies in flight hold half of the budget or less.
 */
export const watchedBodyBudget = (limit: number, report: Report): BodyBudget => {
  const recoverAt = Math.floor(limit / 2)
  const budget = makeBodyBudget(limit)
  let episode: OverloadEpisode = calm
  const note = ([next, notice]: readonly [OverloadEpisode, OverloadNotice | undefined]) => {
    episode = next
    const log = episodeLog(
      notice,
      () => Effect.logWarning(`request bodies in flight hold the whole budget (${limit} bytes); answering 503 to new ones`),
      () => Effect.logInfo("request body budget has room again")
    )
    if (log !== undefined) report(log)
  }
  return {
    limit,
    used: budget.used,
    reserve: (bytes) => {
      const taken = budget.reserve(bytes)
      if (!taken) note(refuse(episode))
      return taken
    },
    release: (bytes) => {
      budget.release(bytes)
      if (episode.refusing) note(relieve(episode, budget.used(), recoverAt))
    }
  }
}
