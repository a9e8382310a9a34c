// .clean_shutdown: the first thing every orderly shutdown writes; its absence at the next start
// (with a previous state that claimed a live process) means the previous life was killed.
import * as Schema from "effect/Schema"
import { processIdentityFields } from "./ProcessIdentity.js"

export const CleanShutdownDocument = Schema.Struct({
  ...processIdentityFields,
  classification: Schema.String,
  written_at: Schema.String
})
export type CleanShutdownDocument = typeof CleanShutdownDocument.Type
