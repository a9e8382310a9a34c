// .gateway-planned-stop.json: written by a stopper before it signals, so that the gateway can tell
// a planned stop from an unexpected SIGTERM without guessing who sent it.
// Markers of the reference Python gateway are read too: its start time is an integer and it has no
// `action` (it only ever announces a stop).
import * as Schema from "effect/Schema"
import { StartTimeField } from "./StartTimeField.js"

export const StopAction = Schema.Literal("stop", "restart")
export type StopAction = typeof StopAction.Type

export const PlannedStopDocument = Schema.Struct({
  target_pid: Schema.Int,
  target_start_time: StartTimeField,
  action: Schema.optionalWith(StopAction, { default: () => "stop" as const }),
  stopper_pid: Schema.optional(Schema.Int),
  written_at: Schema.String
})
export type PlannedStopDocument = typeof PlannedStopDocument.Type
