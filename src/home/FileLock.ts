// An exclusive flock(2) on a file, without native code. Node cannot call flock itself, so a one-shot
// helper (util-linux `flock`, else perl) locks a descriptor it inherits from us and exits. flock
// locks belong to the open file description, which stays open in this process: the lock is ours
// until we close the descriptor, and the kernel drops it the instant this process dies (SIGKILL,
// OOM), so a dead holder never blocks the next one. Only who can open the file can take the lock:
// inside a 0700 home that is the home's owner and root, never a squatter.
//
// The helper is spawned with child_process.spawnSync, not @effect/platform's Command: the lock is
// taken on OUR descriptor, which the helper must inherit as its fd 3, and Command only wires stdin,
// stdout and stderr. The helper is one-shot and bounded (10 s), so there is no child to outlive us.
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"

export class FileLockError extends Data.TaggedError("FileLockError")<{
  readonly path: string
  readonly message: string
}> {}

/** A held lock: the descriptor that carries it. Closing it releases the lock. */
export interface HeldFileLock {
  readonly path: string
  readonly fd: number
}

/** Helpers that lock descriptor 3 and exit 0 (locked) or 1 (held by someone else). */
const lockers: ReadonlyArray<{ readonly command: string; readonly args: ReadonlyArray<string> }> = [
  { command: "flock", args: ["--nonblock", "--exclusive", "3"] },
  {
    command: "perl",
    args: ["-e", "use Fcntl qw(:flock); open(my $h, '+<&=', 3) or exit 2; exit(flock($h, LOCK_EX | LOCK_NB) ? 0 : 1)"]
  }
]

type Attempt = "locked" | "busy"

const lockDescriptor = (file: string, fd: number): Attempt => {
  const tried: Array<string> = []
  for (const locker of lockers) {
    const result = spawnSync(locker.command, locker.args, {
      stdio: ["ignore", "ignore", "pipe", fd],
      timeout: 10_000,
      encoding: "utf8"
    })
    if (result.error !== undefined) {
      tried.push(`${locker.command}: ${(result.error as NodeJS.ErrnoException).code ?? result.error.message}`)
      continue
    }
    if (result.status === 0) return "locked"
    if (result.status === 1) return "busy"
    tried.push(`${locker.command} exited ${result.status ?? result.signal}: ${result.stderr.trim()}`)
  }
  throw new Error(`cannot lock ${file} (needs util-linux flock or perl on the PATH; ${tried.join("; ")})`)
}

/**
 * Opens (creating 0600) and locks `file` without blocking. None when another process holds it.
 * A symlink or anything but a regular file is refused: the lock must be the file in the home.
 */
export const tryLockFileSync = (file: string): Option.Option<HeldFileLock> => {
  const fd = fs.openSync(
    file,
    fs.constants.O_RDWR | fs.constants.O_CREAT | (fs.constants.O_NOFOLLOW ?? 0),
    0o600
  )
  try {
    if (!fs.fstatSync(fd).isFile()) throw new Error(`${file} is not a regular file`)
    if (lockDescriptor(file, fd) === "busy") {
      fs.closeSync(fd)
      return Option.none()
    }
    return Option.some({ path: file, fd })
  } catch (error) {
    fs.closeSync(fd)
    throw error
  }
}

const describe = (error: unknown): string => {
  const e = error as NodeJS.ErrnoException
  if (e?.code === "ELOOP") return "it is a symbolic link"
  return e?.message ?? String(error)
}

/** Holds the lock for the life of the scope; None (and nothing held) when another process has it. */
export const tryLockFile = (file: string): Effect.Effect<Option.Option<HeldFileLock>, FileLockError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () => tryLockFileSync(file),
      catch: (error) => new FileLockError({ path: file, message: `cannot lock ${file}: ${describe(error)}` })
    }),
    (held) =>
      Effect.sync(() =>
        Option.map(held, (lock) => {
          try {
            fs.closeSync(lock.fd)
          } catch {
            // a close that fails still drops the lock: the kernel releases it with the descriptor
          }
        })
      )
  )
