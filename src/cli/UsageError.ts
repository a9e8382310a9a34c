// A command line that cannot be acted on (exit 64): every verb reports bad flags the same way.
import { ExitCode, ExitingError } from "../lifecycle/ExitCode.js"

export class UsageError extends ExitingError("UsageError", ExitCode.Usage)<{
  readonly message: string
}> {}
