// The program behind the entry point (hermes.ts): loaded once signals are held and the compile
// cache is on, as a chunk of its own so that it is compiled through that cache.
import { main } from "../cli/Cli.js"
import { exitTeardown, runMain } from "../lifecycle/Runner.js"
import { guardStandardStreams } from "../logging/StreamGuard.js"

guardStandardStreams()
runMain(main(process.argv), { disableErrorReporting: true, disablePrettyLogger: true, teardown: exitTeardown })
