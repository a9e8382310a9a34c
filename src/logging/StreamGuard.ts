// A log sink that goes away (journald restarted, a pipe closed by a log shipper, `| head -1`) must
// never take the process down. Node reports a write to a closed pipe as an 'error' event on the
// stream, emitted after the write returned; unhandled, it ends the process with code 1 and no
// shutdown record. Here those errors are swallowed and counted, so the gateway keeps serving and
// still writes its records to the home (which is where they matter).

let droppedStderrWrites = 0
let droppedStdoutWrites = 0
let guarded = false

/** Installs the error handlers on stdout and stderr once; they stay for the life of the process. */
export const guardStandardStreams = (): void => {
  if (guarded) return
  guarded = true
  process.stderr.on("error", () => {
    droppedStderrWrites++
  })
  process.stdout.on("error", () => {
    droppedStdoutWrites++
  })
}

/** Writes to stderr (log lines, one-line reports) that did not reach it. */
export const droppedLogWrites = (): number => droppedStderrWrites

/** Writes to stdout (command output) that did not reach it. */
export const droppedOutputWrites = (): number => droppedStdoutWrites
