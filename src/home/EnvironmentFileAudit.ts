// Doctor's check of `<home>/gateway.env`, the secrets file the generated service definitions load
// (bot token, API keys). The gateway never reads it, so nothing at start-up depends on it; but a
// secret readable by other users is a problem an operator wants named. It may be a link (like
// config.yaml, it is the operator's file), so the file it leads to is what is judged. Its owner
// may be the home's owner or root: a system unit's manager reads it as root before dropping privileges.
import * as fs from "node:fs"
import { environmentFilePath } from "./HomePaths.js"

const octal = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, "0")}`

/** What is wrong with the env file of the home `dir` owned by `owner`; none when it is absent. */
export const auditEnvironmentFile = (dir: string, owner: number): ReadonlyArray<string> => {
  const file = environmentFilePath(dir)
  let stat: fs.Stats
  try {
    stat = fs.statSync(file)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === "ENOENT") return []
    return [`${file} cannot be examined: ${(error as Error).message}`]
  }
  if (!stat.isFile()) return [`${file} is not a regular file: supervisors cannot load the gateway's secrets from it`]
  const problems: Array<string> = []
  if (stat.uid !== owner && stat.uid !== 0) {
    problems.push(`${file} is owned by uid ${stat.uid}, not by the home's owner (uid ${owner}) or root: that user can change the gateway's secrets`)
  }
  if ((stat.mode & 0o077) !== 0) {
    problems.push(`${file} has mode ${octal(stat.mode)}: other users may read the gateway's secrets (\`chmod 600 ${file}\`)`)
  }
  return problems
}
