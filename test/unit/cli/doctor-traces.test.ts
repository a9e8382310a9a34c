// doctor on tracing: nothing when off, where spans go (without credentials) when on, and the same
// problem `run` would exit 78 on.
import { describe, expect, it } from "@effect/vitest"
import { traceFindings } from "../../../src/cli/DoctorTraces.js"

const off = { otlp_endpoint: null, service_name: null }

describe("doctor: traces", () => {
  it("says nothing when no endpoint is configured", () => {
    expect(traceFindings(off, {})).toEqual([])
  })

  it("names the endpoint without the credentials in it, and where it came from", () => {
    expect(traceFindings(off, { OTEL_EXPORTER_OTLP_ENDPOINT: "https://user:s3cret@otel.example.com" })).toEqual([{
      verdict: "ok",
      check: "traces",
      detail: "spans go to https://otel.example.com/v1/traces (OTLP http/protobuf, service hermes-gateway; from OTEL_EXPORTER_OTLP_ENDPOINT)"
    }])
  })

  it("fails on a variable `run` would refuse", () => {
    expect(traceFindings(off, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toMatchObject([
      { verdict: "fail", check: "traces", detail: expect.stringMatching(/^OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" is not supported/) }
    ])
  })
})
