// A short query of another program (`systemctl show ...`): its stdout, or nothing. Run through
// @effect/platform's Command, so the child belongs to a scope: a query that overruns its bound or whose
// caller is interrupted is killed (SIGKILL to its process group), never left running behind us.
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

/** Trimmed stdout of a command that exited 0 within `bound`; None when it could not run, failed or overran. */
export const commandOutput = (
  command: string,
  args: ReadonlyArray<string>,
  bound: Duration.DurationInput = Duration.seconds(3)
): Effect.Effect<Option.Option<string>, never, CommandExecutor.CommandExecutor> =>
  Effect.scoped(Effect.gen(function*() {
    const child = yield* Command.start(Command.make(command, ...args))
    const killed = child.kill("SIGKILL").pipe(Effect.ignore)
    const outcome = yield* Effect.all([
      child.stdout.pipe(Stream.decodeText(), Stream.mkString),
      // stderr is drained so a chatty child cannot block on a full pipe; what it says is not ours to log.
      child.stderr.pipe(Stream.runDrain),
      child.exitCode
    ], { concurrency: "unbounded" }).pipe(
      Effect.timeoutOption(bound),
      Effect.onInterrupt(() => killed)
    )
    if (Option.isNone(outcome)) {
      yield* killed
      return Option.none()
    }
    const [stdout, , exitCode] = outcome.value
    return exitCode === 0 ? Option.some(stdout.trim()) : Option.none()
  })).pipe(Effect.catchAll(() => Effect.succeed(Option.none<string>())))
