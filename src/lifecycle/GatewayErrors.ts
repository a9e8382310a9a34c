// Ways a gateway run ends other than a planned stop. Each carries its exit code (ExitCode.ts).
import * as Data from "effect/Data"
import { ExitCode } from "./ExitCode.js"

export class UnplannedStop extends Data.TaggedError("UnplannedStop")<{
  readonly message: string
}> {
  readonly exitCode = ExitCode.UnplannedStop
}

export class RestartRequested extends Data.TaggedError("RestartRequested")<{
  readonly message: string
}> {
  readonly exitCode = ExitCode.Restart
}

export class NoAdapterConnected extends Data.TaggedError("NoAdapterConnected")<{
  readonly message: string
}> {
  readonly exitCode = ExitCode.Unavailable
}

/** The home or its files cannot be used (read-only, wrong owner, full disk at start-up). */
export class EnvironmentError extends Data.TaggedError("EnvironmentError")<{
  readonly message: string
}> {
  readonly exitCode = ExitCode.Config
}
