import { callService } from "../lib/hub";
import { entityIds, entitySignal } from "../lib/entities";
import { itemsPage } from "./ConfigItems";

/** The automation editor: automations.yaml through Home Assistant's config API. */
export default itemsPage({
  domain: "automation",
  title: "Automations",
  noun: "automation",
  base: "/automations",
  file: "automations.yaml",
  template: `alias: New automation
description: ""
triggers:
  - trigger: state
    entity_id: sensor.example
actions:
  - action: notify.notify
    data:
      message: Something happened
mode: single
`,
  shape: "An automation is a mapping: alias, triggers, conditions, actions.",
  validate: "frontend/automation/validate",
  toggles: true,
  run: (entityId, fromPage) =>
    callService("automation", "trigger", fromPage ? { skip_condition: true } : {}, { entity_id: entityId }),
  itemIdOf: (entityId) => {
    const id = entitySignal(entityId).peek()?.attributes?.id;
    return id ? String(id) : undefined;
  },
  // As Home Assistant's editor makes them: the time in milliseconds.
  newId: () => String(Date.now()),
  entityOf: (itemId) =>
    entityIds.value.find((id) => id.startsWith("automation.") && entitySignal(id).value?.attributes?.id === itemId),
});
