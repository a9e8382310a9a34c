// `--home DIR`, accepted by every verb (CONTRACT 1 and 8). Plain text, checked by us: @effect/cli's
// path option turns a path it cannot stat (EACCES, ENOTDIR) into a defect, i.e. exit 70 and a stack.
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import { homePaths, type HomePaths, resolveHomeDir } from "../home/HomePaths.js"
import { HomeUnreachable, requireHomeReachable } from "../home/HomeReach.js"

export const homeOption = Options.text("home").pipe(
  Options.withDescription("state directory of the gateway (default: $HERMES_HOME, else ~/.hermes)"),
  Options.withPseudoName("DIR"),
  Options.optional
)

/** The home's paths, once the home is known to be a directory or creatable (else 78, one line). */
export const resolvePaths = (flag: Option.Option<string>): Effect.Effect<HomePaths, HomeUnreachable> =>
  Effect.suspend(() => {
    const paths = homePaths(resolveHomeDir(flag._tag === "Some" ? flag.value : undefined, process.env))
    return Effect.as(requireHomeReachable(paths.dir), paths)
  })
