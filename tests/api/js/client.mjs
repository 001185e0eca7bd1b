// Drives a running hub with Home Assistant's own WebSocket client library.
// Usage: HUB_URL=http://127.0.0.1:8123 HUB_TOKEN=... node client.mjs
// Protocol with the test on stdin/stdout, one line each:
//   -> "STATES <json list of entity_ids>"   all states arrived through subscribeEntities
//   <- "CHANGE <entity_id> <state>"          the test changed a state; we wait for it
//   -> "CHANGED"                             it arrived
//   -> "TOGGLED <state>"                     callService switch.toggle, and the change arrived
//   -> "REGISTRY <json {entities, devices}>"  config/entity_registry/list, config/device_registry/list
//   -> "AREAS <json {areas, deviceAreas}>"   config/area_registry/list, and the devices' area_id
//   -> "RENDERED <result>"                   render_template (as the admin) rendered the relay's state
//   -> "RERENDERED <result>"                 ... and rendered again when the relay changed
import WebSocket from "ws";
import readline from "node:readline";
import {
  callService,
  createConnection,
  createLongLivedTokenAuth,
  subscribeEntities,
} from "home-assistant-js-websocket";

globalThis.WebSocket = WebSocket; // Node 20 has no WebSocket global

const fail = (message) => {
  console.error(`FAIL ${message}`);
  process.exit(1);
};
setTimeout(() => fail("timed out"), 30000).unref();

let entities = {};
const waiters = [];
const settle = () => {
  for (const waiter of [...waiters]) {
    if (waiter.test(entities)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  }
};
const until = (test) =>
  new Promise((resolve) => {
    waiters.push({ test, resolve });
    settle();
  });

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

try {
  const auth = createLongLivedTokenAuth(process.env.HUB_URL, process.env.HUB_TOKEN);
  const connection = await createConnection({ auth });
  subscribeEntities(connection, (updated) => {
    entities = updated;
    settle();
  });
  await until((e) => Object.keys(e).length > 0);
  console.log(`STATES ${JSON.stringify(Object.keys(entities).sort())}`);

  const { value } = await lines.next();
  const [, entityId, state] = value.split(" ");
  await until((e) => e[entityId] && e[entityId].state === state);
  console.log("CHANGED");

  const before = entities["switch.test_relay"].state;
  await callService(connection, "switch", "toggle", {}, { entity_id: "switch.test_relay" });
  await until((e) => e["switch.test_relay"].state !== before);
  console.log(`TOGGLED ${entities["switch.test_relay"].state}`);

  const registryEntities = await connection.sendMessagePromise({ type: "config/entity_registry/list" });
  const devices = await connection.sendMessagePromise({ type: "config/device_registry/list" });
  console.log(`REGISTRY ${JSON.stringify({
    entities: registryEntities.map((e) => e.entity_id).sort(),
    devices: devices.map((d) => d.name).sort(),
  })}`);
  const areas = await connection.sendMessagePromise({ type: "config/area_registry/list" });
  console.log(`AREAS ${JSON.stringify({
    areas: areas.map((a) => [a.area_id, a.name, a.aliases]),
    deviceAreas: devices.map((d) => d.area_id),
  })}`);
  connection.close();

  const admin = await createConnection({
    auth: createLongLivedTokenAuth(process.env.HUB_URL, process.env.HUB_ADMIN_TOKEN),
  });
  const renders = [];
  let wake = null;
  await admin.subscribeMessage(
    (message) => {
      renders.push(message.result);
      if (wake) wake();
    },
    { type: "render_template", template: "Relay is {{ states('switch.test_relay') }}" },
  );
  const nextRender = (count) =>
    new Promise((resolve) => {
      wake = () => renders.length >= count && resolve(renders[count - 1]);
      wake();
    });
  console.log(`RENDERED ${await nextRender(1)}`);
  await callService(admin, "switch", "toggle", {}, { entity_id: "switch.test_relay" });
  console.log(`RERENDERED ${await nextRender(2)}`);
  admin.close();
  process.exit(0);
} catch (err) {
  fail(typeof err === "number" ? `error code ${err}` : String(err && err.stack || err));
}
