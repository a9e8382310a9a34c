// The gateway under a real, private s6 instance with its generated definition.
import { beforeAll } from "vitest"
import { assertBuilt } from "../harness.js"
import { defineConformance } from "./conformance.js"
import { s6 } from "./s6.js"

beforeAll(assertBuilt)

defineConformance(s6)
