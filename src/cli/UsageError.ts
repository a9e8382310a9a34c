// A command line that cannot be acted on (exit 64): every verb reports bad flags the same way.
import * as Data from "effect/Data"
import { ExitCode } from "../lifecycle/ExitCode.js"

export class UsageError extends Data.TaggedError("UsageError")<{
  readonly message: string
}> {
  readonly exitCode = ExitCode.Usage
}
