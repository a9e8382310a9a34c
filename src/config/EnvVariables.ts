// Which HERMES_* environment variables the gateway knows. A variable named after no config key and
// not one of the few the gateway reads for itself is almost always a typo (HERMES_GATEWAY_DRAIN_TIMOUT)
// that would otherwise be ignored in silence, so loading the config rejects it (exit 78) the way a
// misspelt key in config.yaml is rejected.
import * as Option from "effect/Option"

/**
 * The HERMES_* variables that are not config keys, each read by another part of the program. The one
 * list: README (Configuration) documents it, and a new variable the gateway reads belongs here.
 */
export const gatewayVariables: ReadonlyMap<string, string> = new Map([
  ["HERMES_HOME", "the home directory when --home is not given"],
  ["HERMES_SUPERVISOR", "the supervisor the generated definitions declare (systemd, launchd, ..., none)"],
  // `hermes gateway install docker` prints `HERMES_API_KEY=... docker compose up`: compose reads it
  // into HERMES_ADAPTERS_HTTP_API_KEY, and an operator's shell may well keep it exported.
  ["HERMES_API_KEY", "read by the generated docker compose file into HERMES_ADAPTERS_HTTP_API_KEY"]
])

export const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}

/** The candidate a typo most likely meant: the nearest within a third of its length (at least 2 edits). */
export const closest = (typed: string, candidates: Iterable<string>): Option.Option<string> => {
  let best: Option.Option<string> = Option.none()
  let bestDistance = Math.max(2, Math.floor(typed.length / 3)) + 1
  for (const candidate of candidates) {
    const distance = editDistance(typed, candidate)
    if (distance < bestDistance) {
      best = Option.some(candidate)
      bestDistance = distance
    }
  }
  return best
}

const PREFIX = "HERMES_"

export interface UnknownVariable {
  readonly variable: string
  /** The known variable it most likely meant. */
  readonly suggestion: Option.Option<string>
}

/**
 * Every HERMES_* variable set in `env` that is neither a config key's variable, nor a gateway
 * variable, nor one the config itself names (token_env / api_key_env may well be HERMES_ names).
 * The comparison is on upper case: a config key's variable is matched case-sensitively, so
 * `hermes_log_level` is neither read nor flagged (it does not start with HERMES_), while
 * `HERMES_Log_Level` is flagged with its upper-case spelling as the suggestion.
 */
export const unknownVariables = (
  env: Readonly<Record<string, string | undefined>>,
  options: { readonly configVariables: ReadonlyArray<string>; readonly namedByConfig: ReadonlyArray<string> }
): ReadonlyArray<UnknownVariable> => {
  const known = new Set([...options.configVariables, ...gatewayVariables.keys()])
  const named = new Set(options.namedByConfig)
  return Object.keys(env)
    .filter((name) => name.startsWith(PREFIX) && env[name] !== undefined && !known.has(name) && !named.has(name))
    .sort()
    .map((variable) => {
      // Compared without the common prefix, so the allowed distance scales with the part that differs.
      const suggestion = closest(
        variable.slice(PREFIX.length).toUpperCase(),
        [...known].map((name) => name.slice(PREFIX.length))
      )
      return { variable, suggestion: Option.map(suggestion, (rest) => PREFIX + rest) }
    })
}

export const describeUnknownVariable = ({ suggestion, variable }: UnknownVariable): string =>
  Option.match(suggestion, {
    onSome: (known) => `${variable}: unknown variable (did you mean ${known}?)`,
    onNone: () =>
      `${variable}: unknown variable: no config key is spelt so (a key's variable is HERMES_ + its path, ` +
      "e.g. HERMES_GATEWAY_DRAIN_TIMEOUT) and the gateway reads no such variable; unset it"
  })
