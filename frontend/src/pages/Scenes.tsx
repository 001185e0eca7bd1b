import { useState } from "preact/hooks";
import { ErrorText, relativeTime } from "../components/common";
import { allEntities, entityIds, friendlyName } from "../lib/entities";
import { fieldErrors, rest } from "../lib/hub";
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
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const problems = fieldErrors(error);
  const ids = entityIds.value.filter((id) => !id.startsWith("scene.")).sort();

  function setRow(index: number, change: Partial<Row>) {
    setRows(rows.map((row, i) => (i === index ? { ...row, ...change } : row)));
  }

  function capture() {
    const states = allEntities();
    setRows(rows.map((row) => (states[row.entity_id] ? { ...row, state: states[row.entity_id].state } : row)));
  }

  async function submit(event: Event) {
    event.preventDefault();
    setError(null);
    setBusy(true);
    const entities: Record<string, { state: string }> = {};
    for (const row of rows) if (row.entity_id) entities[row.entity_id] = { state: row.state };
    try {
      if (editing) await rest("PUT", `/api/v1/scenes/${encodeURIComponent(editing.id)}`, { name: name.trim(), entities });
      else await rest("POST", "/api/v1/scenes", { name: name.trim(), entities });
      props.onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="card stack" onSubmit={submit} aria-labelledby="scene-form-title">
      <h2 id="scene-form-title">{editing ? `Edit ${editing.name}` : "New scene"}</h2>
      <label>
        Name
        <input name="scene-name" required value={name} aria-invalid={problems["/name"] ? "true" : undefined} onInput={(e) => setName(e.currentTarget.value)} />
        {problems["/name"] ? <span class="error">{problems["/name"]}</span> : null}
      </label>
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
      {Object.keys(problems).length === 0 ? <ErrorText error={error} /> : <p class="error" role="alert">Please fix the fields marked above.</p>}
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Saving…" : "Save scene"}
        </button>
        <button type="button" class="secondary" onClick={props.onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}
