import { useEffect, useState } from "preact/hooks";
import { ErrorText, Spinner } from "../components/common";
import { status, ws } from "../lib/hub";

interface UsageGroup {
  id: string;
  name: string | null;
  entity_ids: string[];
  kwh: number;
  cost: number;
}
interface Usage {
  currency: string;
  groups: UsageGroup[];
  total: { kwh: number; cost: number };
}
interface Budget {
  budget: string;
  period: string;
  used: number;
  limit: number;
  unit: string;
  percent: number | null;
}
interface Info {
  currency: string;
  today_start: string;
  month_start: string;
  budgets: Budget[];
}

const kwh = (value: number | undefined) => `${(value ?? 0).toFixed(2)} kWh`;
const money = (value: number | undefined, currency: string) =>
  new Intl.NumberFormat(undefined, { style: "currency", currency }).format(value ?? 0);

export default function Energy() {
  const [info, setInfo] = useState<Info | null>(null);
  const [today, setToday] = useState<Usage | null>(null);
  const [month, setMonth] = useState<Usage | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (status.value !== "connected") return;
    (async () => {
      try {
        const found = await ws<Info>({ type: "energy/info" });
        setInfo(found);
        const [day, all] = await Promise.all([
          ws<Usage>({ type: "energy/usage", start: found.today_start, group_by: "device", period: "day" }),
          ws<Usage>({ type: "energy/usage", start: found.month_start, group_by: "device", period: "month" }),
        ]);
        setToday(day);
        setMonth(all);
      } catch (err) {
        setError(err);
      }
    })();
  }, [status.value]);

  const currency = info?.currency ?? "EUR";
  const rows = new Map<string, { name: string; today?: UsageGroup; month?: UsageGroup }>();
  for (const group of month?.groups ?? []) rows.set(group.id, { name: group.name ?? group.id, month: group });
  for (const group of today?.groups ?? []) {
    const row = rows.get(group.id) ?? { name: group.name ?? group.id };
    rows.set(group.id, { ...row, today: group });
  }
  return (
    <section>
      <h1>Energy</h1>
      <ErrorText error={error} what="Energy" />
      {!error && (!info || !today || !month) ? <Spinner label="Loading energy" /> : null}
      {info && today && month ? (
        <>
          <div class="card table-wrap">
            <table data-testid="energy-usage">
              <thead>
                <tr>
                  <th scope="col">Device</th>
                  <th scope="col">Today</th>
                  <th scope="col">Cost today</th>
                  <th scope="col">This month</th>
                  <th scope="col">Cost this month</th>
                </tr>
              </thead>
              <tbody>
                {[...rows.entries()].map(([id, row]) => (
                  <tr key={id}>
                    <td>{row.name}</td>
                    <td>{kwh(row.today?.kwh)}</td>
                    <td>{money(row.today?.cost, currency)}</td>
                    <td>{kwh(row.month?.kwh)}</td>
                    <td>{money(row.month?.cost, currency)}</td>
                  </tr>
                ))}
                <tr>
                  <th scope="row">Total</th>
                  <td>{kwh(today.total.kwh)}</td>
                  <td>{money(today.total.cost, currency)}</td>
                  <td>{kwh(month.total.kwh)}</td>
                  <td>{money(month.total.cost, currency)}</td>
                </tr>
              </tbody>
            </table>
          </div>
          {info.budgets.length ? <h2>Budgets</h2> : null}
          {info.budgets.map((budget) => {
            const percent = budget.percent ?? 0;
            const used = budget.unit === "kWh" ? kwh(budget.used) : money(budget.used, currency);
            const limit = budget.unit === "kWh" ? kwh(budget.limit) : money(budget.limit, currency);
            return (
              <div class="card" key={budget.budget} data-testid={`budget-${budget.budget}`}>
                <p>
                  <strong>{budget.budget}</strong> ({budget.period === "day" ? "today" : "this month"}): {used} of {limit} ({percent.toFixed(0)} %)
                </p>
                <div
                  class={percent >= 100 ? "bar over" : "bar"}
                  role="progressbar"
                  aria-label={`${budget.budget} budget`}
                  aria-valuemin={0}
                  aria-valuemax={100}
                  aria-valuenow={Math.round(percent)}
                >
                  <span style={{ width: `${Math.min(100, percent)}%` }} />
                </div>
              </div>
            );
          })}
        </>
      ) : null}
    </section>
  );
}
