// The gateway as a Kubernetes pod's container (node as PID 1) under a runner that does what the
// kubelet does with the generated Deployment: preStop hook, SIGTERM, grace period, SIGKILL, and
// restartPolicy Always with CrashLoopBackOff.
import { beforeAll } from "vitest"
import { assertBuilt } from "../harness.js"
import { defineConformance } from "./conformance.js"
import { kubernetes } from "./container.js"

beforeAll(assertBuilt)

defineConformance(kubernetes)
