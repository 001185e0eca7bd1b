import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { stringify } from "yaml";
import { ErrorText, Link, NotAvailableNotice, Spinner, formatTime, relativeTime } from "../components/common";
import { Problem, YamlEditor } from "../components/YamlEditor";
import { entityIds, entitySignal, friendlyName } from "../lib/entities";
import { NotAvailable, callService, status, ws } from "../lib/hub";
import { navigate, pathname, query } from "../lib/router";

export default function Automations() {
  const current = pathname();
  const entityId = current.startsWith("/automations/") ? decodeURIComponent(current.slice("/automations/".length)) : "";
  return entityId ? <AutomationDetail entityId={entityId} /> : <AutomationList />;
}

function AutomationList() {
  const ids = entityIds.value.filter((id) => id.startsWith("automation."));
  return (
    <section>
      <h1>Automations</h1>
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
  const entity = entitySignal(props.entityId).value;
  const [original, setOriginal] = useState<string | null>(null);
  const [text, setText] = useState("");
  const [loadError, setLoadError] = useState<unknown>(null);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [checkState, setCheckState] = useState<"idle" | "checking" | "valid" | "invalid" | "unavailable">("idle");
  const [runError, setRunError] = useState<unknown>(null);
  const [traceVersion, setTraceVersion] = useState(0);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const itemId = (entity?.attributes?.id as string) || props.entityId.split(".")[1];

  useEffect(() => {
    if (status.value !== "connected") return;
    ws<{ config: unknown }>({ type: "automation/config", entity_id: props.entityId }).then(
      (result) => {
        const yamlText = stringify(result.config);
        setOriginal(yamlText);
        setText(yamlText);
      },
      (err) => setLoadError(err),
    );
  }, [props.entityId, status.value]);

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
    clearTimeout(timer.current);
    // Check after a pause in typing: every keystroke would flood the hub.
    timer.current = setTimeout(() => check(next), 500);
  }
  useEffect(() => () => clearTimeout(timer.current), []);

  async function run() {
    setRunError(null);
    try {
      await callService("automation", "trigger", { skip_condition: true }, { entity_id: props.entityId });
      setTraceVersion((v) => v + 1);
    } catch (err) {
      setRunError(err);
    }
  }

  const name = entity ? friendlyName(entity, props.entityId) : props.entityId;
  return (
    <section class="stack">
      <p>
        <Link href="/automations">← All automations</Link>
      </p>
      <div class="page-head">
        <h1>{name}</h1>
        <div class="actions">
          <button type="button" class="primary" onClick={run}>
            Run now
          </button>
        </div>
      </div>
      <ErrorText error={runError} />
      {entity ? (
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
              <button type="button" onClick={() => check(text)}>
                Check
              </button>
              <span role="status" data-testid="check-state" class={checkState === "invalid" ? "error" : "muted"}>
                {checkState === "checking"
                  ? "Checking…"
                  : checkState === "valid"
                    ? "The hub accepts this automation."
                    : checkState === "invalid"
                      ? `${problems.length} problem${problems.length === 1 ? "" : "s"}`
                      : ""}
              </span>
            </div>
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
            <p class="muted">
              Saving from the editor is not available on this hub yet: copy the checked YAML into automations.yaml, then
              reload automations.{" "}
              <button type="button" class="link-button" onClick={() => callService("automation", "reload")}>
                Reload automations
              </button>
            </p>
          </>
        )}
      </div>
      <Traces itemId={itemId} version={traceVersion} entityVersion={entity?.attributes?.last_triggered as string} />
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
    setTrace(null);
    ws<any>({ type: "trace/get", domain: "automation", item_id: props.itemId, run_id: props.runId }).then(setTrace, setError);
  }, [props.itemId, props.runId]);
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
