// Short runs of another program (`systemctl show ...`, `systemctl stop ...`): what it printed and how
// it exited. Run through @effect/platform's Command, so the child belongs to a scope: a run that
// overruns its bound or whose caller is interrupted is killed (SIGKILL to its process group), never
// left running behind us.
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

export interface Finished {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs `command` to its end within `bound`; None when it overran (it is killed then). */
export const runBounded = (
  command: string,
  args: ReadonlyArray<string>,
  bound: Duration.DurationInput,
  /** Added to (not replacing) this process's environment. */
  env: Record<string, string> = {}
): Effect.Effect<Option.Option<Finished>, PlatformError, CommandExecutor.CommandExecutor> =>
  Effect.scoped(Effect.gen(function*() {
    const child = yield* Command.start(Command.make(command, ...args).pipe(Command.env(env)))
    const killed = child.kill("SIGKILL").pipe(Effect.ignore)
    const outcome = yield* Effect.all([
      child.stdout.pipe(Stream.decodeText(), Stream.mkString),
      child.stderr.pipe(Stream.decodeText(), Stream.mkString),
      child.exitCode
    ], { concurrency: "unbounded" }).pipe(
      Effect.timeoutOption(bound),
      Effect.onInterrupt(() => killed)
    )
    if (Option.isNone(outcome)) yield* killed
    return Option.map(outcome, ([stdout, stderr, exitCode]): Finished => ({ exitCode, stdout, stderr }))
  }))

/** Trimmed stdout of a command that exited 0 within `bound`; None when it could not run, failed or overran. */
export const commandOutput = (
  command: string,
  args: ReadonlyArray<string>,
  bound: Duration.DurationInput = Duration.seconds(3)
): Effect.Effect<Option.Option<string>, never, CommandExecutor.CommandExecutor> =>
  runBounded(command, args, bound).pipe(
    Effect.map(Option.flatMap((done) => (done.exitCode === 0 ? Option.some(done.stdout.trim()) : Option.none()))),
    Effect.catchAll(() => Effect.succeed(Option.none<string>()))
  )
