// One renderer per manager, by the name `hermes gateway install --manager` takes.
import type { Manager, Renderer } from "./Definition.js"
import { renderDocker } from "./render/Docker.js"
import { renderKubernetes } from "./render/Kubernetes.js"
import { renderLaunchd } from "./render/Launchd.js"
import { renderRunit } from "./render/Runit.js"
import { renderS6 } from "./render/S6.js"
import { renderSupervisord } from "./render/Supervisord.js"
import { renderSystemdSystem, renderSystemdUser } from "./render/Systemd.js"

export const renderers: Record<Manager, Renderer> = {
  systemd: renderSystemdUser,
  "systemd-system": renderSystemdSystem,
  launchd: renderLaunchd,
  s6: renderS6,
  runit: renderRunit,
  supervisord: renderSupervisord,
  docker: renderDocker,
  kubernetes: renderKubernetes
}
