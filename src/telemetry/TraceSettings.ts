// Whether this gateway sends traces, and where: the `telemetry` section of config.yaml first (or
// its HERMES_TELEMETRY_* variables), then the standard OTEL_* variables an operator already sets
// for every other service. Pure, so every precedence rule has a unit test.
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { GatewayConfig } from "../config/GatewayConfig.js"
import { ConfigError } from "../config/LoadConfig.js"

/** The two OTLP/HTTP encodings the exporter speaks (gRPC is not offered). */
export type OtlpProtocol = "http/protobuf" | "http/json"

export interface TraceSettings {
  /** Where spans are POSTed: the collector's traces URL, `/v1/traces` included. */
  readonly url: string
  readonly serviceName: string
  /** Extra request headers (OTEL_EXPORTER_OTLP_HEADERS): often a collector's API key, never logged. */
  readonly headers: Readonly<Record<string, string>>
  readonly protocol: OtlpProtocol
  /** The key or variable the endpoint came from, for the start-up line. */
  readonly source: string
}

export const defaultServiceName = "hermes-gateway"

type Env = Readonly<Record<string, string | undefined>>

/** A variable set to something other than blanks; an empty one counts as unset, as OTel SDKs do. */
const given = (env: Env, name: string): Option.Option<string> =>
  Option.filter(Option.fromNullable(env[name]?.trim()), (value) => value !== "")

const problem = (where: string, path: string, reason: string) =>
  Either.left(new ConfigError({ message: `${where}: ${reason}`, path }))

/**
 * A base endpoint gets the traces path appended (`http://collector:4318` → `.../v1/traces`), as the
 * OTLP spec asks for OTEL_EXPORTER_OTLP_ENDPOINT; one that already ends in it is taken as it is.
 */
export const tracesUrl = (base: string): string => {
  const trimmed = base.trim().replace(/\/+$/, "")
  return trimmed.endsWith("/v1/traces") ? trimmed : `${trimmed}/v1/traces`
}

/** The endpoint as logs and doctor show it: without any user:password put into the URL. */
export const displayUrl = (url: string): string => {
  const shown = new URL(url)
  shown.username = ""
  shown.password = ""
  return shown.toString()
}

const isHttpUrl = (text: string): boolean => {
  try {
    const protocol = new URL(text).protocol
    return protocol === "http:" || protocol === "https:"
  } catch {
    return false
  }
}

/**
 * `key1=value1,key2=value2` with URL-encoded values (the OTel format). A malformed entry is named by
 * its position only: header values are usually secrets and never reach the log.
 */
export const parseHeaders = (text: string): Either.Either<Record<string, string>, string> => {
  const headers: Record<string, string> = {}
  const entries = text.split(",")
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index]!.trim()
    if (entry === "") continue
    const equals = entry.indexOf("=")
    const name = equals < 0 ? "" : entry.slice(0, equals).trim()
    if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) {
      return Either.left(`entry ${index + 1} is not name=value with a valid header name`)
    }
    try {
      headers[name.toLowerCase()] = decodeURIComponent(entry.slice(equals + 1).trim())
    } catch {
      return Either.left(`the value of entry ${index + 1} (${name}) is not valid URL encoding`)
    }
  }
  return Either.right(headers)
}

/** `service.name` inside OTEL_RESOURCE_ATTRIBUTES (`service.name=x,deployment.environment=prod`). */
const serviceNameAttribute = (env: Env): Option.Option<string> =>
  Option.flatMap(given(env, "OTEL_RESOURCE_ATTRIBUTES"), (text) =>
    Option.fromNullable(
      text.split(",").map((pair) => pair.split("=")).find((parts) => parts.length === 2 && parts[0]!.trim() === "service.name")
    ).pipe(
      Option.map((parts) => parts[1]!.trim()),
      Option.filter((name) => name !== "")
    ))

const tracesDisabled = (env: Env): boolean =>
  Option.exists(given(env, "OTEL_SDK_DISABLED"), (value) => value.toLowerCase() === "true") ||
  Option.exists(given(env, "OTEL_TRACES_EXPORTER"), (value) => value.split(",").map((v) => v.trim().toLowerCase()).includes("none"))

/**
 * None when nothing asks for traces (or OTEL_SDK_DISABLED=true / OTEL_TRACES_EXPORTER=none say
 * no); a ConfigError (exit 78) naming the variable when an OTEL_* value cannot be used. The
 * config key's URL was checked by the config schema already.
 */
export const traceSettings = (
  telemetry: GatewayConfig["telemetry"],
  env: Env
): Either.Either<Option.Option<TraceSettings>, ConfigError> => {
  if (tracesDisabled(env)) return Either.right(Option.none())
  const signalEndpoint = given(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
  const baseEndpoint = given(env, "OTEL_EXPORTER_OTLP_ENDPOINT")
  const endpoint: Option.Option<{ readonly url: string; readonly source: string; readonly raw: string }> =
    telemetry.otlp_endpoint !== null
      ? Option.some({ url: tracesUrl(telemetry.otlp_endpoint), source: "telemetry.otlp_endpoint", raw: telemetry.otlp_endpoint })
      : Option.isSome(signalEndpoint)
      // The signal-specific variable is the full URL already (OTLP spec): nothing is appended.
      ? Option.some({ url: signalEndpoint.value, source: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raw: signalEndpoint.value })
      : Option.map(baseEndpoint, (raw) => ({ url: tracesUrl(raw), source: "OTEL_EXPORTER_OTLP_ENDPOINT", raw }))
  if (Option.isNone(endpoint)) return Either.right(Option.none())
  const { raw, source, url } = endpoint.value
  if (!isHttpUrl(raw)) {
    return problem(source, "telemetry.otlp_endpoint", `must be an http:// or https:// URL, got ${JSON.stringify(raw)}`)
  }

  const protocolVariable = Option.isSome(given(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"))
    ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
    : "OTEL_EXPORTER_OTLP_PROTOCOL"
  const protocol = Option.getOrElse(given(env, protocolVariable), () => "http/protobuf")
  if (protocol !== "http/protobuf" && protocol !== "http/json") {
    return problem(
      protocolVariable,
      "telemetry.otlp_endpoint",
      `${JSON.stringify(protocol)} is not supported: the gateway sends OTLP over HTTP, use http/protobuf or http/json`
    )
  }

  const headersVariable = Option.isSome(given(env, "OTEL_EXPORTER_OTLP_TRACES_HEADERS"))
    ? "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
    : "OTEL_EXPORTER_OTLP_HEADERS"
  const headers = Option.match(given(env, headersVariable), {
    onNone: () => Either.right({}),
    onSome: parseHeaders
  })
  if (Either.isLeft(headers)) return problem(headersVariable, "telemetry.otlp_endpoint", headers.left)

  const serviceName = Option.fromNullable(telemetry.service_name).pipe(
    Option.orElse(() => given(env, "OTEL_SERVICE_NAME")),
    Option.orElse(() => serviceNameAttribute(env)),
    Option.getOrElse(() => defaultServiceName)
  )
  return Either.right(Option.some({ url, serviceName, headers: headers.right, protocol, source }))
}
