// Imported first by the entry point, so that these are the first statements of the bundle that
// run: from here on no signal can kill the process by Node's default action.
import { installSignalHub, startsGateway } from "../lifecycle/SignalHub.js"

const hub = installSignalHub()
if (startsGateway(process.argv.slice(2))) hub.holdForGateway()
