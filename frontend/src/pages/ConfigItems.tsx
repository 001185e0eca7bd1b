import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { parse, stringify } from "yaml";
import { ErrorText, Link, NotAvailableNotice, Spinner, formatTime, relativeTime } from "../components/common";
import { Problem, YamlEditor } from "../components/YamlEditor";
import { entityIds, entitySignal, friendlyName } from "../lib/entities";
import { NotAvailable, callService, rest, status, ws } from "../lib/hub";
import { canControl, canManage } from "../lib/roles";
import { navigate, pathname, query } from "../lib/router";

/**
 * What differs between the editors of automations and scripts: everything else (list, YAML editor,
 * save through Home Assistant's config API, duplicate, delete, run, traces) is one page.
 */
export interface ItemKind {
  /** The domain in entity ids, the config API and traces. */
  domain: "automation" | "script";
  /** "Automations": the page's title. */
  title: string;
  /** "automation": in sentences. */
  noun: string;
  /** The page's path. */
  base: string;
  /** The file the config API writes. */
  file: string;
  /** A new item's YAML. */
  template: string;
  /** What an item is, for a document that is not a mapping. */
  shape: string;
  /** The WebSocket command that checks YAML as it is typed, where the hub has one. */
  validate?: string;
  /** Automations can be switched on and off. */
  toggles: boolean;
  /** Start one now, from its page (skipping conditions) or from the list. */
  run: (entityId: string, fromPage: boolean) => Promise<unknown>;
  /** The id an item is saved under, from its entity (undefined when not known yet). */
  itemIdOf: (entityId: string) => string | undefined;
  /** A new item's id, from its configuration. */
  newId: (config: Record<string, unknown>) => string;
  /** The entity a saved item (by id) appears as, once the hub has reloaded it. */
  entityOf: (itemId: string) => string | undefined;
}

/** The list and the editor of a kind, on /<base> and /<base>/<entity_id> (deep links survive a reload). */
export function itemsPage(kind: ItemKind) {
  return function ItemsPage() {
    const current = pathname();
    const prefix = `${kind.base}/`;
    const entityId = current.startsWith(prefix) ? decodeURIComponent(current.slice(prefix.length)) : "";
    if (entityId === "new") return <ItemDetail key="new" kind={kind} entityId="" />;
    return entityId ? <ItemDetail key={entityId} kind={kind} entityId={entityId} /> : <ItemList kind={kind} />;
  };
}

