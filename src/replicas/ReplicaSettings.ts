// sessions.postgres.{replica_id, lease, lease_renew_every} plus where the gateway runs -> who this
// replica is and how it keeps its lease, or the config error (exit 78) naming the key.
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import type { GatewayConfig } from "../config/GatewayConfig.js"
import { formatDuration } from "../config/Duration.js"
import { ConfigError } from "../config/LoadConfig.js"
import { replicaIdOf } from "./ReplicaIdentity.js"

export interface ReplicaSettings {
  readonly id: string
  /** Written into the lease row: where this replica runs (shown to operators, never a secret). */
  readonly host: string
  readonly home: string
  readonly lease: Duration.Duration
  readonly renewEvery: Duration.Duration
}

/** Pure: the settings, or the one-line problem of the key that is wrong. */
export const replicaSettingsFrom = (
  config: GatewayConfig["sessions"]["postgres"],
  where: { readonly hostname: string; readonly home: string }
): Either.Either<ReplicaSettings, ConfigError> => {
  const fail = (path: string, problem: string) => Either.left(new ConfigError({ path, message: `${path}: ${problem}` }))
  const id = replicaIdOf(config.replica_id, where.hostname, where.home)
  if (Either.isLeft(id)) return fail("sessions.postgres.replica_id", id.left)
  if (Duration.greaterThan(Duration.times(config.lease_renew_every, 2), config.lease)) {
    return fail(
      "sessions.postgres.lease_renew_every",
      `must be at most half of sessions.postgres.lease (${formatDuration(config.lease)}), got ${formatDuration(config.lease_renew_every)}`
    )
  }
  return Either.right({ id: id.right, host: where.hostname, home: where.home, lease: config.lease, renewEvery: config.lease_renew_every })
}
