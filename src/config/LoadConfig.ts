// Turns config.yaml plus HERMES_* environment variables into a GatewayConfig, or one ConfigError
// (exit 78) that says where the bad value came from: the file and key path, or the variable.
// Only loadConfig touches the disk; every step it takes is a pure function exported for tests.
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import * as YAML from "yaml"
import { ExitCode, ExitingError } from "../lifecycle/ExitCode.js"
import { readConfigText } from "./ConfigFile.js"
import { describeUnknownVariable, editDistance, unknownVariables } from "./EnvVariables.js"
import { GatewayConfig, showValue } from "./GatewayConfig.js"
import { maxConfigNesting, yamlNesting } from "./YamlNesting.js"

export class ConfigError extends ExitingError("ConfigError", ExitCode.Config)<{
  /** Every problem found, one per line, each naming its file or variable, key path and reason. */
  readonly message: string
  /** Dotted key path of the first problem (`gateway.drain_timeout`); "" when about the whole file. */
  readonly path: string
}> {}

// ---------------------------------------------------------------------------------------------
// Leaves of the schema: the keys an environment variable may set

export interface ConfigLeaf {
  /** Key path, e.g. ["adapters", "http", "port"]. */
  readonly path: ReadonlyArray<string>
  /** HERMES_ + the key path upper-cased and joined with `_`. */
  readonly variable: string
  /** How an environment string becomes a value before the schema decodes it. */
  readonly kind: "boolean" | "number" | "text"
  /** Whether null is a real value of the key (not just "use the default"). */
  readonly nullable: boolean
}

export const variableFor = (path: ReadonlyArray<string>): string =>
  ["HERMES", ...path].map((part) => part.toUpperCase()).join("_")

const withoutRefinements = (ast: AST.AST): AST.AST => (AST.isRefinement(ast) ? withoutRefinements(ast.from) : ast)

const alternatives = (ast: AST.AST): ReadonlyArray<AST.AST> => {
  const bare = withoutRefinements(ast)
  return AST.isUnion(bare) ? bare.types.flatMap(alternatives) : [bare]
}

const leavesOf = (ast: AST.AST, prefix: ReadonlyArray<string>): ReadonlyArray<ConfigLeaf> => {
  const node = withoutRefinements(ast)
  if (!AST.isTypeLiteral(node)) return []
  return node.propertySignatures.flatMap((property) => {
    const path = [...prefix, String(property.name)]
    const inner = withoutRefinements(property.type)
    if (AST.isTypeLiteral(inner)) return leavesOf(inner, path)
    const types = alternatives(inner)
    const kind = types.some((t) => t._tag === "BooleanKeyword")
      ? "boolean" as const
      : types.some((t) => t._tag === "NumberKeyword")
      ? "number" as const
      : "text" as const
    const nullable = types.some((t) => AST.isLiteral(t) && t.literal === null)
    return [{ path, variable: variableFor(path), kind, nullable }]
  })
}

/** Read from the decoded (Type) side: there a key is nullable only if null is a value it keeps. */
export const configLeaves: ReadonlyArray<ConfigLeaf> = leavesOf(AST.typeAST(GatewayConfig.ast), [])

// ---------------------------------------------------------------------------------------------
// Environment overrides

const NUMERIC = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/

/**
 * The value an environment string stands for. None: the variable says nothing (empty, for a key
 * without a null value). Text that is not a number is passed on as text so the schema's own message
 * (with the allowed range) reports it.
 */
export const envValue = (leaf: ConfigLeaf, raw: string): Either.Either<Option.Option<unknown>, string> => {
  const word = raw.trim().toLowerCase()
  if (leaf.nullable && (word === "" || word === "null")) return Either.right(Option.some(null))
  if (raw === "") return Either.right(Option.none())
  switch (leaf.kind) {
    case "boolean":
      if (["true", "1", "yes"].includes(word)) return Either.right(Option.some(true))
      if (["false", "0", "no"].includes(word)) return Either.right(Option.some(false))
      return Either.left(`expected true, false, 1, 0, yes or no, got ${JSON.stringify(raw)}`)
    case "number":
      return Either.right(Option.some(NUMERIC.test(raw.trim()) ? Number(raw.trim()) : raw))
    case "text":
      return Either.right(Option.some(raw))
  }
}

const isMapping = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** A copy of `root` with `value` at `path`; None when something on the way is not a mapping. */
const setIn = (root: unknown, path: ReadonlyArray<string>, value: unknown): Option.Option<unknown> => {
  if (path.length === 0) return Option.some(value)
  const node = root === undefined || root === null ? {} : root
  if (!isMapping(node)) return Option.none()
  const [head, ...rest] = path as [string, ...Array<string>]
  return Option.map(setIn(node[head], rest, value), (child) => ({ ...node, [head]: child }))
}

