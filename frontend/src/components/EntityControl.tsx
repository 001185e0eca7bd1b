import { useEffect, useRef, useState } from "preact/hooks";
import type { HassEntity } from "home-assistant-js-websocket";
import { callService } from "../lib/hub";
import { canControl } from "../lib/roles";
import { entitySignal, friendlyName } from "../lib/entities";
import { relativeTime } from "./common";

const CONFIRM_TIMEOUT_MS = 10_000;

interface Pending {
  label: string;
  confirmed: (entity: HassEntity) => boolean;
}

/** Track one change the person asked for until the hub's state shows it (or it fails). */
function usePending(entity: HassEntity | undefined) {
  const [pending, setPending] = useState<Pending | null>(null);
  const [error, setError] = useState("");
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  useEffect(() => {
    if (pending && entity && pending.confirmed(entity)) {
      clearTimeout(timer.current);
      setPending(null);
    }
  }, [entity, pending]);
  useEffect(() => () => clearTimeout(timer.current), []);

  async function run(next: Pending, call: () => Promise<unknown>) {
    setError("");
    setPending(next);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => {
      setPending(null);
      setError("The hub did not confirm the change.");
    }, CONFIRM_TIMEOUT_MS);
    try {
      await call();
    } catch (err) {
      clearTimeout(timer.current);
      setPending(null);
      setError(err instanceof Error ? err.message : String(err));
    }
  }
  return { pending, error, run };
}

function unit(entity: HassEntity): string {
  const value = entity.attributes.unit_of_measurement;
  return value ? ` ${value}` : "";
}

function displayState(entity: HassEntity, domain: string): string {
  if (entity.state === "unavailable" || entity.state === "unknown") {
    return domain === "button" && entity.state === "unknown" ? "never pressed" : entity.state;
  }
  if (domain === "button") return `pressed ${relativeTime(entity.state)}`;
  const numeric = Number(entity.state);
  if (entity.state !== "" && Number.isFinite(numeric) && entity.attributes.unit_of_measurement) {
    // Sensors report more digits than a person reads; two decimals are plenty.
    const rounded = String(Math.round(numeric * 100) / 100);
    return `${rounded}${unit(entity)}`;
  }
  return `${entity.state}${unit(entity)}`;
}

export function EntityRow(props: { entityId: string; devicePrefix?: string }) {
  const entity = entitySignal(props.entityId).value;
  const { pending, error, run } = usePending(entity);
  if (!entity) {
    return (
      <li class="entity missing" data-entity-id={props.entityId}>
        <span class="entity-name">{props.entityId}</span>
        <span class="entity-state">removed</span>
      </li>
    );
  }
  const fullName = friendlyName(entity, props.entityId);
  // Inside a device's card "Relay node Relay" reads better as "Relay".
  const prefix = props.devicePrefix ? props.devicePrefix + " " : "";
  const name = prefix && fullName.startsWith(prefix) && fullName.length > prefix.length ? fullName.slice(prefix.length) : fullName;
  const unavailable = entity.state === "unavailable";
  const domain = props.entityId.split(".")[0];
  return (
    <li
      class={`entity${unavailable ? " unavailable" : ""}${pending ? " pending" : ""}`}
      data-entity-id={props.entityId}
      aria-busy={pending ? "true" : "false"}
    >
      <span class="entity-name" title={props.entityId}>
        {name}
      </span>
      <span class="entity-state" data-testid="state">
        {displayState(entity, domain)}
      </span>
      <span class="entity-control">
        {/* A read-only user sees the state; the hub would refuse the change. */}
        {canControl.value ? <Control domain={domain} entity={entity} name={fullName} disabled={unavailable || !!pending} run={run} /> : null}
      </span>
      {pending ? (
        <span class="entity-note pending-note" role="status" data-testid="pending">
          {pending.label}
        </span>
      ) : null}
      {error ? (
        <span class="entity-note error" role="alert">
          {error}
        </span>
      ) : null}
    </li>
  );
}

interface ControlProps {
  domain: string;
  entity: HassEntity;
  name: string;
  disabled: boolean;
  run: (pending: Pending, call: () => Promise<unknown>) => Promise<void>;
}