function capitalized(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

function draftKey(kind: ItemKind): string {
  return `hub.${kind.domain}.draft`;
}

function ItemList(props: { kind: ItemKind }) {
  const { kind } = props;
  const ids = entityIds.value.filter((id) => id.startsWith(`${kind.domain}.`));
  const plural = kind.title.toLowerCase();
  return (
    <section>
      <div class="page-head">
        <h1>{kind.title}</h1>
        <div class="actions">
          {canManage.value ? (
            <button
              type="button"
              class="primary"
              onClick={() => {
                sessionStorage.removeItem(draftKey(kind));
                navigate(`${kind.base}/new`);
              }}
            >
              New {kind.noun}
            </button>
          ) : null}
        </div>
      </div>
      {ids.length === 0 ? (
        <p class="notice">
          No {plural} are loaded. Create one here, or add them to {kind.file} and reload.
        </p>
      ) : (
        <div class="card table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{capitalized(kind.noun)}</th>
                <th scope="col">{kind.toggles ? "On" : "Running"}</th>
                <th scope="col">Last triggered</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {ids.map((id) => (
                <ItemRow key={id} kind={kind} entityId={id} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function ItemRow(props: { kind: ItemKind; entityId: string }) {
  const { kind } = props;
  const entity = entitySignal(props.entityId).value;
  const [busy, setBusy] = useState<string>("");
  const [error, setError] = useState<unknown>(null);
  if (!entity) return null;
  const on = entity.state === "on";
  const name = friendlyName(entity, props.entityId);
  async function act(label: string, action: () => Promise<unknown>) {
    setBusy(label);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err);
    } finally {
      setBusy("");
    }
  }
  return (
    <tr data-entity-id={props.entityId}>
      <td>
        <Link href={`${kind.base}/${props.entityId}`}>{name}</Link>
        <ErrorText error={error} />
      </td>
      <td>
        {kind.toggles && !canControl.value ? (
          on ? "On" : <span class="muted">Off</span>
        ) : kind.toggles ? (
          <button
            type="button"
            role="switch"
            aria-checked={on}
            aria-label={`${name} enabled`}
            class={`toggle${on ? " on" : ""}`}
            disabled={!!busy}
            onClick={() =>
              act("toggle", () => callService(kind.domain, on ? "turn_off" : "turn_on", {}, { entity_id: props.entityId }))
            }
          >
            <span class="knob" aria-hidden="true" />
          </button>
        ) : on ? (
          "Running"
        ) : (
          <span class="muted">Idle</span>
        )}
      </td>
      <td title={formatTime(entity.attributes.last_triggered)}>{relativeTime(entity.attributes.last_triggered)}</td>
      <td>
        {canControl.value ? (
          <button type="button" class="secondary" disabled={!!busy} onClick={() => act("run", () => kind.run(props.entityId, false))}>
            {busy === "run" ? "Running…" : "Run now"}
          </button>
        ) : null}
      </td>
    </tr>
  );
}

function ItemDetail(props: { kind: ItemKind; entityId: string }) {
  const { kind } = props;
  const isNew = props.entityId === "";
  const entity = entitySignal(props.entityId || `${kind.domain}.__new__`).value;
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
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const knownId = isNew ? undefined : kind.itemIdOf(props.entityId);

  useEffect(() => {
    if (isNew) {
      const draft = sessionStorage.getItem(draftKey(kind)) || kind.template;
      setOriginal(draft);
      setText(draft);
      return;
    }
    if (status.value !== "connected" || !entity) return;
    const fromFile = knownId
      ? rest<Record<string, unknown>>("GET", `/api/config/${kind.domain}/config/${encodeURIComponent(knownId)}`)
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
        // Not in the managed file (a package, a folder, no id): show what runs, read-only.
        ws<{ config: unknown }>({ type: `${kind.domain}/config`, entity_id: props.entityId }).then(
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

  // After saving, follow the item to its (maybe new) entity id.
  useEffect(() => {
    if (!savedId) return;
    const target = kind.entityOf(savedId);
    if (target && target !== props.entityId) navigate(`${kind.base}/${target}`, true);
  }, [savedId, entityIds.value]);

  async function check(yamlText: string) {
    if (!kind.validate) return;
    setCheckState("checking");
    try {
      const result = await ws<{ valid: boolean; errors: Problem[] }>({ type: kind.validate, yaml: yamlText });
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
    if (!kind.validate) return;
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
      setSaveError(new Error(kind.shape));
      return;
    }
    const itemId = knownId ?? kind.newId(config as Record<string, unknown>);
    setSaveState("saving");
    try {
      await rest("POST", `/api/config/${kind.domain}/config/${encodeURIComponent(itemId)}`, config);
      setOriginal(text);
      setSaveState("saved");
      setProblems([]);
      setSavedId(itemId);
      if (isNew) sessionStorage.removeItem(draftKey(kind));
    } catch (err) {
      setSaveState("");
      setSaveError(err);
      // The hub names file:line for each problem: mark those lines that are in this item.
      setProblems(savedProblems(err, text));
    }
  }

  function duplicate() {
    const config = parse(text) as Record<string, unknown>;
    const copy = { ...config, alias: `${String(config?.alias ?? capitalized(kind.noun))} (copy)` };
    sessionStorage.setItem(draftKey(kind), stringify(copy));
    navigate(`${kind.base}/new`);
  }

  async function remove() {
    if (!knownId) return;
    setSaveError(null);
    try {
      await rest("DELETE", `/api/config/${kind.domain}/config/${encodeURIComponent(knownId)}`);
      navigate(kind.base);
    } catch (err) {
      setSaveError(err);
    }
  }

  async function run() {
    setRunError(null);
    try {
      await kind.run(props.entityId, true);
      setTraceVersion((v) => v + 1);
    } catch (err) {
      setRunError(err);
    }
  }

  const name = isNew ? `New ${kind.noun}` : entity ? friendlyName(entity, props.entityId) : props.entityId;
  return (
    <section class="stack">
      <p>
        <Link href={kind.base}>← All {kind.title.toLowerCase()}</Link>
      </p>
      <div class="page-head">
        <h1>{name}</h1>
        <div class="actions">
          {isNew ? null : (
            <>
              {canControl.value ? (
                <button type="button" class="primary" onClick={run}>
                  Run now
                </button>
              ) : null}
              {canManage.value ? (
                <button type="button" class="secondary" onClick={duplicate} disabled={original === null}>
                  Duplicate
                </button>
              ) : null}
              {editable && canManage.value ? (
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
          {kind.toggles ? (entity.state === "on" ? "Enabled" : "Disabled") : entity.state === "on" ? "Running" : "Idle"} · last
          triggered {relativeTime(entity.attributes.last_triggered)}
        </p>
      ) : null}
      <div class="card stack">
        <h2>Configuration</h2>
        {loadError ? (
          <ErrorText error={loadError} what={`Reading a ${kind.noun}'s configuration`} />
        ) : original === null ? (
          <Spinner label="Loading configuration" />
        ) : (
          <>
            <YamlEditor value={original} onChange={onChange} problems={problems} label={`YAML of ${name}`} />
            <div class="row">
              {editable && canManage.value ? (
                <button type="button" class="primary" onClick={save} disabled={saveState === "saving"}>
                  {saveState === "saving" ? "Saving…" : "Save"}
                </button>
              ) : null}
              {kind.validate ? (
                <button type="button" onClick={() => check(text)}>
                  Check
                </button>
              ) : null}
              <span role="status" data-testid="check-state" class={checkState === "invalid" ? "error" : "muted"}>
                {saveState === "saved"
                  ? `Saved to ${kind.file}.`
                  : checkState === "checking"
                    ? "Checking…"
                    : checkState === "valid"
                      ? `The hub accepts this ${kind.noun}.`
                      : checkState === "invalid"
                        ? `${problems.length} problem${problems.length === 1 ? "" : "s"}`
                        : ""}
              </span>
            </div>
            {saveError && problems.length ? (
              <p class="error" role="alert">
                Not saved: {kind.file} would have {problems.length} problem{problems.length === 1 ? "" : "s"}.
              </p>
            ) : (
              <ErrorText error={saveError} />
            )}
            {checkState === "unavailable" ? <NotAvailableNotice what={`Checking ${kind.title.toLowerCase()}`} /> : null}
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
                This {kind.noun} is not in {kind.file} (it comes from a package, a folder, or has no id): edit it in its file,
                then{" "}
                <button type="button" class="link-button" onClick={() => callService(kind.domain, "reload")}>
                  reload {kind.title.toLowerCase()}
                </button>
                .
              </p>
            )}
          </>
        )}
      </div>
      {/* Traces are kept by the item's id, known once its entity has arrived. */}
      {isNew || !entity || !knownId ? null : (
        <Traces
          domain={kind.domain}
          itemId={knownId}
          version={traceVersion}
          entityVersion={entity?.attributes?.last_triggered as string}
        />
      )}
    </section>
  );
}

/**
 * The problems of a refused save, one `file:line: key: what is wrong` a line, as check-config words
 * them. The line is in the file the hub would have written; in the editor, each is marked at the
 * first line that holds its key's last part (`script.x.sequence.delay` -> `delay:`), if any.
 */
function savedProblems(error: unknown, text: string): Problem[] {
  const message = error instanceof Error ? error.message : "";
  const lines = text.split("\n");
  const found: Problem[] = [];
  for (const raw of message.split("\n")) {
    const match = /([^\s:]+\.ya?ml:\d+:\s*(\S+?):\s.*)$/.exec(raw);
    if (!match) continue;
    const parts = match[2].split(".");
    // domain.item_id alone is the whole item: no line of its own in the editor.
    const key = parts.length > 2 ? parts[parts.length - 1].replace(/\[\d+\]$/, "") : "";
    const index = key ? lines.findIndex((line) => new RegExp(`^\\s*(- )?${key.replace(/\W/g, "\\$&")}:`).test(line)) : -1;
    found.push({ line: index >= 0 ? index + 1 : null, key: match[2], message: match[1].trim() });
  }
  return found;
}

interface TraceSummary {
  run_id: string;
  state: string;
  script_execution?: string;
  timestamp: { start: string; finish: string | null };
  trigger?: string;
  error?: string;
}

function Traces(props: { domain: string; itemId: string; version: number; entityVersion?: string }) {
  const [list, setList] = useState<TraceSummary[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const selected = query("run");
  useEffect(() => {
    if (status.value !== "connected") return;
    ws<TraceSummary[]>({ type: "trace/list", domain: props.domain, item_id: props.itemId }).then(
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
      {selected ? <TraceView domain={props.domain} itemId={props.itemId} runId={selected} /> : null}
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

function TraceView(props: { domain: string; itemId: string; runId: string }) {
  const [trace, setTrace] = useState<any>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    // After a reload the page renders before the connection is up: wait for it.
    if (status.value !== "connected") return;
    setTrace(null);
    setError(null);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = () =>
      ws<any>({ type: "trace/get", domain: props.domain, item_id: props.itemId, run_id: props.runId }).then((result) => {
        setTrace(result);
        // A run still going has more steps to come: look again shortly.
        if (result?.state === "running") timer = setTimeout(load, 500);
      }, setError);
    load();
    return () => clearTimeout(timer);
  }, [props.domain, props.itemId, props.runId, status.value]);
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
