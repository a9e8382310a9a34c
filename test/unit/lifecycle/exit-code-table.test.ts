// Every error that can end the process, with the code the table gives it (CONTRACT 3.1): one row per
// class, built through ExitingError, read back through exitCodeOf as the runner and final step do.
import { describe, expect, it } from "@effect/vitest"
import * as Exit from "effect/Exit"
import { AdapterConnectError } from "../../../src/adapters/Adapter.js"
import { DoctorFoundProblems } from "../../../src/cli/DoctorCommand.js"
import { NotABundle } from "../../../src/cli/InstallCommand.js"
import { SessionsFailed } from "../../../src/cli/SessionsCommand.js"
import { NotRunning } from "../../../src/cli/StatusCommand.js"
import { StopFailed } from "../../../src/cli/StopCommand.js"
import { UsageError } from "../../../src/cli/UsageError.js"
import { ConfigError } from "../../../src/config/LoadConfig.js"
import { HomeUnusable } from "../../../src/forensics/HomeCheck.js"
import { UnsafeHomeFiles } from "../../../src/home/HomeFiles.js"
import { HomeError } from "../../../src/home/HomePaths.js"
import { HomeUnreachable } from "../../../src/home/HomeReach.js"
import { HomeLocked, LockError } from "../../../src/home/InstanceLock.js"
import {
  describeExitCode,
  ExitCode,
  exitCodeOf,
  exitCodeOfFailure,
  isExiting,
  PassThroughExit
} from "../../../src/lifecycle/ExitCode.js"
import {
  EnvironmentError,
  NoAdapterConnected,
  NoAdapterEnabled,
  RestartRequested,
  StorageUnavailable,
  UnplannedStop
} from "../../../src/lifecycle/GatewayErrors.js"
import { InstallFailed } from "../../../src/supervision/Install.js"

const m = { message: "why" }

const table: ReadonlyArray<readonly [string, unknown, number]> = [
  ["UnplannedStop", new UnplannedStop(m), 1],
  ["RestartRequested", new RestartRequested(m), 75],
  ["NoAdapterConnected", new NoAdapterConnected(m), 69],
  ["NoAdapterEnabled", new NoAdapterEnabled(m), 78],
  ["EnvironmentError", new EnvironmentError(m), 78],
  ["StorageUnavailable", new StorageUnavailable(m), 69],
  ["HomeLocked", new HomeLocked({ message: "held", pid: 42 }), 69],
  ["LockError", new LockError(m), 78],
  ["HomeError", new HomeError(m), 78],
  ["UnsafeHomeFiles", new UnsafeHomeFiles({ message: "link", files: ["x"] }), 78],
  ["HomeUnreachable 78", new HomeUnreachable({ message: "x", exitCode: ExitCode.Config }), 78],
  ["HomeUnreachable 69", new HomeUnreachable({ message: "x", exitCode: ExitCode.Unavailable }), 69],
  ["HomeUnusable", new HomeUnusable({ problems: [], message: "x", exitCode: ExitCode.Config }), 78],
  ["ConfigError", new ConfigError({ message: "bad", path: "a.b" }), 78],
  ["UsageError", new UsageError(m), 64],
  ["NotABundle", new NotABundle(m), 78],
  ["InstallFailed", new InstallFailed(m), 1],
  ["DoctorFoundProblems", new DoctorFoundProblems({ message: "x", reported: true }), 1],
  ["SessionsFailed", new SessionsFailed(m), 1],
  ["StopFailed", new StopFailed(m), 1],
  ["NotRunning 3", new NotRunning({ message: "stopped", exitCode: 3, reported: true }), 3],
  ["NotRunning 1", new NotRunning({ message: "dead", exitCode: 1, reported: true }), 1],
  ["AdapterConnectError 69", new AdapterConnectError({ adapter: "http", message: "in use", exitCode: 69 }), 69],
  ["AdapterConnectError 78", new AdapterConnectError({ adapter: "http", message: "bad", exitCode: 78 }), 78],
  ["PassThroughExit", new PassThroughExit(143, "successor"), 143]
]

describe("the exit-code table", () => {
  it.each(table)("%s ends the process with its code", (_name, error, code) => {
    expect(isExiting(error)).toBe(true)
    expect(exitCodeOfFailure(error)).toBe(code)
    expect(exitCodeOf(Exit.fail(error))).toBe(code)
  })

  it("a fixed code cannot be overridden by the fields of an instance", () => {
    const error = new UsageError({ message: "x", exitCode: 0 } as never)
    expect(error.exitCode).toBe(64)
  })

  it("errors keep their tag and message, and yield as failures", () => {
    const error = new RestartRequested({ message: "SIGUSR1" })
    expect(error._tag).toBe("RestartRequested")
    expect(error.message).toBe("SIGUSR1")
    expect(error).toBeInstanceOf(Error)
  })

  it("anything not built by ExitingError, and every defect, is a bug (70)", () => {
    expect(isExiting({ exitCode: 78, message: "look-alike" })).toBe(false)
    expect(exitCodeOfFailure(new Error("plain"))).toBe(70)
    expect(exitCodeOf(Exit.die(new UsageError(m)))).toBe(70)
  })

  it("the shutdown report tells what each gateway code means, from the same table", () => {
    expect(describeExitCode(ExitCode.Restart)).toBe("exit 75 (restart requested, restarted at once)")
    expect(describeExitCode(143)).toBe("exit 143")
  })
})