function Control(props: ControlProps) {
  const { domain, entity, name, disabled, run } = props;
  const target = { entity_id: entity.entity_id };
  switch (domain) {
    case "switch":
    case "input_boolean":
    case "light":
    case "fan": {
      const on = entity.state === "on";
      const wanted = on ? "off" : "on";
      return (
        <button
          type="button"
          role="switch"
          aria-checked={on}
          aria-label={`${name}: turn ${wanted}`}
          class={`toggle${on ? " on" : ""}`}
          disabled={disabled}
          onClick={() =>
            run({ label: `Turning ${wanted}…`, confirmed: (e) => e.state === wanted }, () =>
              callService(domain, on ? "turn_off" : "turn_on", {}, target),
            )
          }
        >
          <span class="knob" aria-hidden="true" />
        </button>
      );
    }
    case "number":
    case "input_number":
      return <NumberControl {...props} />;
    case "select":
    case "input_select": {
      const options: string[] = Array.isArray(entity.attributes.options) ? entity.attributes.options : [];
      return (
        <select
          aria-label={name}
          value={entity.state}
          disabled={disabled}
          onChange={(event) => {
            const option = event.currentTarget.value;
            run({ label: `Selecting ${option}…`, confirmed: (e) => e.state === option }, () =>
              callService(domain, "select_option", { option }, target),
            );
          }}
        >
          {options.includes(entity.state) ? null : <option value={entity.state}>{entity.state}</option>}
          {options.map((option) => (
            <option key={option} value={option}>
              {option}
            </option>
          ))}
        </select>
      );
    }
    case "text":
    case "input_text":
      return <TextControl {...props} />;
    case "button":
    case "input_button": {
      const before = entity.state;
      return (
        <button
          type="button"
          class="secondary"
          disabled={disabled}
          aria-label={`Press ${name}`}
          onClick={() => run({ label: "Pressing…", confirmed: (e) => e.state !== before }, () => callService(domain, "press", {}, target))}
        >
          Press
        </button>
      );
    }
    default:
      return null;
  }
}

function NumberControl({ domain, entity, name, disabled, run }: ControlProps) {
  const min = Number(entity.attributes.min ?? 0);
  const max = Number(entity.attributes.max ?? 100);
  const step = Number(entity.attributes.step ?? 1);
  const [draft, setDraft] = useState<string | null>(null);
  const shown = draft ?? entity.state;
  function commit(raw: string) {
    const value = Number(raw);
    setDraft(null);
    if (!Number.isFinite(value) || raw === "" || Number(entity.state) === value) return;
    run({ label: `Setting ${value}…`, confirmed: (e) => Number(e.state) === value }, () =>
      callService(domain, "set_value", { value }, { entity_id: entity.entity_id }),
    );
  }
  return (
    <span class="number-control">
      <input
        type="range"
        aria-label={`${name} slider`}
        min={min}
        max={max}
        step={step}
        value={Number.isFinite(Number(shown)) ? shown : min}
        disabled={disabled}
        onInput={(e) => setDraft(e.currentTarget.value)}
        onChange={(e) => commit(e.currentTarget.value)}
      />
      <input
        type="number"
        aria-label={name}
        min={min}
        max={max}
        step={step}
        value={shown}
        disabled={disabled}
        onInput={(e) => setDraft(e.currentTarget.value)}
        onChange={(e) => commit(e.currentTarget.value)}
      />
    </span>
  );
}

function TextControl({ domain, entity, name, disabled, run }: ControlProps) {
  const [draft, setDraft] = useState<string | null>(null);
  const maxLength = Number(entity.attributes.max ?? 255);
  return (
    <form
      class="text-control"
      onSubmit={(event) => {
        event.preventDefault();
        const value = draft ?? entity.state;
        setDraft(null);
        run({ label: "Saving…", confirmed: (e) => e.state === value }, () =>
          callService(domain, "set_value", { value }, { entity_id: entity.entity_id }),
        );
      }}
    >
      <input
        aria-label={name}
        value={draft ?? entity.state}
        maxLength={maxLength}
        disabled={disabled}
        onInput={(e) => setDraft(e.currentTarget.value)}
      />
      <button type="submit" class="secondary" disabled={disabled || draft === null}>
        Set
      </button>
    </form>
  );
}
