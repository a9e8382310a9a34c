// `--home DIR`, accepted by every verb (CONTRACT 1 and 8).
import * as Options from "@effect/cli/Options"
import { homePaths, type HomePaths, resolveHomeDir } from "../home/HomePaths.js"

export const homeOption = Options.directory("home", { exists: "either" }).pipe(
  Options.withDescription("state directory of the gateway (default: $HERMES_HOME, else ~/.hermes)"),
  Options.optional
)

export const resolvePaths = (flag: import("effect/Option").Option<string>): HomePaths =>
  homePaths(resolveHomeDir(flag._tag === "Some" ? flag.value : undefined, process.env))
