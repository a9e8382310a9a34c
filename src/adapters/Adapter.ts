// What the lifecycle kernel needs from a messaging platform connection, and what a platform
// needs from the kernel (TurnIntake.ts, TurnDelivery). One value per platform; the kernel owns the ordering.
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import { type ExitCode, ExitingError } from "../lifecycle/ExitCode.js"
import type { TurnDelivery } from "./TurnDelivery.js"
import type { TurnIds, TurnIntake } from "./TurnIntake.js"

export {
  type InboundMessage,
  IntakeClosed,
  outcomeOf,
  TurnEvent,
  type TurnIds,
  type TurnIntake,
  type TurnOutcome
} from "./TurnIntake.js"

/**
 * What a push platform must do for one of its chats after a restart: run a turn again, or send an
 * answer an earlier life recorded but never delivered (a reply, a failure, or an expired turn).
 */
export type Carryover =
  | {
    readonly _tag: "Resume"
    readonly ids: TurnIds
    readonly chatKey: string
    readonly inbound: string
    readonly startedAt: string
    /** The message an earlier life prepared for the answer, if any. */
    readonly replyRef: string | null
  }
  | {
    readonly _tag: "Deliver"
    readonly ids: TurnIds
    readonly chatKey: string
    readonly inbound: string
    readonly outcome: "completed" | "failed" | "interrupted"
    /** The reply (completed) or the reason (failed, interrupted). */
    readonly text: string
    /** The message an earlier life prepared for the answer, if any. */
    readonly replyRef: string | null
  }

/** The gateway as a chat command (/status) shows it. */
export interface GatewayView {
  readonly pid: number
  readonly state: string
  readonly startedAt: string
  readonly activeTurns: number
  readonly platforms: Readonly<Record<string, { readonly state: string; readonly error: string | null }>>
  /** The agent answering, e.g. "openai gpt-4o-mini" or "echo". */
  readonly agent: string
  readonly supervisor: string | null
}

/** Ready while running; starting before, draining from the moment a stop is decided. */
export type Readiness = "starting" | "ready" | "draining"

/** What the kernel offers an adapter besides turns, handed over with startIntake. */
export interface IntakeContext {
  /** This platform's turns left over by an earlier life, oldest first; acted on before new messages. */
  readonly carryover: ReadonlyArray<Carryover>
  /**
   * The same, read from the SessionDB again now (too old ones expired), for a platform that picks up
   * turns other replicas left while it runs (Telegram's leader with replicas). Absent in tests.
   */
  readonly carryoverNow?: Effect.Effect<ReadonlyArray<Carryover>>
  /**
   * How many turns of this platform's session for `chatKey` are unfinished (`running` or
   * `resume_pending`), read from the SessionDB now; for a chat that must wait for a turn another
   * replica left (Telegram's leader with replicas). Absent in tests.
   */
  readonly unfinishedTurns?: (chatKey: string) => Effect.Effect<number, unknown>
  readonly status: Effect.Effect<GatewayView>
  /** What a readiness probe answers, following the gateway's lifecycle state. */
  readonly readiness: Effect.Effect<Readiness>
  /**
   * The restart path of CONTRACT 3.4, as `hermes gateway restart` takes it (drain, then exit 75
   * or a successor). `by` names who asked, for the shutdown record.
   */
  readonly requestRestart: (by: string) => Effect.Effect<void>
}

/** A platform's live condition for gateway_state.json `platforms` (e.g. Telegram `retrying` + the error). */
export interface PlatformHealth {
  readonly state: string
  readonly error: string | null
}

/** What an adapter reports about itself once connected (written to gateway_state.json platforms). */
export type PlatformInfo = Readonly<Record<string, string | number | boolean | null>>

export class AdapterConnectError extends ExitingError("AdapterConnectError")<{
  readonly adapter: string
  readonly message: string
  /** 69 when the platform is unavailable (address in use, unreachable); 78 when it is misconfigured. */
  readonly exitCode: typeof ExitCode.Unavailable | typeof ExitCode.Config
  /** Ends start-up even when other adapters connect (e.g. another gateway already polls this bot). */
  readonly endsStartup?: boolean
}> {}

export type StopReason = "stopping" | "restarting"

export interface Adapter {
  readonly name: string
  /** Connect or listen. Requests that arrive before startIntake are refused as "starting". */
  readonly connect: Effect.Effect<PlatformInfo, AdapterConnectError>
  /**
   * Begin handing inbound messages to the kernel; readiness turns true. Push platforms record
   * where and whether answers reached their chats through TurnDelivery.
   */
  readonly startIntake: (intake: TurnIntake, context: IntakeContext) => Effect.Effect<void, never, TurnDelivery>
  /** Shutdown step 2: refuse new messages (HTTP: 503 + Retry-After), readiness false; accepted turns go on. */
  readonly stopIntake: Effect.Effect<void>
  /** Shutdown step 3: tell chats with a turn in flight that the gateway is going away. */
  readonly notifyInFlight: (reason: StopReason) => Effect.Effect<void>
  /** Shutdown step 6: close connections. The kernel bounds it; it must be interruptible. */
  readonly disconnect: Effect.Effect<void>
  /**
   * The platform's health: its current value, then each change. Followed while the gateway starts and
   * runs, into gateway_state.json `platforms`. Absent: "connected" until disconnect.
   */
  readonly health?: Stream.Stream<PlatformHealth>
}
