import { callService } from "../lib/hub";
import { entityIds } from "../lib/entities";
import { itemsPage } from "./ConfigItems";

/** A script's id from its alias, as Home Assistant's editor makes it: "Warm up" -> warm_up. */
export function scriptId(alias: unknown, taken: (id: string) => boolean): string {
  const base =
    String(alias ?? "")
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "_")
      .replace(/^_+|_+$/g, "") || "script";
  let id = base;
  for (let n = 2; taken(id); n++) id = `${base}_${n}`;
  return id;
}

/** The script editor: scripts.yaml (a mapping id -> script) through Home Assistant's config API. */
export default itemsPage({
  domain: "script",
  title: "Scripts",
  noun: "script",
  base: "/scripts",
  file: "scripts.yaml",
  template: `alias: New script
description: ""
sequence:
  - action: notify.notify
    data:
      message: The script ran
mode: single
`,
  shape: "A script is a mapping: alias, fields, sequence, mode.",
  toggles: false,
  // script.turn_on starts the run and answers at once (a long delay does not hold the page).
  run: (entityId) => callService("script", "turn_on", {}, { entity_id: entityId }),
  // A script's entity is script.<its key in scripts.yaml>.
  itemIdOf: (entityId) => entityId.slice("script.".length),
  newId: (config) => scriptId(config.alias, (id) => entityIds.peek().includes(`script.${id}`)),
  entityOf: (itemId) => (entityIds.value.includes(`script.${itemId}`) ? `script.${itemId}` : undefined),
});
