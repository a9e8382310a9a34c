// Telegram when sessions.engine is postgres: the pieces that let several replicas share one bot
// token, put together for the adapter. The update ledger lives in the database (PgUpdateLedger),
// polling runs only while this replica leads (LeaderElection), and a new leader first takes the
// ledger as the database holds it, tells a chat that asked for /restart that the bot is back, and
// picks up the turns replicas left behind (CarryoverPickup), again every `carryoverInterval`.
// The status says which: "polling" (leader), "standby" (another replica polls, named by its
// connection's application_name: host and pid, never the token) or "waiting" (database away).
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as os from "node:os"
import type { PostgresSettings } from "../../sessions/postgres/PostgresSettings.js"
import type { Carryover } from "../Adapter.js"
import { type CarryoverPickup, type ChatActivity, makeCarryoverPickup, makeChatActivity } from "./CarryoverPickup.js"
import { campaign, defaultTiming, describeRole, type ElectionTiming, type Role } from "./LeaderElection.js"
import type { LockSession } from "./LockSession.js"
import { makeSharedHandledUpdates, type SharedHandledUpdates } from "./PgUpdateLedger.js"
import { tokenKey } from "./PollerLock.js"
import type { StatusCell } from "./TelegramStatus.js"

export interface ReplicaOptions {
  readonly postgres: PostgresSettings
  /** Overrides for tests; defaults in LeaderElection.defaultTiming. */
  readonly timing?: Partial<ElectionTiming>
  /** How often a leader looks for turns left behind; default 5s. */
  readonly carryoverInterval?: Duration.DurationInput
}

export interface ReplicaPolling {
  readonly updates: SharedHandledUpdates
  readonly activity: ChatActivity
  /** Resumable turns queued now rather than at the next pass (nothing while not leading). */
  readonly resumeNow: Effect.Effect<void>
  /**
   * Campaigns until interrupted. Each term: the ledger loaded, `onTerm` run, the carryover picked
   * up now and every carryoverInterval, then `poll` until the term ends (interrupted first).
   */
  readonly run: (term: {
    readonly poll: Effect.Effect<void>
    readonly onTerm: Effect.Effect<void>
    readonly carryoverNow: Effect.Effect<ReadonlyArray<Carryover>>
    readonly offer: (chatId: number, item: Carryover, done: Effect.Effect<void>) => Effect.Effect<void>
  }) => Effect.Effect<never>
}

/** Pure: what this replica's lock connection calls itself (other replicas show it as the leader). */
export const replicaName = (host: string, pid: number): string => `hermes-telegram ${host} pid ${pid}`.slice(0, 63)

export const makeReplicaPolling = (options: ReplicaOptions & {
  readonly token: Redacted.Redacted<string>
  readonly cell: StatusCell
}): Effect.Effect<ReplicaPolling> =>
  Effect.gen(function*() {
    const botKey = tokenKey(Redacted.value(options.token))
    const timing: ElectionTiming = { ...defaultTiming, ...options.timing }
    const session = yield* Ref.make<LockSession | null>(null)
    const updates = yield* makeSharedHandledUpdates({ botKey, cell: options.cell, session: Ref.get(session) })
    const activity = makeChatActivity()
    const lastRole = yield* Ref.make<Role | null>(null)
    const leading = yield* Ref.make<CarryoverPickup | null>(null)

    /** Status on every change; a log line when the kind of role (or the leader) changes. */
    const report = (role: Role) =>
      Effect.gen(function*() {
        const before = yield* Ref.getAndSet(lastRole, role)
        const { note, state } = describeRole(role)
        yield* options.cell.patch({ state, error: note, retryInMs: null })
        if (before !== null && JSON.stringify(before) === JSON.stringify(role)) return
        if (before?._tag === "Waiting" && role._tag !== "Waiting") yield* Effect.log("telegram: the session database answers again")
        switch (role._tag) {
          case "Leader":
            return yield* Effect.log("telegram: this replica polls the bot now (it holds the polling lock)")
          case "Standby":
            return yield* Effect.log(`telegram: standby: ${note}`)
          case "Waiting":
            if (before?._tag === "Waiting") return
            return yield* Effect.logError(
              `telegram: ${before?._tag === "Leader" ? "lost the polling lock's connection, stopped polling" : "cannot take part in polling"}: ` +
                `${role.error}; updates wait at Telegram and nothing more is acknowledged until the session database is back`
            )
        }
      })

    const run: ReplicaPolling["run"] = (term) => {
      const pickup: CarryoverPickup = makeCarryoverPickup({ activity, carryoverNow: term.carryoverNow, offer: term.offer })
      const interval = Duration.decode(options.carryoverInterval ?? "5 seconds")
      return campaign({
        settings: options.postgres,
        applicationName: replicaName(os.hostname(), process.pid),
        botKey,
        timing,
        onSession: (next) => Ref.set(session, next),
        onRole: report,
        lead: () =>
          Effect.scoped(Effect.gen(function*() {
            yield* updates.beginTerm
            yield* term.onTerm
            yield* updates.flush
            yield* Effect.forkScoped(pickup.pickUp.pipe(Effect.repeat(Schedule.spaced(interval))))
            yield* Effect.acquireRelease(Ref.set(leading, pickup), () => Ref.set(leading, null))
            yield* term.poll
          }))
      }).pipe(
        // Resigned (planned stop): late ledger writes of turns still finishing find no connection.
        Effect.ensuring(Ref.set(session, null))
      )
    }

    const resumeNow = Effect.flatMap(Ref.get(leading), (pickup) => pickup?.resumeNow ?? Effect.void)
    return { updates, activity, resumeNow, run }
  })
