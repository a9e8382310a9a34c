// One dedicated PostgreSQL connection for Telegram's leader election (LeaderElection.ts): not a
// pooled one, because a session-level advisory lock belongs to the connection that took it, and
// PostgreSQL releases it when that connection ends (a SIGKILLed gateway's socket is closed by the
// kernel). The same connection carries the LISTEN for a leader's resignation, and the update
// ledger's writes. Every query is bounded: one that does not answer in time means the connection
// is no longer trusted, and it is closed. `lost` completes the moment the connection fails or ends.
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Pg from "pg"
import { scrub } from "../../sessions/postgres/PgFailure.js"
import type { PostgresSettings } from "../../sessions/postgres/PostgresSettings.js"
import { describeFailure } from "../../sessions/SessionDbFailure.js"

export class LockSessionError extends Error {
  override readonly name = "LockSessionError"
}

export interface LockSession {
  /** One statement; fails (and closes the connection) on an error or when it takes longer than `timeout`. */
  readonly query: (text: string, params?: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<Record<string, unknown>>, LockSessionError>
  /** Completes when the connection failed or ended, whoever ended it. */
  readonly lost: Effect.Effect<string>
  /** Payloads of NOTIFYs on channels this session LISTENs to. */
  readonly notifications: Queue.Dequeue<string>
  /** Ends the connection (the server then releases whatever it held); idempotent. */
  readonly close: Effect.Effect<void>
}

/** int8 (update ids, counts) as numbers: Telegram's update ids fit. */
const int8Oid = 20
const types: Pg.CustomTypesConfig = {
  getTypeParser: (oid, format) => (oid === int8Oid ? (value: string) => Number(value) : Pg.types.getTypeParser(oid, format))
}

export interface LockSessionOptions {
  readonly settings: PostgresSettings
  /** Shown in pg_stat_activity, and to other replicas as the leader's name; never the token. */
  readonly applicationName: string
  /** The bound on each statement, and on connecting. */
  readonly timeout: Duration.Duration
  /**
   * The server's TCP keepalive for this session (seconds): how long before the server gives up
   * on a silent client and releases its lock. LeaderElection keeps this well above the time it
   * needs itself to notice a broken connection.
   */
  readonly serverKeepalive: { readonly idle: number; readonly interval: number; readonly count: number }
}

export const openLockSession = (options: LockSessionOptions): Effect.Effect<LockSession, LockSessionError> =>
  Effect.gen(function*() {
    const { settings, serverKeepalive: keepalive } = options
    const clean = (error: unknown) => new LockSessionError(scrub(describeFailure(error), settings.url))
    const timeoutMs = Duration.toMillis(options.timeout)
    const client = new Pg.Client({
      connectionString: Redacted.value(settings.url),
      connectionTimeoutMillis: timeoutMs,
      keepAlive: true,
      statement_timeout: timeoutMs,
      application_name: options.applicationName.slice(0, 63),
      options: `-c tcp_keepalives_idle=${keepalive.idle} -c tcp_keepalives_interval=${keepalive.interval} ` +
        `-c tcp_keepalives_count=${keepalive.count}`,
      types
    })
    const lost = yield* Deferred.make<string>()
    const notifications = yield* Queue.sliding<string>(16)
    // Events arrive outside any fiber: they only complete the deferred or offer to the queue.
    client.on("error", (error) => Deferred.unsafeDone(lost, Effect.succeed(scrub(error.message, settings.url))))
    client.on("end", () => Deferred.unsafeDone(lost, Effect.succeed("the connection ended")))
    client.on("notification", (message) => Queue.unsafeOffer(notifications, message.payload ?? ""))
    let ended = false
    const close = Effect.suspend(() => {
      if (ended) return Effect.void
      ended = true
      return Effect.promise(() => client.end().catch(() => undefined)).pipe(
        Effect.timeoutOption(options.timeout),
        // A server that does not answer the goodbye (a silent network) gets the socket closed under it.
        Effect.tap((ended) => (ended._tag === "None" ? Effect.sync(() => client.connection.stream.destroy()) : Effect.void)),
        Effect.zipRight(Deferred.succeed(lost, "closed by this gateway")),
        Effect.asVoid
      )
    })
    yield* Effect.tryPromise({ try: () => client.connect(), catch: clean }).pipe(
      Effect.timeoutFail({ duration: options.timeout, onTimeout: () => new LockSessionError(`no connection within ${Duration.format(options.timeout)}`) }),
      Effect.tapError(() => close)
    )
    const query = (text: string, params: ReadonlyArray<unknown> = []) =>
      Effect.tryPromise({ try: () => client.query(text, params), catch: clean }).pipe(
        Effect.timeoutFail({ duration: options.timeout, onTimeout: () => new LockSessionError(`no answer within ${Duration.format(options.timeout)}`) }),
        Effect.map((result) => result.rows),
        // A connection that failed a statement (or did not answer) is not trusted with a lock any more.
        Effect.tapError(() => close)
      )
    return { query, lost: Deferred.await(lost), notifications, close }
  })
