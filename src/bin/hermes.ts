#!/usr/bin/env node
// Entry point: our runner, the command line, nothing else.
import { main } from "../cli/Cli.js"
import { exitTeardown, runMain } from "../lifecycle/Runner.js"

runMain(main(process.argv), { disableErrorReporting: true, disablePrettyLogger: true, teardown: exitTeardown })
