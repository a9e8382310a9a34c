// Text that came from clients (a session's `user`, a message) made safe to print in a human
// rendering: control characters become visible escapes, so a client cannot retitle the operator's
// terminal, clear the screen or forge lines. The --json renderings print the exact text instead.
//
// Always applied to the human renderings, TTY or not: a pipe into `less -R`, a file later `cat`ed
// or a log collector's viewer is a terminal too, and the human format was never byte-exact.

/**
 * C0 controls (tab and newline included), DEL, C1 controls (U+0080-U+009F: some terminals read
 * U+009B as CSI), and the bidirectional overrides and isolates that reorder what is displayed.
 */
const controls = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g

const named: Readonly<Record<string, string>> = { "\t": "\\t", "\n": "\\n", "\r": "\\r" }

const escapeOne = (character: string): string => {
  const code = character.charCodeAt(0)
  return named[character] ??
    (code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`)
}

/** One line of text, every control character shown as an escape (`\x1b`, `\t`, `\u202e`). */
export const escapeControls = (text: string): string => text.replace(controls, escapeOne)

/**
 * Multi-line text (a message) keeps its line breaks, but every line after the first is indented,
 * so a message cannot print a line that looks like a record of its own.
 */
export const escapeMultiline = (text: string, indent = "    "): string =>
  text.split("\n").map(escapeControls).join(`\n${indent}`)
