#!/usr/bin/env node
// Entry point: signal listeners first (before the heavy modules are evaluated), then our runner
// and the command line.
import "./EarlySignals.js"
import { main } from "../cli/Cli.js"
import { exitTeardown, runMain } from "../lifecycle/Runner.js"
import { guardStandardStreams } from "../logging/StreamGuard.js"

guardStandardStreams()
runMain(main(process.argv), { disableErrorReporting: true, disablePrettyLogger: true, teardown: exitTeardown })
