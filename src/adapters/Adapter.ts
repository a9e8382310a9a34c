// What the lifecycle kernel needs from a messaging platform connection, and what a platform
// needs from the kernel (TurnIntake). One value per platform; the kernel owns the ordering.
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type { AgentReport, AgentUsage, ChatMessage, FinishReason, GenerationOptions } from "../agents/Agent.js"
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
  /**
   * The platform's id for this message (Telegram: the update_id). A message whose externalId is
   * already recorded in its session is not recorded or answered again (outcome Duplicate), which
   * closes the window between recording a message and acknowledging it to the platform.
   */
  readonly externalId?: string | undefined
  /**
   * The client's generation parameters (HTTP: temperature, max_tokens, ...), handed to the agent.
   * Not recorded: a resumed turn (push platforms only) runs with the agent's defaults.
   */
  readonly generation?: GenerationOptions | undefined
}

export interface TurnIds {
  readonly turnId: string
  readonly sessionId: string
}

export type TurnOutcome =
  | {
    readonly _tag: "Completed"
    readonly ids: TurnIds
    readonly reply: string
    /** The model that answered, when the agent reported one. */
    readonly model?: string | undefined
    /** The model server's token counts, when the agent reported them. */
    readonly usage?: AgentUsage | undefined
    /** Why the model stopped, when the agent reported it ("stop" otherwise). */
    readonly finishReason?: FinishReason | undefined
  }
  | { readonly _tag: "Interrupted"; readonly ids: TurnIds; readonly reason: string }
  | { readonly _tag: "Failed"; readonly ids: TurnIds; readonly message: string }
  /** The message was recorded by an earlier turn (same externalId); that turn owns the answer. */
  | { readonly _tag: "Duplicate"; readonly ids: TurnIds }
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
  /** What the agent reports about its answer (model, usage) as it learns it. */
  readonly onReport?: (report: AgentReport) => Effect.Effect<void>
}

export interface TurnIntake {
  /**
   * Runs one turn under the gateway's turn supervisor and waits for its outcome. The turn is
   * owned by the gateway, not by the caller: if the caller goes away the turn still finishes or
   * is interrupted at the drain deadline, and either way it is recorded.
   */
  readonly submit: (inbound: InboundMessage, hooks?: TurnHooks) => Effect.Effect<TurnOutcome, IntakeClosed>
  /**
   * Runs a turn an earlier life left resume_pending again (same turn id, context up to its inbound
   * message), like submit. onAccepted is called once the turn is running again.
   */
  readonly resume: (turnId: string, hooks?: TurnHooks) => Effect.Effect<TurnOutcome, IntakeClosed>
  /**
   * Push platforms: the turn's final answer reached the chat, so a restart does not send it again.
   * Never fails; a failure to record it is logged (the answer may then be sent once more).
   */
  readonly delivered: (ids: TurnIds) => Effect.Effect<void>
  /**
   * Push platforms: the platform's message the answer will be delivered into (see
   * SessionDbService.setReplyRef). Never fails; a failure is logged and the answer then goes out
   * as a new message.
   */
  readonly replyRef: (ids: TurnIds, ref: string) => Effect.Effect<void>
  /** Turns currently running. */
  readonly active: Effect.Effect<number>
}

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

/** What the kernel offers an adapter besides turns, handed over with startIntake. */
export interface IntakeContext {
  /** This platform's turns left over by an earlier life, oldest first; acted on before new messages. */
  readonly carryover: ReadonlyArray<Carryover>
  readonly status: Effect.Effect<GatewayView>
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

export class AdapterConnectError extends Data.TaggedError("AdapterConnectError")<{
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
  /** Begin handing inbound messages to the kernel; readiness turns true. */
  readonly startIntake: (intake: TurnIntake, context: IntakeContext) => Effect.Effect<void>
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
