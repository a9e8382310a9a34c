// gateway_state.json (CONTRACT 4): what the gateway is doing now and what the operator wants.
// The gateway owns the file while it runs; readers treat a bad file as absent.
// A file of the reference Python gateway is read too: integer `start_time`, maybe no `pid`, platform
// entries with `error_code`/`error_message` instead of `error`, an epoch `updated_at` from older
// versions. We write our own format.
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { StartTimeField } from "./StartTimeField.js"

/** Older Python gateways stamped `updated_at` as epoch seconds; it is read as the ISO time we write. */
const EpochSecondsAsIso = Schema.transformOrFail(Schema.Number, Schema.String, {
  strict: true,
  decode: (seconds, _, ast) => {
    const date = new Date(seconds * 1000)
    return Number.isFinite(date.getTime())
      ? ParseResult.succeed(date.toISOString())
      : ParseResult.fail(new ParseResult.Type(ast, seconds, "not a time in epoch seconds"))
  },
  encode: (iso) => ParseResult.succeed(Date.parse(iso) / 1000)
})

export const GatewayStateName = Schema.Literal("starting", "running", "draining", "stopped", "startup_failed")
export type GatewayStateName = typeof GatewayStateName.Type

export const DesiredState = Schema.Literal("running", "stopped")
export type DesiredState = typeof DesiredState.Type

export const PlatformState = Schema.Struct({
  state: Schema.String,
  error: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null })
}).pipe(Schema.extend(Schema.Record({ key: Schema.String, value: Schema.Unknown })))

export const SupervisorInfo = Schema.Struct({
  kind: Schema.String,
  unit: Schema.NullOr(Schema.String),
  control: Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.String }))
})

export const ShutdownSummary = Schema.Struct({
  classification: Schema.String,
  signal: Schema.NullOr(Schema.String),
  exit_code: Schema.JsonNumber,
  took_ms: Schema.JsonNumber,
  turns_drained: Schema.JsonNumber,
  turns_interrupted: Schema.JsonNumber,
  deadline_fired: Schema.NullOr(Schema.String),
  /** The planned-stop marker's verdict behind the classification; null when start-up failed. */
  marker: Schema.optional(Schema.NullOr(Schema.String)),
  at: Schema.String
})
export type ShutdownSummary = typeof ShutdownSummary.Type

/** The session database shared by replicas (PostgreSQL): whether this replica can reach it now. */
export const StorageState = Schema.Struct({
  state: Schema.Literal("available", "unavailable"),
  since: Schema.NullOr(Schema.String),
  problem: Schema.NullOr(Schema.String)
})

export const GatewayStateDocument = Schema.Struct({
  gateway_state: GatewayStateName,
  desired_state: Schema.optional(DesiredState),
  pid: Schema.optionalWith(Schema.NullOr(Schema.Number), { default: () => null }),
  start_time: Schema.optionalWith(Schema.NullOr(StartTimeField), { default: () => null }),
  updated_at: Schema.Union(Schema.String, EpochSecondsAsIso),
  exit_code: Schema.optionalWith(Schema.NullOr(Schema.Number), { default: () => null }),
  exit_reason: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  restart_requested: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  active_turns: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  platforms: Schema.optionalWith(Schema.Record({ key: Schema.String, value: PlatformState }), { default: () => ({}) }),
  supervisor: Schema.optionalWith(Schema.NullOr(SupervisorInfo), { default: () => null }),
  shutdown: Schema.optionalWith(Schema.NullOr(ShutdownSummary), { default: () => null }),
  /** sessions.postgres.replica_id (or its default) of a gateway on PostgreSQL; absent on SQLite. */
  replica_id: Schema.optional(Schema.String),
  /** PostgreSQL only (absent on SQLite). */
  storage: Schema.optional(StorageState)
})
export type GatewayStateDocument = typeof GatewayStateDocument.Type

/** States in which the recorded process should be alive. */
export const claimsAlive = (state: GatewayStateName): boolean =>
  state === "starting" || state === "running" || state === "draining"
