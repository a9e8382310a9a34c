// gateway.pid: written once the lock is held; names the incarnation (pid + start_time) so that
// stoppers never signal a recycled pid.
import * as Schema from "effect/Schema"

export const PidFileDocument = Schema.Struct({
  pid: Schema.Int.pipe(Schema.positive()),
  start_time: Schema.String,
  argv: Schema.Array(Schema.String),
  home: Schema.String,
  started_at: Schema.String
})
export type PidFileDocument = typeof PidFileDocument.Type
