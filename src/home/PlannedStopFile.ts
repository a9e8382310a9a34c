// .gateway-planned-stop.json: written by a stopper before it signals, so that the gateway can tell
// a planned stop from an unexpected SIGTERM without guessing who sent it.
import * as Schema from "effect/Schema"

export const StopAction = Schema.Literal("stop", "restart")
export type StopAction = typeof StopAction.Type

export const PlannedStopDocument = Schema.Struct({
  target_pid: Schema.Int,
  target_start_time: Schema.String,
  action: StopAction,
  stopper_pid: Schema.Int,
  written_at: Schema.String
})
export type PlannedStopDocument = typeof PlannedStopDocument.Type
