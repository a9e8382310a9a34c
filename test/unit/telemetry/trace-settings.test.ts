// When traces are on and where they go: config key over OTEL_* variables, the OTLP spec's URL and
// header rules, and one clear error (exit 78) naming a variable the gateway cannot use.
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { ExitCode } from "../../../src/lifecycle/ExitCode.js"
import { parseHeaders, type TraceSettings, traceSettings, tracesUrl } from "../../../src/telemetry/TraceSettings.js"

const off = { otlp_endpoint: null, service_name: null }

const settingsOf = (
  env: Record<string, string>,
  telemetry: { otlp_endpoint: string | null; service_name: string | null } = off
): Option.Option<TraceSettings> => Either.getOrThrow(traceSettings(telemetry, env))

const errorOf = (env: Record<string, string>, telemetry = off) => {
  const result = traceSettings(telemetry, env)
  if (Either.isRight(result)) throw new Error("expected a config error")
  return result.left
}

describe("trace settings", () => {
  it("nothing configured: no traces (no exporter is built)", () => {
    expect(settingsOf({})).toEqual(Option.none())
    expect(settingsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "  " })).toEqual(Option.none())
    expect(settingsOf({ OTEL_SERVICE_NAME: "x", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toEqual(Option.none())
  })

  it("the config key wins over the variables and gets /v1/traces appended, with protobuf and the default name", () => {
    const settings = settingsOf(
      { OTEL_EXPORTER_OTLP_ENDPOINT: "http://elsewhere:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://other:4318/v1/traces" },
      { otlp_endpoint: "http://collector:4318", service_name: null }
    )
    expect(settings).toEqual(Option.some({
      url: "http://collector:4318/v1/traces",
      serviceName: "hermes-gateway",
      headers: {},
      protocol: "http/protobuf",
      source: "telemetry.otlp_endpoint"
    }))
  })

  it("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as it is; OTEL_EXPORTER_OTLP_ENDPOINT is a base", () => {
    expect(Option.map(settingsOf({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://c:4318/custom", OTEL_EXPORTER_OTLP_ENDPOINT: "http://b" }), (s) => s.url))
      .toEqual(Option.some("https://c:4318/custom"))
    expect(Option.map(settingsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://b:4318/prefix/" }), (s) => s.url))
      .toEqual(Option.some("http://b:4318/prefix/v1/traces"))
  })

  it("a base that already ends in /v1/traces is not doubled", () => {
    expect(tracesUrl("http://c:4318/v1/traces/")).toBe("http://c:4318/v1/traces")
    expect(tracesUrl("http://c:4318")).toBe("http://c:4318/v1/traces")
  })

  it("service name: config, then OTEL_SERVICE_NAME, then service.name in OTEL_RESOURCE_ATTRIBUTES", () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c", OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=prod,service.name=from-attrs" }
    const name = (extra: Record<string, string>, configured: string | null = null) =>
      Option.map(settingsOf({ ...env, ...extra }, { otlp_endpoint: null, service_name: configured }), (s) => s.serviceName)
    expect(name({})).toEqual(Option.some("from-attrs"))
    expect(name({ OTEL_SERVICE_NAME: "from-env" })).toEqual(Option.some("from-env"))
    expect(name({ OTEL_SERVICE_NAME: "from-env" }, "from-config")).toEqual(Option.some("from-config"))
  })

  it("OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none turn traces off, even with the config key", () => {
    const configured = { otlp_endpoint: "http://collector:4318", service_name: null }
    expect(settingsOf({ OTEL_SDK_DISABLED: "TRUE" }, configured)).toEqual(Option.none())
    expect(settingsOf({ OTEL_TRACES_EXPORTER: "none" }, configured)).toEqual(Option.none())
    expect(Option.isSome(settingsOf({ OTEL_SDK_DISABLED: "false", OTEL_TRACES_EXPORTER: "otlp" }, configured))).toBe(true)
  })

  it("protocol: the traces variable over the general one; http/json and http/protobuf only", () => {
    const base = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c" }
    expect(Option.map(settingsOf({ ...base, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" }), (s) => s.protocol)).toEqual(Option.some("http/json"))
    expect(
      Option.map(settingsOf({ ...base, OTEL_EXPORTER_OTLP_PROTOCOL: "grpc", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json" }), (s) => s.protocol)
    ).toEqual(Option.some("http/json"))
    const error = errorOf({ ...base, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "grpc" })
    expect(error.message).toBe(
      `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "grpc" is not supported: the gateway sends OTLP over HTTP, use http/protobuf or http/json`
    )
    expect(error.exitCode).toBe(ExitCode.Config)
  })

  it("an endpoint that is not an http(s) URL is a config error naming its variable", () => {
    expect(errorOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" }).message)
      .toBe(`OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:// or https:// URL, got "collector:4318"`)
    expect(errorOf({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "ftp://c/v1/traces" }).message).toMatch(/^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: /)
  })

  it("headers: name=value pairs with URL-encoded values; the traces variable wins; a bad entry is named by position only", () => {
    expect(parseHeaders("api-key=s%20ecret, X-Tenant = a=b ,")).toEqual(Either.right({ "api-key": "s ecret", "x-tenant": "a=b" }))
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c", OTEL_EXPORTER_OTLP_HEADERS: "a=1", OTEL_EXPORTER_OTLP_TRACES_HEADERS: "b=2" }
    expect(Option.map(settingsOf(env), (s) => s.headers)).toEqual(Option.some({ b: "2" }))
    const bad = errorOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c", OTEL_EXPORTER_OTLP_HEADERS: "ok=1,secretvalue" })
    expect(bad.message).toBe("OTEL_EXPORTER_OTLP_HEADERS: entry 2 is not name=value with a valid header name")
    expect(bad.message).not.toContain("secretvalue")
    expect(errorOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c", OTEL_EXPORTER_OTLP_HEADERS: "k=%zz" }).message)
      .toBe("OTEL_EXPORTER_OTLP_HEADERS: the value of entry 1 (k) is not valid URL encoding")
  })
})
