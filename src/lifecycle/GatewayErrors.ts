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

/** Nothing to connect: a configuration mistake (78), which restarting after a delay cannot fix. */
export class NoAdapterEnabled extends Data.TaggedError("NoAdapterEnabled")<{
  readonly message: string
}> {
  readonly exitCode = ExitCode.Config
}

/** The home or its files cannot be used (read-only, wrong owner, full disk at start-up). */
export class EnvironmentError extends Data.TaggedError("EnvironmentError")<{
  readonly message: string
}> {
  readonly exitCode = ExitCode.Config
}

/** A temporary storage failure at start-up (full disk, I/O error): restarted after a delay (69), not 78. */
export class StorageUnavailable extends Data.TaggedError("StorageUnavailable")<{
  readonly message: string
}> {
  readonly exitCode = ExitCode.Unavailable
}

const temporaryStorage = /ENOSPC|no space left|disk is full|SQLITE_FULL|EIO\b|disk I\/O error/i

/** Pure: a session database that cannot be opened is a temporary outage or an environment error. */
export const sessionDbStartupError = (message: string): StorageUnavailable | EnvironmentError =>
  temporaryStorage.test(message)
    ? new StorageUnavailable({ message: `session database: ${message}` })
    : new EnvironmentError({ message: `session database: ${message}` })
