// Telegram across replicas: several gateways (each its own home) share one PostgreSQL SessionDB and
// one bot token, and exactly one of them polls getUpdates at a time. Leadership is a session-level
// advisory lock (pg_try_advisory_lock) taken on a dedicated connection (LockSession.ts), keyed by a
// keyed hash of the token (never the token). A follower keeps trying: at once when the leader
// resigns (it LISTENs for the leader's NOTIFY), else every `retryInterval`. A SIGKILLed leader's
// socket is closed by its kernel, the server ends its session and the lock is free.
//
// The half-dead leader. Two replicas must never poll at once, so a leader must stop polling before
// anyone else can get the lock. Someone else gets it only once the server has ended our session.
// In order:
//   1. While leading, the lock connection is watched: its 'error'/'end' events, and a heartbeat
//      (SELECT 1 every `heartbeat`, each bounded by `timeout`). Any of them failing ends the term.
//   2. Ending the term interrupts the polling first and waits for it (raceFirst awaits the loser):
//      no getUpdates is in flight or started afterwards. Only then is the lock given up and the
//      connection closed.
//   3. When the server ends our session itself (restart, pg_terminate_backend, its own keepalive),
//      the socket says so at once and step 1 fires in the same moment; the other replicas see the
//      lock free only on their next try. When the network between us and the server is cut, the
//      server notices only through TCP keepalive, which we set for this session to at least
//      `serverKeepalive` (idle + interval × count seconds of silence); we notice within
//      heartbeat + timeout. `fencingMargin` checks the second is well below the first.
// What remains is a getUpdates that overlaps the new leader's first one by a moment (the server
// killed our session and we had not read the socket yet): Telegram answers one of them 409 and the
// update ledger and the update_id dedupe keep every update handled once.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import { type LockSession, LockSessionError, type LockSessionOptions, openLockSession } from "./LockSession.js"

/** The first key of the two-key advisory lock: "HRMT", Hermes Telegram, keeping our locks apart from others'. */
export const leaderLockNamespace = 0x48524d54

/** The channel a resigning leader NOTIFYs (payload: the bot's key) so a follower tries at once. */
export const resignChannel = "hermes_telegram_leader"

/** Pure: the second key of the advisory lock, from the bot's key (hex of a keyed hash of the token). */
export const lockKeyOf = (botKey: string): number => Number.parseInt(botKey.slice(0, 8), 16) | 0

export interface ElectionTiming {
  /** A follower tries for the lock this often (and at once on a NOTIFY). */
  readonly retryInterval: Duration.Duration
  /** A leader checks its lock connection this often. */
  readonly heartbeat: Duration.Duration
  /** The bound on each statement and on connecting. */
  readonly timeout: Duration.Duration
  readonly serverKeepalive: LockSessionOptions["serverKeepalive"]
  /** The wait before connecting again after a failure: doubling from retryInterval up to this. */
  readonly reconnectCap: Duration.Duration
}

export const defaultTiming: ElectionTiming = {
  retryInterval: Duration.seconds(1),
  heartbeat: Duration.seconds(2),
  timeout: Duration.seconds(3),
  serverKeepalive: { idle: 10, interval: 3, count: 3 },
  reconnectCap: Duration.seconds(5)
}

/**
 * Pure: how much sooner a leader cut off from the server stops polling than the server frees its
 * lock (ms); must be positive. We notice within heartbeat + timeout of the last answer; the server
 * frees the lock no sooner than idle + interval × count seconds after the last packet it got from us.
 */
export const fencingMargin = (timing: ElectionTiming): number =>
  (timing.serverKeepalive.idle + timing.serverKeepalive.interval * timing.serverKeepalive.count) * 1000 -
  Duration.toMillis(timing.heartbeat) - Duration.toMillis(timing.timeout)

/** Where this replica stands. */
export type Role =
  | { readonly _tag: "Leader" }
  /** Another replica holds the lock; `leader` is its connection's application_name when visible. */
  | { readonly _tag: "Standby"; readonly leader: string | null }
  /** The database cannot be reached (or the lock connection broke): nobody here polls. */
  | { readonly _tag: "Waiting"; readonly error: string }

