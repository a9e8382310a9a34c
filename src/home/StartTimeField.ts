// The `start_time` of a process incarnation as it appears in home files. We write a string (field
// 22 of /proc/PID/stat, or `ps` output elsewhere); the reference Python gateway writes the same
// field-22 value as a JSON integer. Both decode to our string form, so identities compare as before.
import * as Schema from "effect/Schema"

/** A non-negative integer start time, as the Python gateway writes it, read as its decimal string. */
const IntegerStartTime = Schema.transform(
  Schema.Number.pipe(Schema.int(), Schema.nonNegative(), Schema.lessThanOrEqualTo(Number.MAX_SAFE_INTEGER)),
  Schema.String,
  {
    strict: true,
    decode: (ticks) => String(ticks),
    encode: (text) => Number(text)
  }
)

/** Decodes a string or an integer start time to a string; encodes as a string (our own format). */
export const StartTimeField = Schema.Union(Schema.String, IntegerStartTime)
