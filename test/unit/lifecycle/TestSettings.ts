// The settings of a gateway life in unit tests: one-second budgets, a fixed identity, no adapter.
import * as Duration from "effect/Duration"
import type { GatewaySettings } from "../../../src/lifecycle/GatewaySettings.js"

export const testSettings: GatewaySettings = {
  budget: {
    drain: Duration.seconds(1),
    adapterConnect: Duration.seconds(1),
    adapterDisconnect: Duration.seconds(1),
    dbClose: Duration.seconds(1),
    markerTtl: Duration.seconds(60)
  },
  self: { pid: 4242, startTime: "777" },
  argv: [],
  adapters: [],
  supervisor: null,
  resumeWindow: Duration.hours(1),
  agentLabel: "test"
}
