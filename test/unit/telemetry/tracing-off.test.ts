// Tracing off costs nothing: the life runs as it is (no exporter, no timer), and the span helpers
// run their work without opening any span.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { beginShutdownSpan, startupReady, withPhaseSpan } from "../../../src/telemetry/LifeSpans.js"
import { withTracing } from "../../../src/telemetry/Tracing.js"

const off = { otlp_endpoint: null, service_name: null }

describe("tracing off", () => {
  it("without an endpoint the life is returned untouched: no layer is built around it", () => {
    const life = Effect.succeed(1)
    expect(withTracing(off, {})(life)).toBe(life)
    expect(withTracing({ otlp_endpoint: "http://c:4318", service_name: null }, { OTEL_SDK_DISABLED: "true" })(life)).toBe(life)
  })

  it.effect("the span helpers run the work and open no span", () =>
    Effect.gen(function*() {
      yield* startupReady
      yield* beginShutdownSpan("planned")
      const seen = yield* withPhaseSpan("drain")(Effect.map(Effect.option(Effect.currentSpan), Option.some))
      expect(seen).toEqual(Option.some(Option.none()))
    }))
})
