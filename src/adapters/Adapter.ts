// What the lifecycle kernel needs from a messaging platform connection, and what a platform
// needs from the kernel (TurnIntake). One value per platform; the kernel owns the ordering.
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type { ChatMessage } from "../agents/Agent.js"
import { ExitCode } from "../lifecycle/ExitCode.js"

export interface InboundMessage {
  /** Platform name, e.g. "http". */
  readonly platform: string
  /** Stable conversation key chosen by the platform; undefined starts a new session. */
  readonly sessionKey: string | undefined
  /** The inbound user message of this turn. */
  readonly text: string
  /** Earlier messages the client sent along (request/response platforms); [] for push platforms. */
  readonly history: ReadonlyArray<ChatMessage>
  /** Who sent it, as the platform names them (HTTP: the request's `user`), for the session record. */
  readonly user?: string | undefined
}

export interface TurnIds {
  readonly turnId: string
  readonly sessionId: string
}

export type TurnOutcome =
  | { readonly _tag: "Completed"; readonly ids: TurnIds; readonly reply: string }
  | { readonly _tag: "Interrupted"; readonly ids: TurnIds; readonly reason: string }
  | { readonly _tag: "Failed"; readonly ids: TurnIds; readonly message: string }
  /** The message was never recorded, so there is no turn: the session is suspended, or storage failed. */
  | { readonly _tag: "Refused"; readonly reason: "session_suspended" | "storage"; readonly message: string }

/** The gateway is not taking new turns (starting up, draining or stopped). */
export class IntakeClosed extends Data.TaggedError("IntakeClosed")<{
  readonly message: string
}> {}

export interface TurnHooks {
  /** Called once the inbound message is recorded, before any chunk: the point of acknowledgement. */
  readonly onAccepted?: (ids: TurnIds) => Effect.Effect<void>
  /** Reply text as the agent produces it, for streaming responses. */
  readonly onChunk?: (text: string) => Effect.Effect<void>
}

export interface TurnIntake {
  /**
   * Runs one turn under the gateway's turn supervisor and waits for its outcome. The turn is
   * owned by the gateway, not by the caller: if the caller goes away the turn still finishes or
   * is interrupted at the drain deadline, and either way it is recorded.
   */
  readonly submit: (inbound: InboundMessage, hooks?: TurnHooks) => Effect.Effect<TurnOutcome, IntakeClosed>
  /** Turns currently running. */
  readonly active: Effect.Effect<number>
}

/** What an adapter reports about itself once connected (written to gateway_state.json platforms). */
export type PlatformInfo = Readonly<Record<string, string | number | boolean | null>>

export class AdapterConnectError extends Data.TaggedError("AdapterConnectError")<{
  readonly adapter: string
  readonly message: string
  /** 69 when the platform is unavailable (address in use, unreachable); 78 when it is misconfigured. */
  readonly exitCode: typeof ExitCode.Unavailable | typeof ExitCode.Config
}> {}

export type StopReason = "stopping" | "restarting"

export interface Adapter {
  readonly name: string
  /** Connect or listen. Requests that arrive before startIntake are refused as "starting". */
  readonly connect: Effect.Effect<PlatformInfo, AdapterConnectError>
  /** Begin handing inbound messages to the kernel; readiness turns true. */
  readonly startIntake: (intake: TurnIntake) => Effect.Effect<void>
  /** Shutdown step 2: refuse new messages (HTTP: 503 + Retry-After), readiness false; accepted turns go on. */
  readonly stopIntake: Effect.Effect<void>
  /** Shutdown step 3: tell chats with a turn in flight that the gateway is going away. */
  readonly notifyInFlight: (reason: StopReason) => Effect.Effect<void>
  /** Shutdown step 6: close connections. The kernel bounds it; it must be interruptible. */
  readonly disconnect: Effect.Effect<void>
}
