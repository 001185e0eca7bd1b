import { useEffect, useState } from "preact/hooks";
import { ErrorText } from "../components/common";
import { EnergyReport, ReportPlace } from "../components/EnergyReport";
import { BudgetStatus, View, VIEWS, kwh, money } from "../lib/energy";
import { status, ws } from "../lib/hub";
import { navigate, pathname, query } from "../lib/router";

/** Where the page is: ?view=month&date=2024-05-01 survives a reload and the back button. */
function place(): ReportPlace {
  const view = query("view");
  return { view: VIEWS.some(([v]) => v === view) ? (view as View) : "day", date: query("date") };
}

export default function Energy() {
  const current = place();
  // Budgets are read again whenever a report of the present is, so both show the same use.
  const [fresh, setFresh] = useState(0);
  return (
    <section class="stack">
      <h1>Energy</h1>
      <EnergyReport
        place={current}
        onPlace={(next) => {
          const params = new URLSearchParams({ view: next.view, ...(next.date ? { date: next.date } : {}) });
          navigate(`${pathname()}?${params}`, true);
        }}
        onReport={(report) => report.in_progress && setFresh((n) => n + 1)}
      />
      <Budgets fresh={fresh} />
    </section>
  );
}

const BUDGET_REFRESH_MS = 60000;

function Budgets(props: { fresh: number }) {
  const [budgets, setBudgets] = useState<BudgetStatus[] | null>(null);
  const [currency, setCurrency] = useState("EUR");
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (status.value !== "connected") return;
    let cancelled = false;
    const load = () =>
      Promise.all([ws<BudgetStatus[]>({ type: "energy/budgets" }), ws<{ currency: string }>({ type: "energy/info" })]).then(
        ([found, info]) => {
          if (cancelled) return;
          setBudgets(found);
          setCurrency(info.currency);
          setError(null);
        },
        (err) => !cancelled && setError(err),
      );
    load();
    const timer = window.setInterval(load, BUDGET_REFRESH_MS);
    return () => {
      cancelled = true;
      window.clearInterval(timer);
    };
  }, [status.value, props.fresh]);
  if (error) return <ErrorText error={error} what="Budgets" />;
  if (!budgets?.length) return null;
  return (
    <section class="stack" aria-labelledby="budgets-heading">
      <h2 id="budgets-heading">Budgets</h2>
      <div class="grid">
        {budgets.map((budget) => (
          <BudgetCard key={budget.budget} budget={budget} currency={currency} />
        ))}
      </div>
      <p class="muted">
        A projection adds to the use so far the use expected in every hour left: from the forecast model where the budget names one,
        otherwise the same hours averaged over the last days; each budget says how its projection was made.
      </p>
    </section>
  );
}

function BudgetCard(props: { budget: BudgetStatus; currency: string }) {
  const { budget, currency } = props;
  const amount = (value: number) => (budget.measure === "kwh" ? kwh(value) : money(value, currency));
  const percentUsed = budget.percent ?? 0;
  const projected = budget.projection;
  const when = budget.period === "day" ? "today" : "this month";
  const end = budget.period === "day" ? "by midnight" : "by the month's end";
  const over = projected !== null && projected.value > budget.limit;
  const scale = Math.max(100, percentUsed, projected?.percent ?? 0);
  const x = (pct: number) => (Math.min(pct, scale) / scale) * 100;
  return (
    <div class="card stack budget" data-testid={`budget-${budget.budget}`}>
      <div class="budget-head">
        <h3>{budget.title}</h3>
        <span class="muted">{when}</span>
      </div>
      <p class="budget-used">
        <strong>{amount(budget.used)}</strong> of {amount(budget.limit)} ({Math.round(percentUsed)} %)
      </p>
      <svg
        class="budget-bar"
        width="100%"
        height="16"
        viewBox="0 0 100 16"
        preserveAspectRatio="none"
        role="progressbar"
        aria-label={`${budget.title}: ${Math.round(percentUsed)} % used`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(percentUsed)}
      >
        <rect class="track" x={0} y={3} width={100} height={10} rx={0} />
        {projected?.percent ? <rect class={over ? "projected over" : "projected"} x={0} y={3} width={x(projected.percent)} height={10} /> : null}
        <rect class={percentUsed >= 100 ? "used over" : "used"} x={0} y={3} width={x(percentUsed)} height={10} />
        <line class="limit" x1={x(100)} x2={x(100)} y1={0} y2={16} />
      </svg>
      {projected ? (
        <div data-testid="budget-projection">
          <p class={over ? "budget-projection over" : "budget-projection"}>
            Projected {end}: <strong>{amount(projected.value)}</strong>
            {budget.measure === "kwh" ? ` · ${money(projected.cost, currency)}` : ` · ${kwh(projected.kwh)}`}
            {projected.percent !== null ? ` (${Math.round(projected.percent)} % of the limit)` : ""}
          </p>
          <p class="muted">{projected.explanation}</p>
        </div>
      ) : (
        <p class="muted">No projection: the period ends now.</p>
      )}
    </div>
  );
}