export interface Overridden {
  /** The file's data with every override in place. */
  readonly input: unknown
  /** Dotted key path -> the variable that set it, to blame the right source for a bad value. */
  readonly setBy: ReadonlyMap<string, string>
  /** Variables whose text could not even be converted. */
  readonly problems: ReadonlyArray<{ readonly path: string; readonly message: string }>
}

/**
 * Laid over the file's data. Only variables named after a schema leaf are read: other HERMES_*
 * variables are either the gateway's own (HERMES_HOME, HERMES_SUPERVISOR, ...) or typos, which
 * decodeConfig reports (EnvVariables.ts). A variable
 * under a section the file spells as something other than a mapping is skipped; the file's own
 * error reports that section.
 */
export const applyEnv = (fileData: unknown, env: Record<string, string | undefined>): Overridden => {
  let input = fileData
  const setBy = new Map<string, string>()
  const problems: Array<{ path: string; message: string }> = []
  for (const leaf of configLeaves) {
    const raw = env[leaf.variable]
    if (raw === undefined) continue
    const dotted = leaf.path.join(".")
    Either.match(envValue(leaf, raw), {
      onLeft: (reason) => problems.push({ path: dotted, message: `${leaf.variable}: ${reason}` }),
      onRight: Option.match({
        onNone: () => undefined,
        onSome: (value) =>
          Option.match(setIn(input, leaf.path, value), {
            onNone: () => undefined,
            onSome: (next) => {
              input = next
              setBy.set(dotted, leaf.variable)
            }
          })
      })
    })
  }
  return { input, setBy, problems }
}

// ---------------------------------------------------------------------------------------------
// Decoding and messages

interface Problem {
  readonly path: ReadonlyArray<PropertyKey>
  readonly reason: string
  readonly unknownKey: boolean
}

const toArray = <A>(value: A | ReadonlyArray<A>): ReadonlyArray<A> =>
  Array.isArray(value) ? value : [value as A]

/** `key: null` and a missing key are allowed everywhere; their failed alternatives are noise. */
const isNullishAlternative = (issue: ParseResult.ParseIssue): boolean =>
  issue._tag === "Type" &&
  (AST.isUndefinedKeyword(issue.ast) || (AST.isLiteral(issue.ast) && issue.ast.literal === null))

const hasOwnMessage = (issue: ParseResult.ParseIssue): boolean =>
  "ast" in issue && Option.isSome(AST.getMessageAnnotation(issue.ast))

const formatted = (issue: ParseResult.ParseIssue, path: ReadonlyArray<PropertyKey>): Array<Problem> =>
  ParseResult.ArrayFormatter.formatIssueSync(issue).map((item) => ({
    path: [...path, ...item.path],
    reason: item.message,
    unknownKey: item._tag === "Unexpected"
  }))

/** Flattens a ParseIssue to one problem per bad key, using the leaves' own messages. */
const problemsOf = (issue: ParseResult.ParseIssue, path: ReadonlyArray<PropertyKey>): Array<Problem> => {
  if (hasOwnMessage(issue)) return formatted(issue, path)
  switch (issue._tag) {
    case "Pointer":
      return problemsOf(issue.issue, [...path, ...toArray(issue.path)])
    case "Unexpected":
      return [{ path, reason: "unknown key", unknownKey: true }]
    case "Composite": {
      const all = toArray(issue.issues)
      const relevant = all.filter((inner) => !isNullishAlternative(inner))
      return (relevant.length > 0 ? relevant : all).flatMap((inner) => problemsOf(inner, path))
    }
    case "Refinement":
    case "Transformation":
      return problemsOf(issue.issue, path)
    case "Type":
      return AST.isTypeLiteral(issue.ast)
        ? [{ path, reason: `expected a mapping of keys, got ${showValue(issue.actual)}`, unknownKey: false }]
        : formatted(issue, path)
    default:
      return formatted(issue, path)
  }
}

/** The known key a typo most likely meant, from the keys allowed next to it. */
export const suggestKey = (path: ReadonlyArray<string>): Option.Option<string> => {
  const parent = path.slice(0, -1)
  const typed = path[path.length - 1] ?? ""
  const siblings = new Set(
    configLeaves
      .filter((leaf) => leaf.path.length > parent.length && parent.every((part, i) => leaf.path[i] === part))
      .map((leaf) => leaf.path[parent.length]!)
  )
  let best: Option.Option<string> = Option.none()
  let bestDistance = Math.max(2, Math.floor(typed.length / 3)) + 1
  for (const sibling of siblings) {
    const distance = editDistance(typed.toLowerCase(), sibling)
    if (distance < bestDistance) {
      best = Option.some([...parent, sibling].join("."))
      bestDistance = distance
    }
  }
  return best
}