export interface CampaignOptions extends Omit<LockSessionOptions, "timeout" | "serverKeepalive"> {
  /** The bot's key (keyed hash of the token): the lock's key and the NOTIFY payload. */
  readonly botKey: string
  readonly timing: ElectionTiming
  /** Each new lock connection, follower or leader (the update ledger writes through it). */
  readonly onSession: (session: LockSession | null) => Effect.Effect<void>
  readonly onRole: (role: Role) => Effect.Effect<void>
  /** The leader's work (polling); interrupted when leadership ends. A failure ends the term. */
  readonly lead: (session: LockSession) => Effect.Effect<void, LockSessionError>
}

/** Campaigns for ever (until interrupted): follower until the lock is free, then leader until it is lost. */
export const campaign = (options: CampaignOptions): Effect.Effect<never> => {
  const { timing } = options
  const key = lockKeyOf(options.botKey)
  if (fencingMargin(timing) <= 0) throw new Error("telegram leader election: the heartbeat must notice a lost connection before the server frees the lock")

  const tryLock = (session: LockSession) =>
    Effect.map(session.query("SELECT pg_try_advisory_lock($1, $2) AS got", [leaderLockNamespace, key]), (rows) => rows[0]?.got === true)

  /** Who holds the lock, as its connection calls itself (pg_locks shows the keys as unsigned oids). */
  const leaderName = (session: LockSession) =>
    session.query(
      "SELECT a.application_name AS name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid " +
        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2",
      [leaderLockNamespace >>> 0, key >>> 0]
    ).pipe(Effect.map((rows) => (typeof rows[0]?.name === "string" && rows[0].name !== "" ? rows[0].name : null)))

  /** One try; when it fails, standby until a resignation NOTIFY or retryInterval. True once the lock is ours. */
  const tryOnce = (session: LockSession) =>
    Effect.gen(function*() {
      if (yield* tryLock(session)) return true
      yield* options.onRole({ _tag: "Standby", leader: yield* leaderName(session) })
      yield* Effect.timeoutOption(Queue.take(session.notifications), timing.retryInterval)
      return false
    })

  const lost = (session: LockSession): Effect.Effect<never, LockSessionError> =>
    Effect.raceFirst(
      Effect.flatMap(session.lost, (why) => Effect.fail(new LockSessionError(why))),
      Effect.zipRight(
        session.query("SELECT 1").pipe(Effect.repeat(Schedule.spaced(timing.heartbeat))),
        Effect.fail(new LockSessionError("the heartbeat stopped"))
      )
    )

  const term: Effect.Effect<never, LockSessionError> = Effect.scoped(Effect.gen(function*() {
    const session = yield* Effect.acquireRelease(
      openLockSession({ ...options, timeout: timing.timeout, serverKeepalive: timing.serverKeepalive }),
      (session) => session.close
    )
    yield* options.onSession(session)
    yield* session.query(`LISTEN ${resignChannel}`)
    yield* tryOnce(session).pipe(Effect.repeat({ until: (got) => got }))
    // Released after the leader's work below has been interrupted and has ended (step 2 above):
    // the lock is given up and the followers are told at once (NOTIFY is sent after the unlock).
    yield* Effect.addFinalizer(() =>
      session.query("SELECT pg_advisory_unlock($1, $2), pg_notify($3, $4)", [leaderLockNamespace, key, resignChannel, options.botKey]).pipe(
        Effect.ignore
      )
    )
    yield* options.onRole({ _tag: "Leader" })
    return yield* Effect.raceFirst(Effect.zipRight(options.lead(session), Effect.never), lost(session))
  }))

  const reconnect = Schedule.union(Schedule.exponential(timing.retryInterval), Schedule.spaced(timing.reconnectCap))
  return term.pipe(
    Effect.catchAll((error) =>
      Effect.zipRight(options.onSession(null), options.onRole({ _tag: "Waiting", error: error.message })).pipe(
        Effect.zipRight(Effect.fail(error))
      )
    ),
    Effect.retry(Schedule.resetAfter(reconnect, Duration.sum(timing.reconnectCap, timing.reconnectCap))),
    Effect.orDie,
    Effect.zipRight(Effect.never)
  )
}

/** For status: the role as a word and a note. */
export const describeRole = (role: Role): { readonly state: "polling" | "standby" | "waiting"; readonly note: string | null } => {
  switch (role._tag) {
    case "Leader":
      return { state: "polling", note: null }
    case "Standby":
      return { state: "standby", note: `another replica polls${role.leader === null ? "" : `: ${role.leader}`}` }
    case "Waiting":
      return { state: "waiting", note: `session database unreachable, not polling: ${role.error}` }
  }
}

