import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { parse, stringify } from "yaml";
import { ErrorText, Link, NotAvailableNotice, Spinner, formatTime, relativeTime } from "../components/common";
import { Problem, YamlEditor } from "../components/YamlEditor";
import { entityIds, entitySignal, friendlyName } from "../lib/entities";
import { NotAvailable, callService, rest, status, ws } from "../lib/hub";
import { navigate, pathname, query } from "../lib/router";

export default function Automations() {
  const current = pathname();
  const entityId = current.startsWith("/automations/") ? decodeURIComponent(current.slice("/automations/".length)) : "";
  if (entityId === "new") return <AutomationDetail key="new" entityId="" />;
  return entityId ? <AutomationDetail key={entityId} entityId={entityId} /> : <AutomationList />;
}

const DRAFT_KEY = "hub.automation.draft";
const NEW_AUTOMATION = `alias: New automation
description: ""
triggers:
  - trigger: state
    entity_id: sensor.example
actions:
  - action: notify.notify
    data:
      message: Something happened
mode: single
`;

/** A new automation's id, as Home Assistant's editor makes them: the time in milliseconds. */
function newId(): string {
  return String(Date.now());
}

/** The entity of a saved automation: the one whose `id` attribute is itemId (when it appears). */
function entityOfItem(itemId: string): string | undefined {
  return entityIds.value.find((id) => id.startsWith("automation.") && entitySignal(id).value?.attributes?.id === itemId);
}