const describeProblem = (problem: Problem, file: string, setBy: ReadonlyMap<string, string>): string => {
  const dotted = problem.path.map(String).join(".")
  const variable = setBy.get(dotted)
  if (variable !== undefined) return `${variable}: ${problem.reason}`
  if (problem.unknownKey) {
    const hint = Option.match(suggestKey(problem.path.map(String)), {
      onNone: () => "",
      onSome: (known) => ` (did you mean ${known}?)`
    })
    return `${file}: unknown key ${dotted}${hint}`
  }
  return dotted === "" ? `${file}: ${problem.reason}` : `${file}: ${dotted}: ${problem.reason}`
}

/** The variables the config names for secrets (token_env, api_key_env, url_env): read, so not typos. */
const variablesNamedIn = (input: unknown): ReadonlyArray<string> => {
  const at = (path: ReadonlyArray<string>): unknown =>
    path.reduce<unknown>((node, part) => (isMapping(node) ? node[part] : undefined), input)
  return [at(["adapters", "telegram", "token_env"]), at(["agent", "openai", "api_key_env"]), at(["sessions", "postgres", "url_env"])]
    .flatMap((name) => (typeof name === "string" ? [name.trim()] : []))
}

const configVariables = configLeaves.map((leaf) => leaf.variable)

const decode = Schema.decodeUnknownEither(GatewayConfig, { onExcessProperty: "error", errors: "all" })

/**
 * The file's data (undefined when there is no file) with the environment laid over it, decoded.
 * All problems are reported at once, so one edit can fix them all.
 */
export const decodeConfig = (
  fileData: unknown,
  options: { readonly file: string; readonly env: Record<string, string | undefined> }
): Either.Either<GatewayConfig, ConfigError> => {
  const overridden = applyEnv(fileData ?? {}, options.env)
  const decoded = decode(overridden.input)
  const typos = unknownVariables(options.env, {
    configVariables,
    namedByConfig: variablesNamedIn(overridden.input)
  }).map((unknown) => ({ path: "", message: describeUnknownVariable(unknown) }))
  const problems = [
    ...overridden.problems,
    ...typos,
    ...(Either.isLeft(decoded) ? problemsOf(decoded.left.issue, []) : []).map((problem) => ({
      path: problem.path.map(String).join("."),
      message: describeProblem(problem, options.file, overridden.setBy)
    }))
  ]
  if (Either.isRight(decoded) && problems.length === 0) return Either.right(decoded.right)
  return Either.left(
    new ConfigError({ message: problems.map((p) => p.message).join("\n"), path: problems[0]?.path ?? "" })
  )
}

/**
 * YAML text to plain data; a syntax error names the file, line and column. Empty text is `{}`.
 * Nesting is measured before the document is composed, since composing recurses once per level.
 */
export const parseConfigText = (text: string, file: string): Either.Either<unknown, ConfigError> => {
  const whole = (message: string) => Either.left(new ConfigError({ message: `${file}: ${message}`, path: "" }))
  try {
    const nesting = yamlNesting(text)
    if (nesting > maxConfigNesting) {
      return whole(`nests deeper than ${maxConfigNesting} levels: this is not a gateway config (it needs 5)`)
    }
    const lineCounter = new YAML.LineCounter()
    const document = YAML.parseDocument(text, { lineCounter, prettyErrors: false })
    const [first] = document.errors
    if (first !== undefined) {
      const { line, col } = lineCounter.linePos(first.pos[0])
      return whole(`line ${line}, column ${col}: invalid YAML: ${first.message}`)
    }
    return Either.right(document.toJS() ?? {})
  } catch (error) {
    // toJS refuses e.g. alias expansions past its limit; a stack overflow the nesting check missed
    // is the file's doing too. Either way the file is at fault, not the program.
    return whole(`invalid YAML: ${error instanceof RangeError ? "too deeply nested or too complex" : errorText(error)}`)
  }
}

/** Everything after reading: no text (no file) means every default, still under the environment. */
export const resolveConfig = (
  text: Option.Option<string>,
  options: { readonly file: string; readonly env: Record<string, string | undefined> }
): Either.Either<GatewayConfig, ConfigError> =>
  Option.match(text, {
    onNone: () => decodeConfig(undefined, options),
    onSome: (content) => Either.flatMap(parseConfigText(content, options.file), (data) => decodeConfig(data, options))
  })

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** A missing file is not an error (every key has a default); anything but a small regular file is. */
const readConfigFile = (file: string): Effect.Effect<Option.Option<string>, ConfigError> =>
  readConfigText(file).pipe(Effect.mapError((problem) => new ConfigError({ message: problem.message, path: "" })))

export const loadConfig = (options: {
  readonly file: string
  readonly env: Record<string, string | undefined>
}): Effect.Effect<GatewayConfig, ConfigError> =>
  Effect.flatMap(readConfigFile(options.file), (text) => resolveConfig(text, options))
