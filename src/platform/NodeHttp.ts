// Node's http module, loaded with `require` instead of an ES import. An ES import of a builtin
// builds its namespace from every export, getters included, and on Node 24 node:http's `WebSocket`
// getter loads undici, which loads http2 and tls, which starts parsing the bundled and extra CA
// certificates on a thread of its own: ~20 ms of start-up and 13 MB of memory for a gateway that
// never opens a WebSocket, and ~1 ms at exit freeing the certificates (BENCHMARKS.md, issue 13).
// `require` reads no getter. Types come from `import type`, which leaves no import behind.
import { createRequire } from "node:module"

export const nodeHttp: typeof import("node:http") = createRequire(import.meta.url)("node:http")
