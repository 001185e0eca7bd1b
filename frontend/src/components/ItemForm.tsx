import { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { fieldErrors, rest } from "../lib/hub";
import { ErrorText } from "./common";

/** What useItemForm gives a form: its state while saving, and the submit handler. */
export interface ItemFormState {
  /** The last save's error, until the next save. */
  error: unknown;
  /** The fields the hub refused, by JSON pointer ("/name", "/monday/0/to"), and why. */
  problems: Record<string, string>;
  busy: boolean;
  /** The form's onSubmit: saves body() (read when submitted). */
  submit: (body: () => unknown) => (event: Event) => void;
}

/**
 * Saving the form of an /api/v1 item (a scene, a schedule): POST <path> makes a new one,
 * PUT <path>/<id> changes `editing`; onDone once the hub took it, the hub's field errors otherwise.
 */
export function useItemForm(path: string, editing: { id: string } | null, onDone: () => void): ItemFormState {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function save(body: unknown) {
    setError(null);
    setBusy(true);
    try {
      if (editing) await rest("PUT", `${path}/${encodeURIComponent(editing.id)}`, body);
      else await rest("POST", path, body);
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return {
    error,
    problems: fieldErrors(error),
    busy,
    submit: (body) => (event) => {
      event.preventDefault();
      void save(body());
    },
  };
}

/**
 * The form around an item's own fields: its title, the Name field, what went wrong, Save and Cancel.
 * `noun` names it ("scene": "New scene", "Save scene", the input "scene-name").
 */
export function ItemForm(props: {
  form: ItemFormState;
  noun: string;
  title: string;
  name: string;
  onName: (name: string) => void;
  body: () => unknown;
  onCancel: () => void;
  children: ComponentChildren;
}) {
  const { form, noun } = props;
  const { problems } = form;
  return (
    <form class="card stack" onSubmit={form.submit(props.body)} aria-labelledby={`${noun}-form-title`}>
      <h2 id={`${noun}-form-title`}>{props.title}</h2>
      <label>
        Name
        <input name={`${noun}-name`} required value={props.name} aria-invalid={problems["/name"] ? "true" : undefined} onInput={(e) => props.onName(e.currentTarget.value)} />
        {problems["/name"] ? <span class="error">{problems["/name"]}</span> : null}
      </label>
      {props.children}
      {Object.keys(problems).length === 0 ? <ErrorText error={form.error} /> : <p class="error" role="alert">Please fix the fields marked above.</p>}
      <div class="actions">
        <button type="submit" class="primary" disabled={form.busy}>
          {form.busy ? "Saving…" : `Save ${noun}`}
        </button>
        <button type="button" class="secondary" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
