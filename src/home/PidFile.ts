// gateway.pid: written once the lock is held; names the incarnation (pid + start_time) so that
// stoppers never signal a recycled pid. A pid file of the reference Python gateway (integer
// start_time, no `home` or `started_at`) is read too; we always write every field.
import * as Schema from "effect/Schema"
import { StartTimeField } from "./StartTimeField.js"

export const PidFileDocument = Schema.Struct({
  pid: Schema.Int.pipe(Schema.positive()),
  start_time: StartTimeField,
  argv: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  home: Schema.optional(Schema.String),
  started_at: Schema.optional(Schema.String)
})
export type PidFileDocument = typeof PidFileDocument.Type
