// Ways a gateway run ends other than a planned stop. Each carries its exit code (ExitCode.ts).
import { ExitCode, ExitingError } from "./ExitCode.js"

export class UnplannedStop extends ExitingError("UnplannedStop", ExitCode.UnplannedStop)<{
  readonly message: string
}> {}

export class RestartRequested extends ExitingError("RestartRequested", ExitCode.Restart)<{
  readonly message: string
}> {}

export class NoAdapterConnected extends ExitingError("NoAdapterConnected", ExitCode.Unavailable)<{
  readonly message: string
}> {}

/** Nothing to connect: a configuration mistake (78), which restarting after a delay cannot fix. */
export class NoAdapterEnabled extends ExitingError("NoAdapterEnabled", ExitCode.Config)<{
  readonly message: string
}> {}

/** The home or its files cannot be used (read-only, wrong owner, full disk at start-up). */
export class EnvironmentError extends ExitingError("EnvironmentError", ExitCode.Config)<{
  readonly message: string
}> {}

/** A temporary storage failure at start-up (full disk, I/O error): restarted after a delay (69), not 78. */
export class StorageUnavailable extends ExitingError("StorageUnavailable", ExitCode.Unavailable)<{
  readonly message: string
}> {}

const temporaryStorage = /ENOSPC|no space left|disk is full|SQLITE_FULL|EIO\b|disk I\/O error/i

/**
 * Pure: a session database that cannot be opened is a temporary outage (a full disk, a database
 * server that cannot be reached now) or an environment error (wrong credentials, a newer schema).
 */
export const sessionDbStartupError = (message: string, reason?: string): StorageUnavailable | EnvironmentError =>
  reason === "unreachable" || (reason !== "refused" && reason !== "schema_newer" && temporaryStorage.test(message))
    ? new StorageUnavailable({ message: `session database: ${message}` })
    : new EnvironmentError({ message: `session database: ${message}` })
