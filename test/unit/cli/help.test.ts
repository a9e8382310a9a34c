// Our --help (rendered from the command tree) and the checks made before @effect/cli parses.
import { describe, expect, it } from "@effect/vitest"
import { commands, usageText } from "../../../src/cli/Cli.js"
import { closest, readCommandLine } from "../../../src/cli/CommandLine.js"
import type { CommandNode } from "../../../src/cli/CommandTree.js"
import { helpWidth, renderHelp, wrap } from "../../../src/cli/HelpText.js"

const argv = (...words: Array<string>) => ["node", "hermes.js", ...words]

const helpFor = (...words: Array<string>): string => {
  const line = readCommandLine(commands, argv(...words, "--help"))
  if (line._tag !== "Help") throw new Error(`expected help, got ${JSON.stringify(line)}`)
  return renderHelp(line.path)
}

/** Every command's path from the root, found by walking the tree (new subcommands included). */
const allPaths = (node: CommandNode, prefix: ReadonlyArray<string> = []): Array<Array<string>> => {
  const here = [...prefix, node.name]
  return [here, ...node.children.flatMap((child) => allPaths(child, here))]
}

describe("help", () => {
  const everyHelp = allPaths(commands).map((path) => ({ path, text: helpFor(...path.slice(1)) }))

  it("covers every command, sessions' subcommands included", () => {
    const names = everyHelp.map(({ path }) => path.join(" "))
    expect(names).toContain("hermes gateway run")
    expect(names).toContain("hermes gateway sessions show")
    expect(everyHelp.length).toBeGreaterThan(12)
  })

  it("every line fits 100 columns, with no @effect/cli boilerplate or colour", () => {
    for (const { path, text } of everyHelp) {
      for (const line of text.split("\n")) expect(line.length, `${path.join(" ")}: ${line}`).toBeLessThanOrEqual(helpWidth)
      expect(text).not.toContain("This setting is optional")
      expect(text).not.toContain("--wizard")
      expect(text).not.toContain("--completions")
      expect(text).not.toContain("\u001b")
    }
  })

  it("`run --help` starts with its usage line and lists --home and --log-level", () => {
    const text = helpFor("gateway", "run")
    expect(text.split("\n")[0]).toBe("Usage: hermes gateway run [options]")
    expect(text).toMatch(/^ {2}--home DIR +state directory/m)
    expect(text).toMatch(/^ {2}--log-level LEVEL +/m)
  })

  it("a group lists its commands by their first sentence; sessions shows both of its forms", () => {
    const gateway = helpFor("gateway")
    expect(gateway.split("\n")[0]).toBe("Usage: hermes gateway <command> [options]")
    expect(gateway).toMatch(/^ {2}run +Run the gateway in the foreground until stopped$/m)
    expect(gateway).toMatch(/^ {2}stop +Stop the running gateway$/m)
    const sessions = helpFor("gateway", "sessions")
    expect(sessions).toContain("Usage: hermes gateway sessions [options]\n       hermes gateway sessions <command> [options]")
    expect(sessions).toMatch(/^ {2}show +/m)
    expect(helpFor("gateway", "sessions", "show").split("\n")[0]).toBe("Usage: hermes gateway sessions show [options] <ID|KEY>")
  })

  it("required options appear in the usage line, choices and defaults in the description", () => {
    const install = helpFor("gateway", "install")
    expect(install.split("\n")[0]).toBe("Usage: hermes gateway install --manager MANAGER [options]")
    expect(install).toMatch(/\(one of: systemd,\s+systemd-system,/)
    expect(install).toMatch(/--name NAME +unit, program, label or resource name \(default: hermes-gateway\)/)
  })

  it("help wins wherever -h or --help stands, even after options with values", () => {
    expect(readCommandLine(commands, argv("gateway", "stop", "--home", "/x", "-h"))).toMatchObject({ _tag: "Help" })
    const line = readCommandLine(commands, argv("gateway", "sessions", "--home", "show", "--help"))
    expect(line._tag === "Help" && line.path.map((n) => n.name)).toEqual(["hermes", "gateway", "sessions"])
  })

  it("wraps words without breaking them", () => {
    expect(wrap("aaa bbb ccc", 7)).toEqual(["aaa bbb", "ccc"])
    expect(wrap("averylongword x", 4)).toEqual(["averylongword", "x"])
  })
})

describe("unknown and missing commands", () => {
  it("names what was typed and suggests the closest verb", () => {
    expect(readCommandLine(commands, argv("gateway", "rnu"))).toEqual({ _tag: "Usage", message: "unknown command 'rnu'; did you mean 'run'?" })
    expect(readCommandLine(commands, argv("gateway", "stauts", "--json"))).toMatchObject({ message: "unknown command 'stauts'; did you mean 'status'?" })
    expect(readCommandLine(commands, argv("gateway", "sessions", "shwo", "1"))).toMatchObject({ message: "unknown command 'shwo'; did you mean 'show'?" })
    expect(readCommandLine(commands, argv("run"))).toMatchObject({ message: "unknown command 'run'; did you mean 'gateway run'?" })
    expect(readCommandLine(commands, argv("gateway", "frobnicate"))).toMatchObject({
      message: "unknown command 'frobnicate'; run 'hermes gateway --help' to list the commands"
    })
  })

  it("an unknown option is named with the closest one; an option missing its value says so", () => {
    expect(readCommandLine(commands, argv("gateway", "run", "--hmoe", "/x"))).toEqual({ _tag: "Usage", message: "unknown option '--hmoe'; did you mean '--home'?" })
    expect(readCommandLine(commands, argv("gateway", "status", "--zzz"))).toMatchObject({ message: expect.stringContaining("unknown option '--zzz'") })
    expect(readCommandLine(commands, argv("gateway", "report", "--last"))).toEqual({ _tag: "Usage", message: "--last needs a value" })
    // Options of a group and of its verb may come on either side of the verb.
    expect(readCommandLine(commands, argv("gateway", "sessions", "--json", "show", "--home", "/h", "ID"))).toMatchObject({ _tag: "Parse" })
    expect(readCommandLine(commands, argv("gateway", "stop", "--mark-only", "--pid=12"))).toMatchObject({ _tag: "Parse" })
  })

  it("@effect/cli's --wizard and --completions are unknown options like any other; --version stays", () => {
    for (const words of [["gateway", "run", "--wizard"], ["--wizard"], ["gateway", "status", "--completions", "bash"], ["gateway", "--completions=zsh"], ["--completions", "bash"]]) {
      expect(readCommandLine(commands, argv(...words)), words.join(" ")).toMatchObject({
        _tag: "Usage",
        message: expect.stringMatching(/^unknown option '--(wizard|completions)'/)
      })
    }
    expect(readCommandLine(commands, argv("gateway", "run", "--version"))).toEqual({ _tag: "Version" })
    // An option some verb knows, placed before a mistyped verb, leaves the verb to blame.
    expect(readCommandLine(commands, argv("gateway", "--json", "rnu"))).toMatchObject({ message: "unknown command 'rnu'; did you mean 'run'?" })
  })

  it("a group without a verb is a usage error", () => {
    expect(readCommandLine(commands, argv("gateway"))).toMatchObject({ _tag: "Usage", message: expect.stringContaining("'hermes gateway' needs a command") })
  })

  it("closest: transpositions and prefixes count, far-off words do not", () => {
    expect(closest("rnu", ["run", "stop"])).toBe("run")
    expect(closest("resta", ["restart", "report"])).toBe("restart")
    expect(closest("xyz", ["run", "stop"])).toBeUndefined()
  })
})

describe("--log-level", () => {
  it("is taken out of the words @effect/cli parses, in either spelling", () => {
    expect(readCommandLine(commands, argv("gateway", "run", "--log-level", "debug", "--home", "/h"))).toEqual({
      _tag: "Parse",
      argv: argv("gateway", "run", "--home", "/h"),
      logLevel: "debug"
    })
    expect(readCommandLine(commands, argv("--log-level=warn", "gateway", "status"))).toMatchObject({ logLevel: "warning" })
  })
  it("an unknown level is a usage error naming it", () => {
    expect(readCommandLine(commands, argv("gateway", "run", "--log-level", "loud"))).toMatchObject({
      _tag: "Usage",
      message: expect.stringContaining("unknown log level 'loud'")
    })
  })
})

describe("@effect/cli's errors", () => {
  it("one plain line each, in correct English", () => {
    expect(usageText("\u001b[31m'abc' is not a integer\u001b[0m\n")).toBe("hermes: 'abc' is not an integer\n")
    expect(usageText("Missing argument <ID>")).toBe("hermes: missing argument <ID>\n")
  })
})
