// Add device: register a device's account on the hub's broker (POST /api/v1/devices) and show
// what to put into it: our firmware's config.json, Tasmota's console line, ESPHome's and
// Zigbee2MQTT's YAML. The password is in the answer only, so it is shown this once.
import { useState } from "preact/hooks";
import { ErrorText, Spinner } from "../components/common";
import { rest } from "../lib/hub";

const KINDS: { value: string; label: string; hint: string }[] = [
  { value: "powerhub", label: "powerhub firmware (ESP8266/ESP32 + PZEM)", hint: "The node id becomes its MQTT client id and topics devices/<id>/…" },
  { value: "tasmota", label: "Tasmota", hint: "The node id is the device's Topic." },
  { value: "esphome", label: "ESPHome", hint: "The node id is the ESPHome node name (its topic prefix)." },
  { value: "zigbee2mqtt", label: "Zigbee2MQTT bridge", hint: "The node id is the bridge's base topic, usually zigbee2mqtt." },
  { value: "generic", label: "Other MQTT device", hint: "The device may use <id>/# and its discovery topics." },
];

interface Answer {
  id: string;
  node_id: string;
  name: string;
  kind: string;
  mqtt: {
    host: string;
    port: number;
    tls_port: number | null;
    ca_fingerprint: string | null;
    fingerprint: string | null;
    username: string;
    password: string;
  };
  topics: { publish: string[]; subscribe: string[] };
  setup: Record<string, unknown>;
}

function CopyBlock(props: { title: string; text: string; testid: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.text);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <div class="stack">
      <div class="page-head">
        <h3>{props.title}</h3>
        <button type="button" onClick={copy}>
          {copied ? "Copied" : "Copy"}
        </button>
      </div>
      <pre class="code" data-testid={props.testid}>
        {props.text}
      </pre>
    </div>
  );
}

function Result(props: { answer: Answer; onAnother: () => void }) {
  const { answer } = props;
  const m = answer.mqtt;
  const setup = answer.setup;
  return (
    <div class="stack" data-testid="add-device-result">
      <p class="notice" role="status">
        <strong>{answer.name}</strong> can now log in. Its password is shown only now: copy what the device needs before you leave this page.
      </p>
      <div class="card stack">
        <h2>Connection</h2>
        <div class="table-wrap">
        <table>
          <tbody>
            <tr><th scope="row">Host</th><td class="mono">{m.host}</td></tr>
            <tr><th scope="row">Port</th><td class="mono">{m.port}</td></tr>
            {m.tls_port ? <tr><th scope="row">TLS port</th><td class="mono">{m.tls_port}</td></tr> : null}
            <tr><th scope="row">Username</th><td class="mono">{m.username}</td></tr>
            <tr><th scope="row">Password</th><td class="mono" data-testid="device-password">{m.password}</td></tr>
            {m.ca_fingerprint ? <tr><th scope="row">CA SHA-256</th><td class="mono" style={{ wordBreak: "break-all" }}>{m.ca_fingerprint}</td></tr> : null}
            {m.fingerprint ? <tr><th scope="row">Broker certificate SHA-256</th><td class="mono" style={{ wordBreak: "break-all" }}>{m.fingerprint}</td></tr> : null}
          </tbody>
        </table>
        </div>
      </div>
      <div class="card stack">
        <h2>Settings for the device</h2>
        {"config.json" in setup ? (
          <>
            <p>Fill in your Wi-Fi and the PZEM and relay pins, then copy it to the node as <span class="mono">config.json</span>. The simulator runs it as it is: <span class="mono">python -m firmware.sim --config config.json</span>.</p>
            <CopyBlock title="config.json" text={JSON.stringify(setup["config.json"], null, 2)} testid="setup-config-json" />
          </>
        ) : null}
        {"console" in setup ? (
          <>
            <p>Paste into the Tasmota web page's Console. The device restarts and announces itself.</p>
            <CopyBlock title="Tasmota console" text={(setup.console as string[]).join("\n")} testid="setup-console" />
          </>
        ) : null}
        {"yaml" in setup ? (
          <>
            <p>{answer.kind === "esphome" ? "Add to the node's ESPHome YAML and flash it." : "Put into Zigbee2MQTT's configuration.yaml and restart it."}</p>
            <CopyBlock title="YAML" text={String(setup.yaml)} testid="setup-yaml" />
          </>
        ) : null}
        {"settings" in setup ? <CopyBlock title="Settings" text={JSON.stringify(setup.settings, null, 2)} testid="setup-settings" /> : null}
      </div>
      <details class="card">
        <summary>Topics this device may use</summary>
        <p>Publish: <span class="mono">{answer.topics.publish.join("  ")}</span></p>
        <p>Subscribe: <span class="mono">{answer.topics.subscribe.join("  ")}</span></p>
      </details>
      <div class="actions">
        <button type="button" onClick={props.onAnother}>Add another device</button>
      </div>
    </div>
  );
}

export default function AddDevice() {
  const [nodeId, setNodeId] = useState("");
  const [name, setName] = useState("");
  const [location, setLocation] = useState("");
  const [kind, setKind] = useState("powerhub");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [answer, setAnswer] = useState<Answer | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, string> = { node_id: nodeId.trim(), kind };
      if (name.trim()) body.name = name.trim();
      if (location.trim()) body.location = location.trim();
      setAnswer(await rest<Answer>("POST", "/api/v1/devices", body));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const hint = KINDS.find((k) => k.value === kind)?.hint ?? "";
  return (
    <section class="stack">
      <h1>Add device</h1>
      {answer ? (
        <Result
          answer={answer}
          onAnother={() => {
            setAnswer(null);
            setNodeId("");
            setName("");
            setLocation("");
          }}
        />
      ) : (
        <form class="card stack" onSubmit={submit} aria-label="Add device">
          <p>The device gets its own account on the hub's MQTT broker and may use only its own topics.</p>
          <label>
            Kind
            <select value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
              {KINDS.map((k) => (
                <option key={k.value} value={k.value}>{k.label}</option>
              ))}
            </select>
          </label>
          <label>
            Node id
            <input value={nodeId} required pattern="[A-Za-z0-9_-]{1,64}" maxLength={64} placeholder="kitchen-1" onInput={(e) => setNodeId(e.currentTarget.value)} />
            <span class="muted">{hint} Letters, digits, _ and -.</span>
          </label>
          <label>
            Name
            <input value={name} maxLength={255} placeholder="Kitchen" onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <label>
            Location
            <input value={location} maxLength={255} placeholder="kitchen" onInput={(e) => setLocation(e.currentTarget.value)} />
          </label>
          <div class="actions">
            <button type="submit" class="primary" disabled={busy}>
              Add device
            </button>
            {busy ? <Spinner label="Adding" /> : null}
          </div>
          <ErrorText error={error} what="Adding the device" />
        </form>
      )}
    </section>
  );
}
