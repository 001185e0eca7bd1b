import { useState } from "preact/hooks";
import { ItemForm, useItemForm } from "../components/ItemForm";
import { relativeTime } from "../components/common";
import { allEntities, entityIds, friendlyName } from "../lib/entities";
import { apiItemsPage } from "./ApiItems";

interface Scene {
  id: string;
  entity_id: string;
  name: string;
  icon: string | null;
  entities: Record<string, { state?: unknown; [key: string]: unknown }>;
  source: "yaml" | "created";
  editable: boolean;
  last_activated: string | null;
}

interface Row {
  entity_id: string;
  state: string;
}

function SceneSummary(props: { item: Scene }) {
  const scene = props.item;
  const count = Object.keys(scene.entities).length;
  return (
    <div>
      <h2>{scene.name}</h2>
      <p class="muted">
        {count} {count === 1 ? "entity" : "entities"} · {scene.source === "created" ? "made by scene.create" : "scenes.yaml"} · activated{" "}
        {relativeTime(scene.last_activated)}
      </p>
    </div>
  );
}

function SceneDetails(props: { item: Scene }) {
  return (
    <p class="muted entity-summary">
      {Object.entries(props.item.entities)
        .map(([id, target]) => `${friendlyName(allEntities()[id], id)}: ${String(target?.state ?? "")}`)
        .join(" · ")}
    </p>
  );
}

/** Scenes over /api/v1/scenes: scenes.yaml and scene.create, activated by every role but read-only. */
export default apiItemsPage<Scene>({
  title: "Scenes",
  noun: "scene",
  path: "/api/v1/scenes",
  empty: "No scenes yet. A scene sets several devices at once: make one with “New scene”.",
  Summary: SceneSummary,
  Details: SceneDetails,
  Form: (props) => <SceneForm scene={props.item} onDone={props.onDone} />,
  action: (scene) => ({ label: "Activate", suffix: "/activate", primary: true, done: `${scene.name} activated.` }),
});

function SceneForm(props: { scene: Scene | null; onDone: () => void }) {
  const editing = props.scene;
  const [name, setName] = useState(editing?.name ?? "");
  const [rows, setRows] = useState<Row[]>(
    editing ? Object.entries(editing.entities).map(([entity_id, t]) => ({ entity_id, state: String(t?.state ?? "") })) : [{ entity_id: "", state: "" }],
  );
  const form = useItemForm("/api/v1/scenes", editing, props.onDone);
  const { problems } = form;
  const ids = entityIds.value.filter((id) => !id.startsWith("scene.")).sort();

  function setRow(index: number, change: Partial<Row>) {
    setRows(rows.map((row, i) => (i === index ? { ...row, ...change } : row)));
  }

  function capture() {
    const states = allEntities();
    setRows(rows.map((row) => (states[row.entity_id] ? { ...row, state: states[row.entity_id].state } : row)));
  }

  function body() {
    const entities: Record<string, { state: string }> = {};
    for (const row of rows) if (row.entity_id) entities[row.entity_id] = { state: row.state };
    return { name: name.trim(), entities };
  }

  return (
    <ItemForm form={form} noun="scene" title={editing ? `Edit ${editing.name}` : "New scene"} name={name} onName={setName} body={body} onCancel={props.onDone}>
      <datalist id="scene-entity-ids">
        {ids.map((id) => (
          <option key={id} value={id}>
            {friendlyName(allEntities()[id], id)}
          </option>
        ))}
      </datalist>
      <fieldset class="blocks">
        <legend>Entities and the state each is set to</legend>
        {rows.map((row, index) => {
          const problem = problems[`/entities/${row.entity_id.replace(/~/g, "~0").replace(/\//g, "~1")}`];
          return (
            <div class="block-row scene-row" key={index}>
              <label>
                Entity
                <input list="scene-entity-ids" value={row.entity_id} aria-label={`Entity ${index + 1}`} required onInput={(e) => setRow(index, { entity_id: e.currentTarget.value.trim() })} />
              </label>
              <label>
                State
                <input value={row.state} aria-label={`State of entity ${index + 1}`} required onInput={(e) => setRow(index, { state: e.currentTarget.value })} />
              </label>
              <button type="button" class="secondary" aria-label={`Remove entity ${index + 1}`} onClick={() => setRows(rows.filter((_, i) => i !== index))}>
                Remove
              </button>
              {problem ? <span class="error block-error">{problem}</span> : null}
            </div>
          );
        })}
        {problems["/entities"] ? <p class="error">{problems["/entities"]}</p> : null}
        <div class="actions">
          <button type="button" class="secondary" onClick={() => setRows([...rows, { entity_id: "", state: "" }])}>
            Add entity
          </button>
          <button type="button" class="secondary" onClick={capture}>
            Use current states
          </button>
        </div>
      </fieldset>
    </ItemForm>
  );
}
