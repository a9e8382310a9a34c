// How a literal string is spelled in each definition syntax so that its manager reads back exactly
// that string: POSIX sh, systemd unit lines, XML text, supervisord values, YAML scalars.

const shellSafe = /^[A-Za-z0-9_/.,:@%+=-]+$/

/** One POSIX sh word (also right for Python's shlex): bare when safe, else single-quoted, ' as '\''. */
export const shellWord = (value: string): string =>
  shellSafe.test(value) ? value : `'${value.replace(/'/g, () => `'\\''`)}'`

export const shellCommand = (words: ReadonlyArray<string>): string => words.map(shellWord).join(" ")

/** systemd expands `%` specifiers in nearly every setting; `%%` is a literal percent sign. */
const systemdPercent = (value: string): string => value.replace(/%/g, () => "%%")

/** systemd splits on whitespace, honours quotes and C escapes (backslash), even outside quotes. */
const systemdQuoted = (value: string): string =>
  /^[A-Za-z0-9_/.,:@%+=$-]+$/.test(value) ? value : `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`

/**
 * One word of an `Exec*=` command line. `$` is doubled because systemd substitutes `$VAR` and
 * `${VAR}` there; use this only for literals, never for a deliberate `${MAINPID}`.
 */
export const systemdExecWord = (value: string): string =>
  systemdQuoted(systemdPercent(value).replace(/\$/g, () => "$$"))

/**
 * The executable of an `Exec*=` line: systemd substitutes no variables there (`$$` would stay two
 * dollar signs) and refuses quotes and backslashes in it outright (see inputProblems).
 */
export const systemdExecutable = (value: string): string => systemdQuoted(systemdPercent(value))

export const systemdExecLine = ([executable, ...args]: readonly [string, ...Array<string>]): string =>
  [systemdExecutable(executable), ...args.map(systemdExecWord)].join(" ")

/** One `NAME=value` word of `Environment=`: no `$` expansion happens there, but specifiers and escapes do. */
export const systemdAssignment = (name: string, value: string): string =>
  systemdQuoted(systemdPercent(`${name}=${value}`))

/** A free-text value such as `Description=`: only specifiers matter. */
export const systemdText = systemdPercent

export const xmlText = (value: string): string =>
  value.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&apos;" })[c]!)

/** supervisord expands `%(name)s` in its values with Python's `%` operator: `%%` is a literal percent sign. */
export const supervisordPercent = (value: string): string => value.replace(/%/g, () => "%%")

/** `command=`: supervisord splits it with shlex (POSIX rules) and execs the result; no shell runs. */
export const supervisordCommand = (words: ReadonlyArray<string>): string => supervisordPercent(shellCommand(words))

/** A value of `environment=KEY="value",...`: double-quoted for shlex, which honours \" and \\ there. */
export const supervisordEnvValue = (value: string): string =>
  supervisordPercent(`"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`)

/** docker compose substitutes `$VAR` and `${VAR}` in every value; `$$` is a literal dollar sign. */
export const composeLiteral = (value: string): string => value.replace(/\$/g, () => "$$")

/** JSON strings are valid YAML double-quoted scalars, and they escape everything YAML needs. */
export const yamlString = (value: string): string => JSON.stringify(value)
