import { useState } from "preact/hooks";
import { ItemForm, useItemForm } from "../components/ItemForm";
import { formatTime } from "../components/common";
import { apiItemsPage } from "./ApiItems";

const DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] as const;
type Day = (typeof DAYS)[number];
const DAY_LABELS: Record<Day, string> = {
  monday: "Monday", tuesday: "Tuesday", wednesday: "Wednesday", thursday: "Thursday", friday: "Friday", saturday: "Saturday", sunday: "Sunday",
};

interface Block {
  from: string;
  to: string;
  data?: Record<string, unknown>;
}

interface Schedule extends Partial<Record<Day, Block[]>> {
  id: string;
  entity_id: string;
  name: string;
  icon: string | null;
  kind: "weekly" | "cron";
  source: "storage" | "yaml";
  editable: boolean;
  enabled: boolean;
  state: string | null;
  next_event: string | null;
  cron?: string | null;
  interval?: number | null;
}

function describeBlocks(schedule: Schedule): string {
  if (schedule.kind === "cron") return schedule.cron ? `cron ${schedule.cron}` : `every ${schedule.interval} s`;
  const parts = DAYS.filter((day) => schedule[day]?.length).map(
    (day) => `${DAY_LABELS[day].slice(0, 3)} ${schedule[day]!.map((b) => `${b.from.slice(0, 5)}–${b.to.slice(0, 5)}`).join(", ")}`,
  );
  return parts.length ? parts.join(" · ") : "no time blocks";
}

function ScheduleSummary(props: { item: Schedule }) {
  const schedule = props.item;
  const badge = !schedule.enabled ? "off by hand" : schedule.kind === "weekly" ? (schedule.state === "on" ? "on" : "off") : "scheduled";
  return (
    <div>
      <h2>
        {schedule.name} <span class={`badge ${schedule.enabled && schedule.state === "on" ? "online" : "unknown"}`}>{badge}</span>
      </h2>
      <p class="muted">
        {describeBlocks(schedule)}
        {schedule.enabled && schedule.next_event ? ` · next change ${formatTime(schedule.next_event)}` : ""}
        {schedule.source === "yaml" ? " · configuration.yaml" : ""}
      </p>
    </div>
  );
}

function ScheduleDetails(props: { item: Schedule }) {
  return props.item.kind === "weekly" ? <WeekBars schedule={props.item} /> : null;
}

/** Weekly schedules over /api/v1/schedules, switched off and on by every role but read-only. */
export default apiItemsPage<Schedule>({
  title: "Schedules",
  noun: "schedule",
  path: "/api/v1/schedules",
  empty: "No schedules yet. A schedule is on during its weekly time blocks; automations can follow it.",
  Summary: ScheduleSummary,
  Details: ScheduleDetails,
  Form: (props) => <ScheduleForm schedule={props.item} onDone={props.onDone} />,
  action: (schedule) =>
    schedule.enabled ? { label: "Switch off", suffix: "/disable", primary: false } : { label: "Switch on", suffix: "/enable", primary: true },
});

function minutes(time: string): number {
  const [h, m] = time.split(":").map(Number);
  return h * 60 + m;
}

/** The week at a glance: one track per day, a bar where the schedule is on. */
function WeekBars(props: { schedule: Schedule }) {
  return (
    <div class={`week-bars${props.schedule.enabled ? "" : " off"}`} aria-hidden="true">
      {DAYS.map((day) => [
        <span key={`${day}-label`}>{DAY_LABELS[day].slice(0, 3)}</span>,
        <div key={`${day}-track`} class="week-track">
          {(props.schedule[day] ?? []).map((b, i) => {
            const start = minutes(b.from);
            const end = b.to.startsWith("24") ? 1440 : minutes(b.to);
            return <span key={i} style={{ left: `${(start / 1440) * 100}%`, width: `${((end - start) / 1440) * 100}%` }} />;
          })}
        </div>,
      ])}
    </div>
  );
}

function ScheduleForm(props: { schedule: Schedule | null; onDone: () => void }) {
  const editing = props.schedule;
  const [name, setName] = useState(editing?.name ?? "");
  const [blocks, setBlocks] = useState<Record<Day, Block[]>>(() => {
    const initial = {} as Record<Day, Block[]>;
    for (const day of DAYS) initial[day] = (editing?.[day] ?? []).map((b) => ({ ...b, from: b.from.slice(0, 5), to: b.to.startsWith("24") ? "00:00" : b.to.slice(0, 5) }));
    return initial;
  });
  const form = useItemForm("/api/v1/schedules", editing, props.onDone);
  const { problems } = form;

  function change(day: Day, index: number, part: Partial<Block>) {
    setBlocks({ ...blocks, [day]: blocks[day].map((b, i) => (i === index ? { ...b, ...part } : b)) });
  }

  function copyToWeekdays(day: Day) {
    const next = { ...blocks };
    for (const other of DAYS.slice(0, 5)) next[other] = blocks[day].map((b) => ({ ...b }));
    setBlocks(next);
  }

  function body() {
    const body: Record<string, unknown> = { name: name.trim() };
    for (const day of DAYS) body[day] = blocks[day].map((b) => ({ ...b, to: b.to === "00:00" ? "24:00" : b.to }));
    return body;
  }

  return (
    <ItemForm form={form} noun="schedule" title={editing ? `Edit ${editing.name}` : "New schedule"} name={name} onName={setName} body={body} onCancel={props.onDone}>
      <p class="muted">The schedule is on from each block's start up to its end; an end of 00:00 is midnight at the end of the day.</p>
      <div class="week">
        {DAYS.map((day) => (
          <fieldset class="blocks" key={day} data-day={day}>
            <legend>{DAY_LABELS[day]}</legend>
            {blocks[day].length === 0 ? <p class="muted">Off all day.</p> : null}
            {blocks[day].map((block, index) => {
              const at = `/${day}/${index}`;
              const problem = problems[`${at}/from`] ?? problems[`${at}/to`] ?? problems[at];
              return (
                <div class="block-row" key={index}>
                  <label>
                    From
                    <input type="time" required value={block.from} aria-label={`${DAY_LABELS[day]} block ${index + 1} from`}
                      aria-invalid={problems[`${at}/from`] ? "true" : undefined} onInput={(e) => change(day, index, { from: e.currentTarget.value })} />
                  </label>
                  <label>
                    To
                    <input type="time" required value={block.to} aria-label={`${DAY_LABELS[day]} block ${index + 1} to`}
                      aria-invalid={problems[`${at}/to`] ? "true" : undefined} onInput={(e) => change(day, index, { to: e.currentTarget.value })} />
                  </label>
                  <button type="button" class="secondary" aria-label={`Remove ${DAY_LABELS[day]} block ${index + 1}`}
                    onClick={() => setBlocks({ ...blocks, [day]: blocks[day].filter((_, i) => i !== index) })}>
                    Remove
                  </button>
                  {problem ? <span class="error block-error">{problem}</span> : null}
                </div>
              );
            })}
            <div class="actions">
              <button type="button" class="secondary" aria-label={`Add a block on ${DAY_LABELS[day]}`}
                onClick={() => setBlocks({ ...blocks, [day]: [...blocks[day], { from: "08:00", to: "17:00" }] })}>
                Add block
              </button>
              {day === "monday" && blocks.monday.length ? (
                <button type="button" class="secondary" onClick={() => copyToWeekdays("monday")}>
                  Copy to Tuesday–Friday
                </button>
              ) : null}
            </div>
          </fieldset>
        ))}
      </div>
    </ItemForm>
  );
}
