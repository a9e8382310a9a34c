// The telemetry section of config.yaml: off by default, an OTLP endpoint must be an http(s) URL
// (exit 78 naming the key or its variable), an empty value means "not set".
import { describe, expect, it } from "@effect/vitest"
import { accepted, rejected } from "./ConfigFixture.js"

describe("telemetry config", () => {
  it("defaults to no endpoint and no service name: traces are left to the OTEL_* variables", () => {
    expect(accepted(undefined).telemetry).toEqual({ otlp_endpoint: null, service_name: null })
  })

  it("takes an endpoint and a name from the file or from HERMES_TELEMETRY_*", () => {
    expect(accepted("telemetry:\n  otlp_endpoint: http://collector:4318\n  service_name: edge-gw\n").telemetry)
      .toEqual({ otlp_endpoint: "http://collector:4318", service_name: "edge-gw" })
    expect(accepted(undefined, { HERMES_TELEMETRY_OTLP_ENDPOINT: "https://otel.example.com" }).telemetry.otlp_endpoint)
      .toBe("https://otel.example.com")
    expect(accepted("telemetry:\n  otlp_endpoint: http://c:4318\n", { HERMES_TELEMETRY_OTLP_ENDPOINT: "" }).telemetry.otlp_endpoint)
      .toBeNull()
  })

  it("an endpoint that is not an http(s) URL exits 78 naming the key, or the variable", () => {
    const fromFile = rejected("telemetry:\n  otlp_endpoint: collector:4318\n")
    expect(fromFile.exitCode).toBe(78)
    expect(fromFile.message).toBe(`config.yaml: telemetry.otlp_endpoint: must be an http:// or https:// URL, got "collector:4318"`)
    const fromEnv = rejected(undefined, { HERMES_TELEMETRY_OTLP_ENDPOINT: "4318" })
    expect(fromEnv.message).toMatch(/^HERMES_TELEMETRY_OTLP_ENDPOINT: /)
    expect(rejected("telemetry:\n  otlp_endpoint: 12\n").message).toMatch(/^config\.yaml: telemetry\.otlp_endpoint: /)
  })
})
