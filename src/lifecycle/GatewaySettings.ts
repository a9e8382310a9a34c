// What `gateway run` hands the kernel, and how a gateway life can end with an error.
import type * as Duration from "effect/Duration"
import type { Adapter, AdapterConnectError } from "../adapters/Adapter.js"
import type { GatewayStateDocument } from "../home/GatewayStateFile.js"
import type { HomeLocked, LockError } from "../home/InstanceLock.js"
import type { ProcessIdentity } from "../home/ProcessIdentity.js"
import type {
  EnvironmentError,
  NoAdapterConnected,
  NoAdapterEnabled,
  RestartRequested,
  StorageUnavailable,
  UnplannedStop
} from "./GatewayErrors.js"
import type { RespawnPolicy } from "./RespawnStorm.js"
import type { ShutdownBudget } from "./ShutdownBudget.js"

export interface GatewaySettings {
  readonly budget: ShutdownBudget
  readonly self: ProcessIdentity
  readonly argv: ReadonlyArray<string>
  readonly adapters: ReadonlyArray<Adapter>
  readonly supervisor: GatewayStateDocument["supervisor"]
  /** WATCHDOG_USEC from systemd, when it asks for keep-alive pings. */
  readonly systemdWatchdog?: Duration.Duration
  /** gateway.loop_stall_timeout; undefined or zero turns the event-loop monitor off. */
  readonly loopStallTimeout?: Duration.Duration
  /** gateway.resume_window: how old a message left resume_pending may be and still be run again. */
  readonly resumeWindow: Duration.Duration
  /** Who answers, for the chat command /status (e.g. "openai llama3.1:8b"). */
  readonly agentLabel: string
  /** gateway.startup_timeout: lock to ready within this, else exit 75; undefined or zero: off. */
  readonly startupTimeout?: Duration.Duration
  /** gateway.respawn_storm; undefined: every start goes ahead at once. */
  readonly respawnStorm?: RespawnPolicy
  /** sessions.retention: finished sessions older than this are pruned daily; undefined or 0: off. */
  readonly sessionRetention?: Duration.Duration
  /** gateway.max_inflight_turns: new messages beyond it are refused as busy; undefined or 0: no limit. */
  readonly maxInflightTurns?: number
}

export type GatewayRunError =
  | UnplannedStop
  | RestartRequested
  | HomeLocked
  | LockError
  | NoAdapterConnected
  | NoAdapterEnabled
  | EnvironmentError
  | StorageUnavailable
  | AdapterConnectError