function AutomationList() {
  const ids = entityIds.value.filter((id) => id.startsWith("automation."));
  return (
    <section>
      <div class="page-head">
        <h1>Automations</h1>
        <div class="actions">
          <button
            type="button"
            class="primary"
            onClick={() => {
              sessionStorage.removeItem(DRAFT_KEY);
              navigate("/automations/new");
            }}
          >
            New automation
          </button>
        </div>
      </div>
      {ids.length === 0 ? (
        <p class="notice">No automations are loaded. Add them to automations.yaml and reload.</p>
      ) : (
        <div class="card table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Automation</th>
                <th scope="col">On</th>
                <th scope="col">Last triggered</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {ids.map((id) => (
                <AutomationRow key={id} entityId={id} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function AutomationRow(props: { entityId: string }) {
  const entity = entitySignal(props.entityId).value;
  const [busy, setBusy] = useState<string>("");
  const [error, setError] = useState<unknown>(null);
  if (!entity) return null;
  const on = entity.state === "on";
  const name = friendlyName(entity, props.entityId);
  async function act(label: string, service: string) {
    setBusy(label);
    setError(null);
    try {
      await callService("automation", service, {}, { entity_id: props.entityId });
    } catch (err) {
      setError(err);
    } finally {
      setBusy("");
    }
  }
  return (
    <tr data-entity-id={props.entityId}>
      <td>
        <Link href={`/automations/${props.entityId}`}>{name}</Link>
        <ErrorText error={error} />
      </td>
      <td>
        <button
          type="button"
          role="switch"
          aria-checked={on}
          aria-label={`${name} enabled`}
          class={`toggle${on ? " on" : ""}`}
          disabled={!!busy}
          onClick={() => act("toggle", on ? "turn_off" : "turn_on")}
        >
          <span class="knob" aria-hidden="true" />
        </button>
      </td>
      <td title={formatTime(entity.attributes.last_triggered)}>{relativeTime(entity.attributes.last_triggered)}</td>
      <td>
        <button type="button" class="secondary" disabled={!!busy} onClick={() => act("run", "trigger")}>
          {busy === "run" ? "Running…" : "Run now"}
        </button>
      </td>
    </tr>
  );
}

function AutomationDetail(props: { entityId: string }) {
  const isNew = props.entityId === "";
  const entity = entitySignal(props.entityId || "automation.__new__").value;
  const [original, setOriginal] = useState<string | null>(null);
  const [text, setText] = useState("");
  const [loadError, setLoadError] = useState<unknown>(null);
  const [editable, setEditable] = useState(true);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [checkState, setCheckState] = useState<"idle" | "checking" | "valid" | "invalid" | "unavailable">("idle");
  const [runError, setRunError] = useState<unknown>(null);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [saveState, setSaveState] = useState<"" | "saving" | "saved">("");
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [traceVersion, setTraceVersion] = useState(0);
  const [savedId, setSavedId] = useState<string>("");
  const [draftId] = useState(newId);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const itemId = isNew ? draftId : (entity?.attributes?.id as string) || props.entityId.split(".")[1];

  useEffect(() => {
    if (isNew) {
      const draft = sessionStorage.getItem(DRAFT_KEY) || NEW_AUTOMATION;
      setOriginal(draft);
      setText(draft);
      return;
    }
    if (status.value !== "connected" || !entity) return;
    const fromFile = entity.attributes?.id
      ? rest<Record<string, unknown>>("GET", `/api/config/automation/config/${encodeURIComponent(String(entity.attributes.id))}`)
      : Promise.reject(new Error("no id"));
    fromFile.then(
      (config) => {
        const { id: _id, ...rest } = config;
        const yamlText = stringify(rest);
        setOriginal(yamlText);
        setText(yamlText);
        setEditable(true);
      },
      () =>
        // Not in automations.yaml (a package, a folder, no id): show what runs, read-only.
        ws<{ config: unknown }>({ type: "automation/config", entity_id: props.entityId }).then(
          (result) => {
            const yamlText = stringify(result.config);
            setOriginal(yamlText);
            setText(yamlText);
            setEditable(false);
          },
          (err) => setLoadError(err),
        ),
    );
  }, [props.entityId, status.value, !!entity]);

  // After saving, follow the automation to its (maybe new) entity id.
  useEffect(() => {
    if (!savedId) return;
    const target = entityOfItem(savedId);
    if (target && target !== props.entityId) navigate(`/automations/${target}`, true);
  }, [savedId, entityIds.value]);

  async function check(yamlText: string) {
    setCheckState("checking");
    try {
      const result = await ws<{ valid: boolean; errors: Problem[] }>({ type: "frontend/automation/validate", yaml: yamlText });
      setProblems(result.errors);
      setCheckState(result.valid ? "valid" : "invalid");
    } catch (err) {
      setProblems([]);
      setCheckState(err instanceof NotAvailable ? "unavailable" : "idle");
    }
  }

  function onChange(next: string) {
    setText(next);
    setSaveState("");
    clearTimeout(timer.current);
    // Check after a pause in typing: every keystroke would flood the hub.
    timer.current = setTimeout(() => check(next), 500);
  }
  useEffect(() => () => clearTimeout(timer.current), []);

  async function save() {
    setSaveError(null);
    let config: unknown;
    try {
      config = parse(text);
    } catch (err) {
      setSaveError(err);
      return;
    }
    if (!config || typeof config !== "object" || Array.isArray(config)) {
      setSaveError(new Error("An automation is a mapping: alias, triggers, conditions, actions."));
      return;
    }
    setSaveState("saving");
    try {
      await rest("POST", `/api/config/automation/config/${encodeURIComponent(itemId)}`, config);
      setOriginal(text);
      setSaveState("saved");
      setSavedId(itemId);
      if (isNew) sessionStorage.removeItem(DRAFT_KEY);
    } catch (err) {
      setSaveState("");
      setSaveError(err);
    }
  }

  function duplicate() {
    const config = parse(text) as Record<string, unknown>;
    const copy = { ...config, alias: `${String(config?.alias ?? "Automation")} (copy)` };
    sessionStorage.setItem(DRAFT_KEY, stringify(copy));
    navigate("/automations/new");
  }

  async function remove() {
    setSaveError(null);
    try {
      await rest("DELETE", `/api/config/automation/config/${encodeURIComponent(itemId)}`);
      navigate("/automations");
    } catch (err) {
      setSaveError(err);
    }
  }

  async function run() {
    setRunError(null);
    try {
      await callService("automation", "trigger", { skip_condition: true }, { entity_id: props.entityId });
      setTraceVersion((v) => v + 1);
    } catch (err) {
      setRunError(err);
    }
  }

  const name = isNew ? "New automation" : entity ? friendlyName(entity, props.entityId) : props.entityId;
  return (
    <section class="stack">
      <p>
        <Link href="/automations">← All automations</Link>
      </p>
      <div class="page-head">
        <h1>{name}</h1>
        <div class="actions">
          {isNew ? null : (
            <>
              <button type="button" class="primary" onClick={run}>
                Run now
              </button>
              <button type="button" class="secondary" onClick={duplicate} disabled={original === null}>
                Duplicate
              </button>
              {editable ? (
                confirmDelete ? (
                  <button type="button" class="danger" onClick={remove}>
                    Really delete
                  </button>
                ) : (
                  <button type="button" class="secondary" onClick={() => setConfirmDelete(true)}>
                    Delete
                  </button>
                )
              ) : null}
            </>
          )}
        </div>
      </div>
      <ErrorText error={runError} />
      {entity && !isNew ? (
        <p class="muted">
          {entity.state === "on" ? "Enabled" : "Disabled"} · last triggered {relativeTime(entity.attributes.last_triggered)}
        </p>
      ) : null}
      <div class="card stack">
        <h2>Configuration</h2>
        {loadError ? (
          <ErrorText error={loadError} what="Reading an automation's configuration" />
        ) : original === null ? (
          <Spinner label="Loading configuration" />
        ) : (
          <>
            <YamlEditor value={original} onChange={onChange} problems={problems} label={`YAML of ${name}`} />
            <div class="row">
              {editable ? (
                <button type="button" class="primary" onClick={save} disabled={saveState === "saving"}>
                  {saveState === "saving" ? "Saving…" : "Save"}
                </button>
              ) : null}
              <button type="button" onClick={() => check(text)}>
                Check
              </button>
              <span role="status" data-testid="check-state" class={checkState === "invalid" ? "error" : "muted"}>
                {saveState === "saved"
                  ? "Saved to automations.yaml."
                  : checkState === "checking"
                    ? "Checking…"
                    : checkState === "valid"
                      ? "The hub accepts this automation."
                      : checkState === "invalid"
                        ? `${problems.length} problem${problems.length === 1 ? "" : "s"}`
                        : ""}
              </span>
            </div>
            <ErrorText error={saveError} />
            {checkState === "unavailable" ? <NotAvailableNotice what="Checking automations" /> : null}
            {problems.length ? (
              <ul class="problems" aria-label="Problems">
                {problems.map((problem, index) => (
                  <li key={index} data-testid="problem">
                    {problem.line ? `Line ${problem.line}: ` : ""}
                    {problem.message}
                  </li>
                ))}
              </ul>
            ) : null}
            {editable ? null : (
              <p class="muted">
                This automation is not in automations.yaml (it comes from a package, a folder, or has no id): edit it in its
                file, then{" "}
                <button type="button" class="link-button" onClick={() => callService("automation", "reload")}>
                  reload automations
                </button>
                .
              </p>
            )}
          </>
        )}
      </div>
      {/* Traces are kept by the automation's id, known once its entity has arrived. */}
      {isNew || !entity ? null : <Traces itemId={itemId} version={traceVersion} entityVersion={entity?.attributes?.last_triggered as string} />}
    </section>
  );
}

interface TraceSummary {
  run_id: string;
  state: string;
  script_execution?: string;
  timestamp: { start: string; finish: string | null };
  trigger?: string;
  error?: string;
}

function Traces(props: { itemId: string; version: number; entityVersion?: string }) {
  const [list, setList] = useState<TraceSummary[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const selected = query("run");
  useEffect(() => {
    if (status.value !== "connected") return;
    ws<TraceSummary[]>({ type: "trace/list", domain: "automation", item_id: props.itemId }).then(
      (result) => setList([...result].sort((a, b) => b.timestamp.start.localeCompare(a.timestamp.start))),
      (err) => setError(err),
    );
  }, [props.itemId, props.version, props.entityVersion, status.value]);

  return (
    <div class="card stack">
      <h2>Runs</h2>
      {error ? <ErrorText error={error} what="Traces" /> : null}
      {list === null && !error ? <Spinner label="Loading runs" /> : null}
      {list && list.length === 0 ? <p class="muted">No runs yet. Use “Run now” to try it.</p> : null}
      {list && list.length ? (
        <ul class="saved-list" aria-label="Runs">
          {list.map((run) => (
            <li key={run.run_id}>
              <span>
                {formatTime(run.timestamp.start)} · {run.script_execution || run.state}
                {run.trigger ? <span class="muted"> · {run.trigger}</span> : null}
              </span>
              <button
                type="button"
                aria-pressed={selected === run.run_id}
                onClick={() => navigate(`${pathname()}?run=${encodeURIComponent(run.run_id)}`)}
              >
                Open trace
              </button>
            </li>
          ))}
        </ul>
      ) : null}
      {selected ? <TraceView itemId={props.itemId} runId={selected} /> : null}
    </div>
  );
}

interface TraceStep {
  path: string;
  timestamp: string;
  result?: unknown;
  error?: string;
  changed_variables?: unknown;
}

function TraceView(props: { itemId: string; runId: string }) {
  const [trace, setTrace] = useState<any>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    // After a reload the page renders before the connection is up: wait for it.
    if (status.value !== "connected") return;
    setTrace(null);
    setError(null);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = () =>
      ws<any>({ type: "trace/get", domain: "automation", item_id: props.itemId, run_id: props.runId }).then((result) => {
        setTrace(result);
        // A run still going has more steps to come: look again shortly.
        if (result?.state === "running") timer = setTimeout(load, 500);
      }, setError);
    load();
    return () => clearTimeout(timer);
  }, [props.itemId, props.runId, status.value]);
  const steps = useMemo(() => {
    if (!trace?.trace) return [] as TraceStep[];
    const all: TraceStep[] = [];
    for (const [path, records] of Object.entries(trace.trace as Record<string, any[]>)) {
      for (const record of records) all.push({ ...record, path: record.path ?? path });
    }
    return all.sort((a, b) => String(a.timestamp).localeCompare(String(b.timestamp)));
  }, [trace]);
  if (error) return <ErrorText error={error} what="Traces" />;
  if (!trace) return <Spinner label="Loading trace" />;
  return (
    <section aria-label="Trace" data-testid="trace">
      <h3>
        Trace of {formatTime(trace.timestamp?.start)} — {trace.script_execution || trace.state}
      </h3>
      {trace.error ? <p class="error">{trace.error}</p> : null}
      <ol class="trace-steps">
        {steps.map((step, index) => (
          <li key={index} class={step.error ? "failed" : ""} data-testid="trace-step">
            <span class="path">
              {index + 1}. {step.path}
            </span>{" "}
            <span class="muted">{formatTime(step.timestamp)}</span>
            {step.error ? <p class="error">{step.error}</p> : null}
            {step.result !== undefined && step.result !== null ? <pre class="code">{stringify(step.result)}</pre> : null}
            {step.changed_variables ? (
              <details>
                <summary>Variables</summary>
                <pre class="code">{stringify(step.changed_variables)}</pre>
              </details>
            ) : null}
          </li>
        ))}
      </ol>
    </section>
  );
}
