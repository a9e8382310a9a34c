// The file name of the SessionDB worker's bundle, beside dist/hermes.js (package.json "build"
// writes it; the generated Dockerfile copies it next to the gateway's bundle).
export const sessionDbWorkerFile = "session-db-worker.js"
